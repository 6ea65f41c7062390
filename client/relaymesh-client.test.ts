import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RelaymeshClient, RelaymeshError, type ConnectionState } from './relaymesh-client';

describe('RelaymeshClient options', () => {
  it('refuses bad options with an error naming each bad field', () => {
    expect(() => new RelaymeshClient({ token: '', WebSocket, heartbeatMs: -1 })).toThrow(
      /Invalid RelaymeshClient options: .*token.*heartbeatMs/,
    );
    expect(() => new RelaymeshClient({ token: 't', WebSocket })).toThrow('needs url or edgeUrl');
    expect(() => new RelaymeshClient({ url: 'not a url', token: 't', WebSocket })).toThrow(/url/);
    expect(() => new RelaymeshClient({ url: 'ws://127.0.0.1:1', token: 't', WebSocket, backoff: { baseMs: 500, maxMs: 100 } })).toThrow(
      'maxMs must not be below baseMs',
    );
  });

  it('asks for a WebSocket constructor where there is no global one', () => {
    // Node 20 has none; later Nodes and browsers do: take it away for the test's duration.
    const global = globalThis as { WebSocket?: unknown };
    const original = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new RelaymeshClient({ url: 'ws://127.0.0.1:1', token: 't' })).toThrow(/no global WebSocket/);
    } finally {
      if (original !== undefined) global.WebSocket = original;
    }
  });

  it('rejects a request made before connecting with a retryable error', async () => {
    const client = new RelaymeshClient({ url: 'ws://127.0.0.1:1', token: 't', WebSocket });
    await expect(client.publish('room:1', 'x')).rejects.toMatchObject({ code: 'disconnected', retryable: true });
  });
});

/**
 * A server that misbehaves on purpose (never answers a ping, drops the socket on a publish):
 * what a dead or failing region looks like from the client.
 */
describe('RelaymeshClient against a misbehaving server', () => {
  let server: WebSocketServer | undefined;
  let client: RelaymeshClient | undefined;

  afterEach(async () => {
    await client?.close();
    server?.close();
  });

  async function startServer() {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const connections: WebSocket[] = [];
    server.on('connection', (socket) => {
      connections.push(socket);
      socket.on('message', (raw) => {
        if (JSON.parse(raw.toString()).action === 'publish') socket.terminate();
      });
    });
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
  }

  it('treats a socket whose pings go unanswered as dead and reconnects', async () => {
    const { url, connections } = await startServer();
    client = new RelaymeshClient({ url, token: 't', WebSocket, heartbeatMs: 50, requestTimeoutMs: 200, backoff: { baseMs: 10, maxMs: 20 } });
    const states: ConnectionState[] = [];
    client.on('state', (state) => states.push(state));
    await client.connect();
    await new Promise<void>((resolve) => client!.on('state', (state) => state === 'open' && resolve()));
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(connections).toHaveLength(2);
  });

  it('rejects a request pending when the connection drops with a retryable error', async () => {
    const { url } = await startServer();
    client = new RelaymeshClient({ url, token: 't', WebSocket, backoff: { baseMs: 10, maxMs: 20 } });
    await client.connect();
    const publish = client.publish('room:1', 'x', { id: 'once' });
    await expect(publish).rejects.toBeInstanceOf(RelaymeshError);
    await expect(publish).rejects.toMatchObject({ code: 'disconnected', retryable: true });
  });
});
