import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageFrame, PresenceEventFrame as PresenceEvent } from './protocol.js';
import { RelaymeshClient, RelaymeshError, type ConnectionState, type ConnectionStateChange, type PublishRetryEvent, type RecoveryEvent, type RelaymeshClientOptions } from './relaymesh-client.js';
import type { Gap } from './stream-order.js';

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
    client = new RelaymeshClient({ url, token: 't', WebSocket, heartbeatMs: 50, requestTimeoutMs: 200, backoff: { baseMs: 10, maxMs: 20 }, reconnectBackoff: { baseMs: 10, maxMs: 20 } });
    const states: ConnectionState[] = [];
    client.on('state', ({ current }) => states.push(current));
    await client.connect();
    await new Promise<void>((resolve) => client!.on('state', ({ current }) => current === 'connected' && resolve()));
    expect(states).toEqual(['connecting', 'connected', 'disconnected', 'connected']);
    expect(connections).toHaveLength(2);
  });

  it('keeps a socket whose pings go unanswered while other frames keep arriving', async () => {
    const { url, connections } = await startServer();
    client = new RelaymeshClient({ url, token: 't', WebSocket, heartbeatMs: 50, requestTimeoutMs: 200, backoff: { baseMs: 10, maxMs: 20 }, reconnectBackoff: { baseMs: 10, maxMs: 20 } });
    const states: ConnectionState[] = [];
    client.on('state', ({ current }) => states.push(current));
    await client.connect();
    // A busy connection: the pings queue behind slow requests, but frames flow.
    const flowing = setInterval(() => connections[0]!.send(JSON.stringify({ type: 'presence', event: 'join', channel: 'room:1', member: { sub: 's', connectionId: 'c', region: 'r' }, ts: 1 })), 50);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(flowing);
    expect(states).toEqual(['connecting', 'connected']);
    expect(connections).toHaveLength(1);
  });

  it('rejects a request pending when the connection drops with a retryable error', async () => {
    const { url } = await startServer();
    client = new RelaymeshClient({ url, token: 't', WebSocket, backoff: { baseMs: 10, maxMs: 20 }, reconnectBackoff: { baseMs: 10, maxMs: 20 }, publishRetries: 0 });
    await client.connect();
    const publish = client.publish('room:1', 'x', { id: 'once' });
    await expect(publish).rejects.toBeInstanceOf(RelaymeshError);
    await expect(publish).rejects.toMatchObject({ code: 'disconnected', retryable: true });
  });
});

/** A browser's WebSocket as the client sees it: an error event with no message, a bare 1006 close, never the upgrade's status. */
class BrowserLikeWebSocket {
  private readonly socket: WebSocket;
  constructor(url: string) {
    this.socket = new WebSocket(url);
  }
  get readyState() {
    return this.socket.readyState;
  }
  send(data: string) {
    this.socket.send(data);
  }
  close(code?: number) {
    this.socket.close(code);
  }
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void) {
    if (type === 'error') this.socket.addEventListener('error', () => listener({ type: 'error' }));
    else this.socket.addEventListener(type, listener);
  }
}

