// The page's script: the same steps as examples/node-basic, with the browser's own WebSocket.
import { RelaymeshClient } from '@relaymesh/client';

const log = (line) => document.querySelector('#log').append(Object.assign(document.createElement('li'), { textContent: line }));
/** Tells serve.mjs how it went, so it can exit. */
const report = (outcome) => fetch('/done', { method: 'POST', body: JSON.stringify(outcome) });

const { edgeUrl, devToken } = await (await fetch('/config.json')).json();
const client = new RelaymeshClient({ edgeUrl, token: devToken });
client.on('state', ({ previous, current, reason }) => log(`${previous} → ${current}${reason ? `: ${reason.message}` : ''}`));
try {
  await client.connect();
  const id = crypto.randomUUID();
  let arrived;
  const received = new Promise((resolve) => (arrived = resolve));
  await client.subscribe('room:example', (message) => message.id === id && arrived(message));
  await client.publish('room:example', { text: 'hello from a browser' }, { id });
  const { data, origin, seq } = await received;
  log(`received ${JSON.stringify(data)} from ${origin}, seq ${seq}`);
  await report({ ok: true, data, origin, seq });
} catch (error) {
  log(`failed: ${error.message}`);
  await report({ ok: false, error: error.message });
} finally {
  await client.close();
}
