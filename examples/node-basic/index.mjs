// Subscribes, publishes a message with a fresh id, receives it and exits.
// Usage: node index.mjs [state file]  (default: the repo's .relaymesh/local.json, which `npm start` writes)
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { RelaymeshClient } from '@relaymesh/client';

const stateFile = process.argv[2] ?? process.env.RELAYMESH_STATE ?? new URL('../../.relaymesh/local.json', import.meta.url).pathname;
let cloud;
try {
  cloud = JSON.parse(readFileSync(stateFile, 'utf8'));
} catch (error) {
  console.error(`Cannot read the local cloud's state file ${stateFile} (is \`npm start\` running?): ${error.message}`);
  process.exit(1);
}

const client = new RelaymeshClient({ edgeUrl: cloud.edgeUrl, token: cloud.devToken, WebSocket });
client.on('state', ({ previous, current, reason }) => console.log(`${previous} → ${current}${reason ? `: ${reason.message}` : ''}`));
try {
  await client.connect();
  const id = crypto.randomUUID();
  let arrived;
  const received = new Promise((resolve) => (arrived = resolve));
  await client.subscribe('room:example', (message) => message.id === id && arrived(message));
  await client.publish('room:example', { text: 'hello' }, { id });
  const { data, origin, seq } = await received;
  console.log(`received ${JSON.stringify(data)} from ${origin}, seq ${seq}`);
} catch (error) {
  console.error(`The example failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