const jwtExpiringAt = (exp: number) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 's', exp })).toString('base64url')}.sig`;

describe('RelaymeshClient connection states', () => {
  const servers: Array<WebSocketServer | Server> = [];
  let client: RelaymeshClient | undefined;
  const fast = { reconnectBackoff: { baseMs: 10, maxMs: 20 }, requestTimeoutMs: 2000 };

  afterEach(async () => {
    await client?.close();
    for (const server of servers.splice(0)) server.close();
  });

  /** A WebSocket server that answers each upgrade with `verdict(token)`: true accepts, a number refuses with that status. */
  async function gate(verdict: (token: string) => true | number) {
    const tokens: string[] = [];
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (info, done) => {
        const token = new URL(info.req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
        tokens.push(token);
        const answer = verdict(token);
        if (answer === true) done(true);
        else done(false, answer);
      },
    });
    servers.push(server);
    await once(server, 'listening');
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, tokens };
  }

  /** An edge whose /v1/connect names `websocketUrl`, as the local cloud's does. */
  async function edge(websocketUrl: string) {
    const server = createServer((_req, res) => res.end(JSON.stringify({ region: 'us-east-1', websocketUrl })));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  function track(created: RelaymeshClient) {
    client = created;
    const changes: ConnectionStateChange[] = [];
    created.on('state', (change) => changes.push(change));
    return changes;
  }

  it('goes initialized → connecting → connected, and reports each change with its previous state', async () => {
    const { url } = await gate(() => true);
    const changes = track(new RelaymeshClient({ url, token: 't', WebSocket, ...fast }));
    expect(client!.state).toBe('initialized');
    await client!.connect();
    expect(changes).toEqual([
      { previous: 'initialized', current: 'connecting' },
      { previous: 'connecting', current: 'connected' },
    ]);
    await client!.close();
    expect(changes.at(-1)).toEqual({ previous: 'connected', current: 'closed' });
  });

  it('GIVEN an upgrade refused 401 (the ws package names the status) THEN it asks getToken() before each attempt and, after maxTokenRefusals in a row, is failed with the reason and tries no more', async () => {
    const { url, tokens } = await gate(() => 401);
    let asked = 0;
    const changes = track(new RelaymeshClient({ url, getToken: async () => `token-${++asked}`, WebSocket, maxTokenRefusals: 3, ...fast }));
    const connecting = client!.connect();
    await expect(connecting).rejects.toMatchObject({ code: 4010, status: 401, retryable: false, message: expect.stringMatching(/HTTP 401.*3 times in a row/) });
    expect(client!.state).toBe('failed');
    expect(client!.reason).toMatchObject({ code: 4010, status: 401 });
    expect(tokens).toEqual(['token-1', 'token-2', 'token-3']);
    expect(changes.map((c) => c.current)).toEqual(['connecting', 'disconnected', 'failed']);
    expect(changes[1]).toMatchObject({ reason: { code: 'connect-failed', status: 401 }, retryInMs: expect.any(Number) });
    // Failed is final until the app connects again; requests fail at once with the reason.
    await expect(client!.publish('room:1', 'x')).rejects.toMatchObject({ code: 4010 });
  });

  it('GIVEN a token refused once (403) THEN the next getToken() token connects it, and the refusal is not held against later attempts', async () => {
    const { url } = await gate((token) => (token === 'good' ? true : 403));
    const issued = ['bad', 'good'];
    const changes = track(new RelaymeshClient({ url, getToken: () => issued.shift()!, WebSocket, maxTokenRefusals: 2, ...fast }));
    await client!.connect();
    expect(changes.map((c) => c.current)).toEqual(['connecting', 'disconnected', 'connected']);
  });

  it('GIVEN a browser, which hides the status, and an edge that answers THEN sockets closing before open maxHiddenRefusals times in a row make it failed', async () => {
    const { url } = await gate(() => 401);
    const edgeUrl = await edge(url);
    track(new RelaymeshClient({ edgeUrl, token: jwtExpiringAt(Date.now() / 1000 + 3600), WebSocket: BrowserLikeWebSocket, maxHiddenRefusals: 4, ...fast }));
    await expect(client!.connect()).rejects.toMatchObject({ code: 4010, status: undefined, message: expect.stringMatching(/browser hides the status.*4 times in a row/) });
  });

  it('GIVEN a browser and a token past its exp THEN it is failed after maxTokenRefusals, naming the expiry, with no edge to tell', async () => {
    const { url } = await gate(() => 401);
    const expiredAt = Math.floor(Date.now() / 1000) - 60;
    track(new RelaymeshClient({ url, getToken: () => jwtExpiringAt(expiredAt), WebSocket: BrowserLikeWebSocket, maxTokenRefusals: 2, ...fast }));
    await expect(client!.connect()).rejects.toMatchObject({ code: 4010, message: expect.stringContaining(`expired at ${new Date(expiredAt * 1000).toISOString()}`) });
  });

  it('GIVEN a browser without an edge THEN silent closes are not taken for refusals: it stays disconnected and keeps trying', async () => {
    const { url, tokens } = await gate(() => 401);
    track(new RelaymeshClient({ url, token: 'opaque', WebSocket: BrowserLikeWebSocket, maxHiddenRefusals: 2, maxTokenRefusals: 2, ...fast }));
    void client!.connect().catch(() => {});
    await until(() => tokens.length >= 5);
    expect(client!.state).toBe('disconnected');
  });

  it('GIVEN no server for longer than suspendedAfterMs THEN it is suspended: connect() and publishes reject at once, retries go on at suspendedRetryMs, and it connects when the server is back', async () => {
    // A port that was free a moment ago: nothing listens on it until the server "comes back".
    const probe = await gate(() => true);
    const port = Number(new URL(probe.url).port);
    servers.pop()!.close();
    const changes = track(new RelaymeshClient({ url: probe.url, token: 't', WebSocket, suspendedAfterMs: 200, suspendedRetryMs: 50, ...fast }));
    await expect(client!.connect()).rejects.toMatchObject({ code: 'disconnected', message: expect.stringMatching(/Not connected for 200 ms.*ECONNREFUSED/) });
    expect(client!.state).toBe('suspended');
    expect(changes.find((c) => c.current === 'suspended')).toMatchObject({ previous: 'disconnected', reason: { code: 'disconnected' } });
    await expect(client!.publish('room:1', 'x', { id: 'while-suspended' })).rejects.toMatchObject({ code: 'disconnected', id: 'while-suspended' });

    const server = new WebSocketServer({ port, host: '127.0.0.1' });
    servers.push(server);
    await until(() => client!.state === 'connected');
    expect(changes.at(-1)).toEqual({ previous: 'suspended', current: 'connected' });
  });

  it('stops retrying when closed while disconnected: connect() rejects as closed', async () => {
    const { url, tokens } = await gate(() => 503);
    track(new RelaymeshClient({ url, token: 't', WebSocket, ...fast }));
    const connecting = client!.connect();
    await until(() => tokens.length >= 2);
    await client!.close();
    await expect(connecting).rejects.toMatchObject({ code: 'closed' });
    expect(client!.state).toBe('closed');
  });

  it('generates v4 UUID publish ids where crypto.randomUUID is missing (a page served over plain HTTP)', async () => {
    const { url } = await gate(() => true);
    const server = servers.at(-1) as WebSocketServer;
    const ids: string[] = [];
    server.on('connection', (socket) =>
      socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString());
        ids.push(frame.id);
        socket.send(JSON.stringify({ type: 'ack', action: 'publish', channel: frame.channel, id: frame.id, ref: frame.ref }));
      }),
    );
    track(new RelaymeshClient({ url, token: 't', WebSocket, ...fast }));
    await client!.connect();
    const original = globalThis.crypto.randomUUID;
    Object.defineProperty(globalThis.crypto, 'randomUUID', { value: undefined, configurable: true });
    try {
      await client!.publish('room:1', 'a');
      await client!.publish('room:1', 'b');
    } finally {
      Object.defineProperty(globalThis.crypto, 'randomUUID', { value: original, configurable: true });
    }
    expect(ids).toHaveLength(2);
    expect(ids.every((id) => UUID.test(id)) && ids[0] !== ids[1]).toBe(true);
  });

  it('counts a WebSocket constructor that throws as a failed attempt, reported and retried, not a crash', async () => {
    let constructed = 0;
    const Throwing = class {
      constructor() {
        constructed++;
        throw new SyntaxError('The URL is invalid');
      }
    } as unknown as typeof WebSocket;
    const errors: Error[] = [];
    track(new RelaymeshClient({ url: 'ws://127.0.0.1:1', token: 't', WebSocket: Throwing, ...fast }));
    client!.on('error', (error) => errors.push(error));
    void client!.connect().catch(() => {});
    await until(() => constructed >= 2);
    expect(client!.state).toBe('disconnected');
    expect(errors[0]).toMatchObject({ code: 'connect-failed', message: expect.stringContaining('The URL is invalid') });
  });

  it('refuses options with neither or both of token and getToken', () => {
    expect(() => new RelaymeshClient({ url: 'ws://127.0.0.1:1', WebSocket })).toThrow('needs token or getToken');
    expect(() => new RelaymeshClient({ url: 'ws://127.0.0.1:1', token: 't', getToken: () => 't', WebSocket })).toThrow('needs token or getToken');
  });
});

const US = 'us-east-1';
const EU = 'eu-west-1';

type Received = Record<string, any> & { action: string };
interface Connection {
  index: number;
  socket: WebSocket;
  send(frame: object): void;
}

const ack = (frame: Received, extra: object = {}) => ({ type: 'ack', action: frame.action, channel: frame.channel, ref: frame.ref, ...extra });
const messageFrame = (origin: string, seq: number, id = `${origin}-${seq}`) => ({
  type: 'message',
  channel: 'room:1',
  data: id,
  id,
  origin,
  ts: 1,
  class: 'critical',
  seq,
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A server that answers as the script says, so each test plays one exchange of the protocol
 * (a gap, a recovery answer, an error frame) exactly; every client frame is recorded.
 */
describe('RelaymeshClient against a scripted server', () => {
  let server: WebSocketServer | undefined;
  let client: RelaymeshClient | undefined;

  afterEach(async () => {
    await client?.close();
    server?.close();
  });

  async function serve(script: (frame: Received, connection: Connection) => void) {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const received: Received[] = [];
    /** When each frame of `received` arrived. */
    const arrivals: number[] = [];
    let connections = 0;
    server.on('connection', (socket) => {
      const connection = { index: connections++, socket, send: (frame: object) => socket.send(JSON.stringify(frame)) };
      socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as Received;
        received.push(frame);
        arrivals.push(Date.now());
        script(frame, connection);
      });
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, received, arrivals, sinceSubscribes: () => received.filter((f) => f.action === 'subscribe' && f.since) };
  }

  async function connect(url: string, options: Partial<RelaymeshClientOptions> = {}) {
    client = new RelaymeshClient({ url, token: 't', WebSocket, gapWaitMs: 50, backoff: { baseMs: 10, maxMs: 20 }, reconnectBackoff: { baseMs: 10, maxMs: 20 }, ...options });
    const events = { recoveries: [] as RecoveryEvent[], gaps: [] as Gap[], errors: [] as Error[], retries: [] as PublishRetryEvent[] };
    client.on('recovery', (event) => events.recoveries.push(event));
    client.on('gap', (gap) => events.gaps.push(gap));
    client.on('error', (error) => events.errors.push(error));
    client.on('publishRetry', (event) => events.retries.push(event));
    await client.connect();
    return events;
  }

  async function subscribe(options: Parameters<RelaymeshClient['subscribe']>[2] = {}) {
    const delivered: MessageFrame[] = [];
    const subscription = await client!.subscribe('room:1', (message) => delivered.push(message), options);
    return { subscription, delivered, seqs: (origin = US) => delivered.filter((m) => m.origin === origin).map((m) => m.seq) };
  }

  it('fetches a gap by resubscribing since its vector, and hands the missing message over in order instead of skipping it', async () => {
    const { url, sinceSubscribes } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (!frame.since) {
        send(ack(frame, { position: { [US]: 0 } }));
        send(messageFrame(US, 1));
        send(messageFrame(US, 3));
      } else {
        send(messageFrame(US, 2));
        send(ack(frame, { recovered: true, missing: [], position: { [US]: 3 } }));
      }
    });
    const events = await connect(url);
    const { seqs } = await subscribe();
    await until(() => seqs().length === 3);
    expect(seqs()).toEqual([1, 2, 3]);
    expect(sinceSubscribes().map((f) => f.since)).toEqual([{ [US]: 1 }]);
    expect(events.gaps).toEqual([]);
    expect(events.recoveries).toEqual([{ channel: 'room:1', recovered: true, missing: [], position: { [US]: 3 } }]);
  });

  it('skips a range the server reports expired, with a gap event, and goes on after it', async () => {
    const expired = { origin: US, from: 2, to: 4, reason: 'expired' };
    const { url } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (!frame.since) {
        send(ack(frame, { position: { [US]: 0 } }));
        send(messageFrame(US, 1));
        send(messageFrame(US, 5));
      } else {
        send(ack(frame, { recovered: false, missing: [expired], position: { [US]: 5 } }));
      }
    });
    const events = await connect(url);
    const { seqs, subscription } = await subscribe();
    await until(() => seqs().length === 2);
    expect(seqs()).toEqual([1, 5]);
    expect(events.gaps).toEqual([{ channel: 'room:1', origin: US, from: 2, to: 4 }]);
    expect(events.recoveries).toEqual([{ channel: 'room:1', recovered: false, missing: [expired], position: { [US]: 5 } }]);
    expect(subscription.vector()).toEqual({ [US]: 5 });
  });

  it('fetches a not-replicated range again later, without skipping it, until it arrives', async () => {
    let answers = 0;
    const { url, sinceSubscribes } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (++answers < 3) {
        send(messageFrame(US, 3)); // live, above the range
        send(ack(frame, { recovered: false, missing: [{ origin: US, from: 2, to: 3, reason: 'not-replicated' }], position: { [US]: 1 } }));
      } else {
        send(messageFrame(US, 2));
        send(ack(frame, { recovered: true, missing: [], position: { [US]: 3 } }));
      }
    });
    // The gap wait is far beyond the test: only the not-replicated answers can bring the refetches.
    const events = await connect(url, { gapWaitMs: 20_000, backoff: { baseMs: 50, maxMs: 100 } });
    const { seqs } = await subscribe({ since: { [US]: 1 } });
    expect(seqs()).toEqual([]);
    await until(() => seqs().length === 2);
    expect(seqs()).toEqual([2, 3]);
    expect(sinceSubscribes().map((f) => f.since)).toEqual([{ [US]: 1 }, { [US]: 1 }, { [US]: 1 }]);
    expect(events.recoveries.map((r) => r.recovered)).toEqual([false, false, true]);
    expect(events.gaps).toEqual([]);
  });

  it('resumes from a saved vector with since, and pages through a limit range at once from the new vector', async () => {
    const started = Date.now();
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (frame.since[US] === 2) {
        send(messageFrame(US, 3));
        send(messageFrame(US, 4));
        send(ack(frame, { recovered: true, missing: [], position: { [US]: 4 } }));
      } else {
        send(messageFrame(US, 1));
        send(messageFrame(US, 2));
        send(ack(frame, { recovered: false, missing: [{ origin: US, from: 3, to: 4, reason: 'limit' }], position: { [US]: 2 } }));
      }
    });
    // A backoff so long that only an immediate next page passes.
    const events = await connect(url, { backoff: { baseMs: 20_000, maxMs: 20_000 }, gapWaitMs: 20_000 });
    const { seqs } = await subscribe({ since: { [US]: 0 } });
    await until(() => seqs().length === 4);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(received.filter((f) => f.action === 'subscribe').map((f) => f.since)).toEqual([{ [US]: 0 }, { [US]: 2 }]);
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(events.recoveries.map((r) => r.missing.map((m) => m.reason))).toEqual([['limit'], []]);
  });

  it('with since, buffers a live message above the position that arrives before the ack instead of dropping it', async () => {
    const { url } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      send(messageFrame(US, 4)); // live, ahead of the replay
      send(messageFrame(US, 3)); // replayed
      send(ack(frame, { recovered: true, missing: [], position: { [US]: 3 } }));
    });
    await connect(url);
    const { seqs, subscription } = await subscribe({ since: { [US]: 2 } });
    await until(() => seqs().length === 2);
    expect(seqs()).toEqual([3, 4]);
    expect(subscription.vector()).toEqual({ [US]: 4 });
  });

  it('retries a first subscribe with since that failed after part of its replay from where the replay got to, handing nothing twice', async () => {
    const { url, sinceSubscribes } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (frame.since[US] === 0) {
        send(messageFrame(US, 1));
        send(messageFrame(US, 2));
        return send({ type: 'error', code: 5030, message: 'replay post failed', retryable: true, ref: frame.ref });
      }
      send(messageFrame(US, 3));
      send(ack(frame, { recovered: true, missing: [], position: { [US]: 3 } }));
    });
    const events = await connect(url);
    const { seqs } = await subscribe({ since: { [US]: 0 } });
    expect(seqs()).toEqual([1, 2, 3]);
    expect(sinceSubscribes().map((f) => f.since)).toEqual([{ [US]: 0 }, { [US]: 2 }]);
    expect(events.errors.map((e) => (e as RelaymeshError).code)).toEqual([5030]);
  });

  it('carries a first subscribe with since through a dropped connection: it resubscribes once reconnected and resolves', async () => {
    const { url, sinceSubscribes } = await serve((frame, { send, socket, index }) => {
      if (frame.action !== 'subscribe') return;
      if (index === 0) return socket.terminate();
      send(messageFrame(US, 5));
      send(ack(frame, { recovered: true, missing: [], position: { [US]: 5 } }));
    });
    await connect(url);
    const { seqs } = await subscribe({ since: { [US]: 4 } });
    expect(seqs()).toEqual([5]);
    expect(sinceSubscribes()).toHaveLength(2);
  });

  it('rejects a first subscribe with since refused for good, and leaves the channel free to subscribe again', async () => {
    let refuse = true;
    const { url } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (refuse) return send({ type: 'error', code: 4301, message: 'forbidden', retryable: false, ref: frame.ref });
      send(ack(frame, { recovered: true, missing: [], position: { [US]: 0 } }));
    });
    await connect(url);
    await expect(client!.subscribe('room:1', () => {}, { since: { [US]: 0 } })).rejects.toMatchObject({ code: 4301 });
    refuse = false;
    await expect(client!.subscribe('room:1', () => {}, { since: { [US]: 0 } })).resolves.toMatchObject({ channel: 'room:1' });
  });

  it('refuses an invalid since vector', async () => {
    const { url } = await serve(() => {});
    await connect(url);
    await expect(client!.subscribe('room:1', () => {}, { since: { 'US EAST': -1 } })).rejects.toThrow(/Invalid since/);
  });

  it('does not hand the app a message whose id it already got under another (origin, seq), but advances that stream', async () => {
    const { url, sinceSubscribes } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      send(ack(frame, { position: { [US]: 0, [EU]: 0 } }));
      send(messageFrame(US, 1, 'retried'));
      send(messageFrame(EU, 1, 'retried'));
      send(messageFrame(EU, 2, 'next'));
    });
    await connect(url);
    const { delivered, subscription } = await subscribe();
    await until(() => subscription.vector()[EU] === 2);
    expect(delivered.map((m) => [m.id, m.origin])).toEqual([
      ['retried', US],
      ['next', EU],
    ]);
    expect(subscription.vector()).toEqual({ [US]: 1, [EU]: 2 });
    expect(sinceSubscribes()).toEqual([]);
  });

  it('retries a resubscribe that failed (a timeout, 5030, then 4291 with retryAfterMs, waited out) with backoff until it succeeds', async () => {
    let answers = 0;
    const { url, received, arrivals, sinceSubscribes } = await serve((frame, { send }) => {
      if (frame.action !== 'subscribe') return;
      if (!frame.since) {
        send(ack(frame, { position: { [US]: 0 } }));
        send(messageFrame(US, 2));
        return;
      }
      answers++;
      if (answers === 1) return; // never answered: the client times out
      if (answers === 2) return send({ type: 'error', code: 5030, message: 'Service temporarily unavailable', retryable: true, ref: frame.ref });
      if (answers === 3) return send({ type: 'error', code: 4291, message: 'Too many recoveries', retryable: true, ref: frame.ref, retryAfterMs: 300 });
      send(messageFrame(US, 1));
      send(ack(frame, { recovered: true, missing: [], position: { [US]: 2 } }));
    });
    const events = await connect(url, { recoveryTimeoutMs: 100, gapWaitMs: 20_000 });
    const { seqs } = await subscribe();
    // The gap wait is long: start the fetch by dropping the connection.
    await until(() => server!.clients.size === 1);
    for (const socket of server!.clients) socket.terminate();
    await until(() => seqs().length === 2);
    expect(seqs()).toEqual([1, 2]);
    expect(sinceSubscribes()).toHaveLength(4);
    expect(events.errors.map((e) => (e as RelaymeshError).code)).toEqual(['timeout', 5030, 4291]);
    const [third, fourth] = [received.indexOf(sinceSubscribes()[2]!), received.indexOf(sinceSubscribes()[3]!)];
    expect(arrivals[fourth]! - arrivals[third]!).toBeGreaterThanOrEqual(300);
  });

  it('waits the retryAfterMs of a rate-limited publish (4290) before retrying it', async () => {
    let attempts = 0;
    const { url, arrivals } = await serve((frame, { send }) => {
      if (frame.action !== 'publish') return;
      if (++attempts === 1) return send({ type: 'error', code: 4290, message: 'Too many requests', retryable: true, ref: frame.ref, retryAfterMs: 300 });
      send(ack(frame, { id: frame.id, origin: US, seq: 1 }));
    });
    await connect(url);
    await client!.publish('room:1', 'x');
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(300);
  });

  it('retries a publish answered 5030 with the same id, and resolves with the ack', async () => {
    let attempts = 0;
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action !== 'publish') return;
      if (++attempts === 1) return send({ type: 'error', code: 5030, message: 'publish not confirmed', retryable: true, ref: frame.ref, id: frame.id });
      send(ack(frame, { id: frame.id, origin: US, seq: 7, duplicate: true }));
    });
    const events = await connect(url);
    await expect(client!.publish('room:1', 'x', { id: 'msg-1' })).resolves.toMatchObject({ id: 'msg-1', origin: US, seq: 7 });
    expect(received.filter((f) => f.action === 'publish').map((f) => f.id)).toEqual(['msg-1', 'msg-1']);
    expect(events.retries.map((r) => [r.id, r.attempt, r.error.code])).toEqual([['msg-1', 1, 5030]]);
  });

  it('retries a publish whose connection dropped once reconnected, with the same generated id', async () => {
    const { url, received } = await serve((frame, { send, socket, index }) => {
      if (frame.action !== 'publish') return;
      if (index === 0) return socket.terminate();
      send(ack(frame, { id: frame.id, origin: US, seq: 1 }));
    });
    const events = await connect(url);
    const answer = await client!.publish('room:1', 'x');
    const ids = received.filter((f) => f.action === 'publish').map((f) => f.id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toMatch(UUID);
    expect(ids[1]).toBe(ids[0]);
    expect(answer.id).toBe(ids[0]);
    expect(events.retries.map((r) => r.error.code)).toEqual(['disconnected']);
  });

  it('generates a publish id when none is given, a new one per publish', async () => {
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action === 'publish') send(ack(frame, { id: frame.id, origin: US, seq: 1 }));
    });
    await connect(url);
    await client!.publish('room:1', 'a');
    await client!.publish('room:1', 'b');
    const ids = received.map((f) => f.id);
    expect(ids.every((id) => UUID.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(2);
  });

  it('rejects a publish with the last error after publishRetries retries, naming its id', async () => {
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action === 'publish') send({ type: 'error', code: 5030, message: `attempt ${received.length}`, retryable: true, ref: frame.ref, id: frame.id });
    });
    await connect(url, { publishRetries: 2 });
    const publish = client!.publish('room:1', 'x');
    await expect(publish).rejects.toMatchObject({ code: 5030, message: 'attempt 3', retryable: true });
    const ids = received.map((f) => f.id);
    expect(ids).toHaveLength(3);
    await expect(publish).rejects.toMatchObject({ id: ids[0] });
  });

  it('does not retry a publish refused for good', async () => {
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action === 'publish') send({ type: 'error', code: 4302, message: 'forbidden', retryable: false, ref: frame.ref });
    });
    await connect(url);
    await expect(client!.publish('room:1', 'x')).rejects.toMatchObject({ code: 4302 });
    expect(received).toHaveLength(1);
  });

  it("maps API Gateway's own Too Many Requests frame (no type, no ref) to 4292 and fails the newest waiting request at once; a publish retries it with the same id", async () => {
    let publishes = 0;
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action === 'subscribe') return; // the older request: left waiting
      if (frame.action !== 'publish') return;
      if (++publishes === 1) return send({ message: 'Too Many Requests', connectionId: 'c1', requestId: 'r1' });
      send(ack(frame, { id: frame.id, origin: US, seq: 1 }));
    });
    const events = await connect(url, { requestTimeoutMs: 10_000 });
    const waiting = client!.subscribe('room:2', () => {}).catch((error: unknown) => error);
    await until(() => received.some((f) => f.action === 'subscribe'));
    const started = Date.now();
    await expect(client!.publish('room:1', 'x', { id: 'msg-1' })).resolves.toMatchObject({ id: 'msg-1', seq: 1 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(events.retries.map((r) => [r.id, r.error.code, r.error.retryable])).toEqual([['msg-1', 4292, true]]);
    expect(received.filter((f) => f.action === 'publish').map((f) => f.id)).toEqual(['msg-1', 'msg-1']);
    expect(events.errors).toEqual([]);
    void waiting;
  });

  it("fails the oldest waiting request when API Gateway answers Internal server error (5000) or its integration timeout (5040), and reports one that answers nothing", async () => {
    const { url } = await serve((frame, { send }) => {
      if (frame.action !== 'publish') return;
      if (frame.data === 'second') {
        send({ message: 'Endpoint request timed out', connectionId: 'c1', requestId: 'r2' });
        send({ message: 'Internal server error', connectionId: 'c1', requestId: 'r3' });
        send({ message: 'Internal server error', connectionId: 'c1', requestId: 'r4' });
      }
    });
    const events = await connect(url, { requestTimeoutMs: 10_000, publishRetries: 0 });
    const first = client!.publish('room:1', 'first').catch((error: RelaymeshError) => error);
    const second = client!.publish('room:1', 'second').catch((error: RelaymeshError) => error);
    expect(await first).toMatchObject({ code: 5040, retryable: true, message: expect.stringContaining('Endpoint request timed out') });
    expect(await second).toMatchObject({ code: 5000, retryable: true });
    await until(() => events.errors.length === 1);
    expect(events.errors[0]).toMatchObject({ code: 5000 });
  });

  /** A history page answering `frame`. */
  const historyPage = (frame: Received, messages: object[], rest: { missing?: object[]; position: object; hasMore?: boolean }) => ({
    type: 'history',
    channel: frame.channel,
    messages,
    missing: [],
    hasMore: false,
    ref: frame.ref,
    ...rest,
  });

  it('history({ limit }) asks for the last N in one request and returns the messages oldest first, typed, with the position they end at', async () => {
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action === 'history') send(historyPage(frame, [messageFrame(US, 4), messageFrame(EU, 2), messageFrame(US, 5)], { position: { [US]: 5, [EU]: 2 } }));
    });
    await connect(url);
    const typed = client as unknown as RelaymeshClient<{ 'room:1': string }>;
    const result = await typed.history('room:1', { limit: 3 });
    const data: string[] = result.messages.map((m) => m.data);
    expect(data).toEqual([`${US}-4`, `${EU}-2`, `${US}-5`]);
    expect(result).toMatchObject({ missing: [], position: { [US]: 5, [EU]: 2 } });
    expect(received).toEqual([{ action: 'history', channel: 'room:1', limit: 3, ref: expect.any(String) }]);
  });

  it('history({ since }) follows hasMore from each page\'s position until every message is in', async () => {
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action !== 'history') return;
      const after = frame.since[US] ?? 0;
      const seqs = [after + 1, after + 2].filter((seq) => seq <= 5);
      send(historyPage(frame, seqs.map((seq) => messageFrame(US, seq)), { position: { [US]: seqs.at(-1) ?? after }, hasMore: seqs.at(-1)! < 5 }));
    });
    await connect(url);
    const result = await client!.history('room:1', { since: { [US]: 0 } });
    expect(result.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(result.position).toEqual({ [US]: 5 });
    expect(received.map((f) => f.since)).toEqual([{ [US]: 0 }, { [US]: 2 }, { [US]: 4 }]);
  });

  it('history({ limit }) cut into pages by size asks each next page for only what is left of the limit', async () => {
    const { url, received } = await serve((frame, { send }) => {
      if (frame.action !== 'history') return;
      if (!frame.since) return send(historyPage(frame, [messageFrame(US, 7)], { position: { [US]: 7 }, hasMore: true }));
      send(historyPage(frame, [messageFrame(US, 8), messageFrame(US, 9)], { position: { [US]: 9 } }));
    });
    await connect(url);
    const result = await client!.history('room:1', { limit: 3 });
    expect(result.messages.map((m) => m.seq)).toEqual([7, 8, 9]);
    expect(received.map(({ since, limit }) => ({ since, limit }))).toEqual([{ limit: 3 }, { since: { [US]: 7 }, limit: 2 }]);
  });

  it('history reports every expired range, and a not-replicated range only while the history still stops at it', async () => {
    const expired = { origin: US, from: 2, to: 3, reason: 'expired' };
    const { url } = await serve((frame, { send }) => {
      if (frame.action !== 'history') return;
      if (frame.since[US] === 1) {
        // EU stops at a gap that fills before the next page; US goes on past an expired range.
        return send(historyPage(frame, [messageFrame(US, 4)], { missing: [expired, { origin: EU, from: 1, to: 2, reason: 'not-replicated' }], position: { [US]: 4, [EU]: 0 }, hasMore: true }));
      }
      send(historyPage(frame, [messageFrame(EU, 1), messageFrame(EU, 2)], { missing: [{ origin: EU, from: 3, to: 3, reason: 'not-replicated' }], position: { [US]: 4, [EU]: 2 } }));
    });
    await connect(url);
    const result = await client!.history('room:1', { since: { [US]: 1, [EU]: 0 } });
    expect(result.messages.map((m) => m.id)).toEqual([`${US}-4`, `${EU}-1`, `${EU}-2`]);
    expect(result.missing).toEqual([expired, { origin: EU, from: 3, to: 3, reason: 'not-replicated' }]);
  });

  it('history refuses options that are not { since } or { limit: 1-100 } before sending anything', async () => {
    const { url, received } = await serve(() => {});
    await connect(url);
    for (const options of [{ limit: 0 }, { limit: 101 }, { limit: 2.5 }, { since: { 'US EAST': 1 } }, { since: {}, limit: 5 }, {}]) {
      await expect(client!.history('room:1', options as never)).rejects.toThrow(/Invalid history options: needs \{ since: a recovery vector \} or \{ limit: 1 to 100 \}/);
    }
    expect(received).toEqual([]);
  });

  it('history rejects with the coded error of a refused page', async () => {
    const { url } = await serve((frame, { send }) => send({ type: 'error', code: 4301, message: 'Token does not allow subscribing to this channel', retryable: false, ref: frame.ref }));
    await connect(url);
    await expect(client!.history('room:1', { limit: 5 })).rejects.toMatchObject({ code: 4301, retryable: false });
  });

  it('subscribes with presence data, sends it again on the resubscribe after a reconnect, and hands over members and join events with their data', async () => {
    const ada = { sub: 'ada', connectionId: 'c1', region: US, data: { name: 'Ada' } };
    const { url, received } = await serve((frame, { send, socket, index }) => {
      if (frame.action === 'subscribe') {
        send(ack(frame, frame.since ? { recovered: true, missing: [], position: { [US]: 0 } } : { position: { [US]: 0 } }));
        send({ type: 'presence', event: 'join', channel: 'room:1', member: ada, ts: 1 });
        if (index === 0) setTimeout(() => socket.terminate(), 10);
      }
      if (frame.action === 'presence') send({ type: 'members', channel: 'room:1', members: [ada, { sub: 'bob', connectionId: 'c2', region: EU }], ref: frame.ref });
    });
    await connect(url);
    const joins: PresenceEvent[] = [];
    await client!.subscribe('room:1', () => {}, { presence: { data: { name: 'Ada' } }, onPresence: (event) => joins.push(event) });
    await until(() => received.filter((f) => f.action === 'subscribe').length === 2);
    expect(received.filter((f) => f.action === 'subscribe').map((f) => f.presence)).toEqual([{ data: { name: 'Ada' } }, { data: { name: 'Ada' } }]);
    await until(() => joins.length === 2);
    expect(joins[0]!.member).toEqual(ada);
    expect(await client!.presence('room:1')).toEqual([ada, { sub: 'bob', connectionId: 'c2', region: EU }]);
  });

  it('reports a frame of a type it does not know via error, and fails the request it answers at once instead of by timeout', async () => {
    const { url } = await serve((frame, { send }) => {
      send({ type: 'surprise', ref: frame.ref });
      send({ type: 'message', channel: 'room:1', seq: 'one' });
    });
    const events = await connect(url, { requestTimeoutMs: 10_000 });
    const started = Date.now();
    await expect(client!.publish('room:1', 'x')).rejects.toMatchObject({ code: 'unreadable-frame', retryable: false });
    expect(Date.now() - started).toBeLessThan(1000);
    await until(() => events.errors.length === 2);
    expect(events.errors.map((e) => e.message)).toEqual([
      expect.stringContaining('unknown frame type "surprise"'),
      expect.stringMatching(/seq.*expected number/),
    ]);
  });
});
