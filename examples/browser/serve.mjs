// Serves the page and, as /config.json, the local cloud's edge URL and dev token; exits once
// the page reports (0 when it received its message).
// Usage: node serve.mjs [state file] [port]  (default: the repo's .relaymesh/local.json, port 4600)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const stateFile = process.argv[2] ?? process.env.RELAYMESH_STATE ?? new URL('../../.relaymesh/local.json', import.meta.url).pathname;
const port = Number(process.argv[3] ?? process.env.PORT ?? 4600);
let cloud;
try {
  cloud = JSON.parse(readFileSync(stateFile, 'utf8'));
} catch (error) {
  console.error(`Cannot read the local cloud's state file ${stateFile} (is \`npm start\` running?): ${error.message}`);
  process.exit(1);
}
let bundle;
try {
  bundle = readFileSync(new URL('dist/main.js', import.meta.url));
} catch {
  console.error('dist/main.js is missing: run `npm run build` first');
  process.exit(1);
}

const files = {
  '/': ['text/html', readFileSync(new URL('index.html', import.meta.url))],
  '/dist/main.js': ['text/javascript', bundle],
  '/config.json': ['application/json', JSON.stringify({ edgeUrl: cloud.edgeUrl, devToken: cloud.devToken })],
};

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/done') {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      res.end();
      const outcome = JSON.parse(body);
      console.log(outcome.ok ? `the page received ${JSON.stringify(outcome.data)} from ${outcome.origin}, seq ${outcome.seq}` : `the page failed: ${outcome.error}`);
      process.exitCode = outcome.ok ? 0 : 1;
      server.close();
      server.closeAllConnections();
    });
    return;
  }
  const file = files[req.url];
  if (!file) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
});
server.on('error', (error) => {
  console.error(`Cannot serve the page on port ${port}: ${error.message} (pass another port: node serve.mjs <state file> <port>)`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => console.log(`open http://127.0.0.1:${server.address().port}/ in a browser`));
