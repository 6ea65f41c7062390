import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  startWebSocketApi,
  type WebSocketApi,
  type WebSocketApiOptions,
  type WebSocketEvent,
  type WebSocketRouteHandler,
} from './websocket-api';

const LIMITS: WebSocketApiOptions['limits'] = {
  maxFrameBytes: 1024,
  maxMessageBytes: 2048,
  idleTimeoutSeconds: 30,
  maxConnectionSeconds: 120,
  accountRatePerSecond: 10_000,
  accountBurst: 10_000,
};

/** AWS connection/request ids: 15 URL-safe base64 characters and '='. */
const AWS_ID = /^[A-Za-z0-9_-]{15}=$/;

const running: WebSocketApi[] = [];
const sdkClients: ApiGatewayManagementApiClient[] = [];

afterEach(async () => {
  for (const client of sdkClients.splice(0)) client.destroy();
  await Promise.all(running.splice(0).map((api) => api.stop()));
});

async function startApi(options: Partial<WebSocketApiOptions> & Pick<WebSocketApiOptions, 'routes'>) {
  const errors: Array<{ error: unknown; where: string }> = [];
  const api = await startWebSocketApi({
    region: 'us-east-1',
    stage: 'live',
    limits: LIMITS,
    onError: (error, where) => errors.push({ error, where }),
    ...options,
  });
  running.push(api);
  return { api, errors };
}

/** A route handler standing in for a Lambda: records each event, answers with `reply`. */
function recorder(reply?: (event: WebSocketEvent) => unknown) {
  const events: WebSocketEvent[] = [];
  const handler: WebSocketRouteHandler = async (event) => {
    events.push(event);
    return reply?.(event) as Awaited<ReturnType<WebSocketRouteHandler>>;
  };
  return { events, handler };
}

function managementClient(api: WebSocketApi) {
  const client = new ApiGatewayManagementApiClient({
    region: 'us-east-1',
    endpoint: api.connectionsEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  sdkClients.push(client);
  return client;
}

interface Frame {
  text: string;
  binary: boolean;
}

/** A real ws client that buffers what it receives. */
class Client {
  private readonly inbox: Frame[] = [];
  private wake?: () => void;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, binary) => {
      this.inbox.push({ text: binary ? Buffer.from(data as Buffer).toString('hex') : String(data), binary });
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake?.();
      }),
    );
  }

  async next(): Promise<Frame> {
    while (this.inbox.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed before a frame arrived');
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.inbox.shift()!;
  }

  async nextJson(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.next()).text) as Record<string, unknown>;
  }
}

/** Opens a socket, resolving with the client or with the HTTP status that refused the upgrade. */
function attempt(url: string): Promise<{ client: Client } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const client = new Client(ws);
    ws.once('open', () => resolve({ client }));
    ws.once('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      req.destroy();
    });
    ws.on('error', reject);
  });
}

async function connect(url: string): Promise<Client> {
  const result = await attempt(url);
  if ('status' in result) throw new Error(`upgrade refused with ${result.status}`);
  return result.client;
}

async function refusal(url: string): Promise<number> {
  const result = await attempt(url);
  if ('client' in result) throw new Error('upgrade was accepted');
  return result.status;
}

/** Stands in for the authorizer Lambda: the token names the outcome. */
function tokenAuthorizer() {
  const calls: APIGatewayRequestAuthorizerEvent[] = [];
  const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    calls.push(event);
    const token = event.queryStringParameters?.token;
    if (token === 'expired') throw new Error('Unauthorized');
    if (token === 'crash') throw new Error('secret store unreachable');
    return {
      principalId: 'user-7',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: token === 'banned' ? 'Deny' : 'Allow', Resource: event.methodArn }],
      },
      context: token === 'nested' ? ({ claims: { sub: 'x' } } as never) : { userId: 'u-7', admin: false, quota: 5 },
    };
  };
  return { calls, authorizer: { handler, identitySource: ['route.request.querystring.token'] } };
}

describe('connect and the REQUEST authorizer', () => {
  it('an Allow policy opens the socket; the authorizer gets the WebSocket REQUEST event for $connect', async () => {
    const { calls, authorizer } = tokenAuthorizer();
    const { api } = await startApi({ authorizer, routes: {} });
    await connect(`${api.websocketUrl}?token=good&x=1&x=2`);

    expect(calls).toHaveLength(1);
    const event = calls[0]!;
    expect(event.type).toBe('REQUEST');
    expect(event.methodArn).toBe(`arn:aws:execute-api:us-east-1:000000000000:${api.apiId}/live/$connect`);
    expect(event.queryStringParameters).toEqual({ token: 'good', x: '2' });
    expect(event.multiValueQueryStringParameters).toEqual({ token: ['good'], x: ['1', '2'] });
    expect(event.headers?.Host).toBe(`127.0.0.1:${api.port}`);
    expect(event.multiValueHeaders?.Upgrade).toEqual(['websocket']);
    expect(event.requestContext).toMatchObject({ routeKey: '$connect', eventType: 'CONNECT', stage: 'live', apiId: api.apiId });
    expect(event.requestContext.connectionId).toMatch(AWS_ID);
    expect(api.connectionIds()).toEqual([event.requestContext.connectionId]);
  });

  it('refuses with 403 on a Deny policy, 401 when the authorizer throws Unauthorized, 500 on any other failure', async () => {
    const { authorizer } = tokenAuthorizer();
    const { api, errors } = await startApi({ authorizer, routes: {} });
    expect(await refusal(`${api.websocketUrl}?token=banned`)).toBe(403);
    expect(await refusal(`${api.websocketUrl}?token=expired`)).toBe(401);
    expect(await refusal(`${api.websocketUrl}?token=crash`)).toBe(500);
    expect(await refusal(`${api.websocketUrl}?token=nested`)).toBe(500); // context values must be scalars
    expect(errors.map((e) => e.where)).toEqual(['authorizer', 'authorizer']);
    expect(api.connectionIds()).toEqual([]);
  });

  it('refuses a missing or empty identity source with 401 without invoking the authorizer', async () => {
    const { calls, authorizer } = tokenAuthorizer();
    const { api } = await startApi({ authorizer, routes: {} });
    expect(await refusal(api.websocketUrl)).toBe(401);
    expect(await refusal(`${api.websocketUrl}?token=`)).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it('passes the authorizer context, stringified and with principalId, to $connect, message and $disconnect events', async () => {
    const { authorizer } = tokenAuthorizer();
    const connectRoute = recorder();
    const defaultRoute = recorder();
    const disconnectRoute = recorder();
    const { api } = await startApi({
      authorizer,
      routes: { $connect: connectRoute, $default: defaultRoute, $disconnect: disconnectRoute },
    });
    const client = await connect(`${api.websocketUrl}?token=good`);
    client.ws.send('hello');
    await vi.waitFor(() => expect(defaultRoute.events).toHaveLength(1));
    client.ws.close();
    await vi.waitFor(() => expect(disconnectRoute.events).toHaveLength(1));

    const expected = { principalId: 'user-7', userId: 'u-7', admin: 'false', quota: '5', integrationLatency: expect.any(Number) };
    for (const event of [connectRoute.events[0]!, defaultRoute.events[0]!, disconnectRoute.events[0]!]) {
      expect(event.requestContext.authorizer).toEqual(expected);
    }
  });

  it('the $connect event carries the upgrade headers and query string', async () => {
    const connectRoute = recorder();
    const { api } = await startApi({ routes: { $connect: connectRoute } });
    const client = await connect(`${api.websocketUrl}?room=a`);
    const event = connectRoute.events[0]!;
    expect(event.queryStringParameters).toEqual({ room: 'a' });
    expect(event.headers?.['Sec-WebSocket-Version']).toBe('13');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      messageId: null,
      messageDirection: 'IN',
      identity: { sourceIp: '127.0.0.1' },
      domainName: `127.0.0.1:${api.port}`,
    });
    expect(event.requestContext.authorizer).toBeUndefined();
    expect(api.connectionIds()).toEqual([event.requestContext.connectionId]);
    client.ws.close();
  });

  it('$connect refuses the upgrade with its non-2xx statusCode, or 500 when it throws', async () => {
    const { api, errors } = await startApi({
      routes: {
        $connect: {
          handler: async (event) => {
            const verdict = event.queryStringParameters?.verdict;
            if (verdict === 'throw') throw new Error('table missing');
            return { statusCode: verdict === 'full' ? 429 : verdict === 'bad' ? 400 : 200 };
          },
        },
      },
    });
    expect(await refusal(`${api.websocketUrl}?verdict=bad`)).toBe(400);
    expect(await refusal(`${api.websocketUrl}?verdict=full`)).toBe(429);
    expect(await refusal(`${api.websocketUrl}?verdict=throw`)).toBe(500);
    expect(errors.map((e) => e.where)).toEqual(['$connect']);
    expect(api.connectionIds()).toEqual([]);
    await connect(`${api.websocketUrl}?verdict=ok`);
    expect(api.connectionIds()).toHaveLength(1);
  });

  it('an upgrade to a path other than the stage gets 404', async () => {
    const { api } = await startApi({ routes: {} });
    expect(await refusal(`ws://127.0.0.1:${api.port}/other`)).toBe(404);
  });
});

describe('message routing', () => {
  it('routes by action to the matching route, otherwise to $default; non-JSON and binary go to $default', async () => {
    const subscribe = recorder();
    const fallback = recorder();
    const { api } = await startApi({ routes: { subscribe, $default: fallback } });
    const client = await connect(api.websocketUrl);
    client.ws.send(JSON.stringify({ action: 'subscribe', channel: 'a' }));
    client.ws.send(JSON.stringify({ action: 'dance' }));
    client.ws.send(JSON.stringify({ action: '$disconnect' }));
    client.ws.send('not json');
    client.ws.send(Buffer.from([0xff, 0x00]));
    await vi.waitFor(() => expect(fallback.events).toHaveLength(4));

    expect(subscribe.events.map((e) => [e.requestContext.routeKey, e.body])).toEqual([
      ['subscribe', '{"action":"subscribe","channel":"a"}'],
    ]);
    expect(fallback.events.map((e) => [e.requestContext.routeKey, e.body, e.isBase64Encoded])).toEqual([
      ['$default', '{"action":"dance"}', false],
      ['$default', '{"action":"$disconnect"}', false],
      ['$default', 'not json', false],
      ['$default', Buffer.from([0xff, 0x00]).toString('base64'), true],
    ]);
    const context = subscribe.events[0]!.requestContext;
    expect(context).toMatchObject({
      eventType: 'MESSAGE',
      messageDirection: 'IN',
      stage: 'live',
      apiId: api.apiId,
      identity: { sourceIp: '127.0.0.1' },
      domainName: `127.0.0.1:${api.port}`,
    });
    expect(context.messageId).toMatch(AWS_ID);
    expect(context.requestId).toMatch(AWS_ID);
    expect(context.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(context.connectedAt).toBeLessThanOrEqual(context.requestTimeEpoch);
  });

  it('evaluates a dotted route selection expression', async () => {
    const join = recorder();
    const fallback = recorder();
    const { api } = await startApi({ routeSelectionExpression: '$request.body.op.name', routes: { join, $default: fallback } });
    const client = await connect(api.websocketUrl);
    client.ws.send(JSON.stringify({ op: { name: 'join' } }));
    client.ws.send(JSON.stringify({ op: 'join' }));
    await vi.waitFor(() => expect(fallback.events).toHaveLength(1));
    expect(join.events).toHaveLength(1);
  });

  it('answers the Forbidden error frame when no route matches and there is no $default', async () => {
    const { api } = await startApi({ routes: { ping: recorder() } });
    const client = await connect(api.websocketUrl);
    client.ws.send(JSON.stringify({ action: 'pong' }));
    const frame = await client.nextJson();
    expect(frame).toEqual({ message: 'Forbidden', connectionId: api.connectionIds()[0], requestId: expect.stringMatching(AWS_ID) });
  });

  it('sends a returnResponse route handler body back as a frame, and nothing for a route without it', async () => {
    const { api } = await startApi({
      routes: {
        quiet: { handler: async () => ({ statusCode: 200, body: 'unsent' }) },
        echo: { handler: async (event) => ({ statusCode: 200, body: `echo:${event.body}` }), returnResponse: true },
      },
    });
    const client = await connect(api.websocketUrl);
    client.ws.send(JSON.stringify({ action: 'quiet' }));
    client.ws.send(JSON.stringify({ action: 'echo' }));
    expect(await client.next()).toEqual({ text: 'echo:{"action":"echo"}', binary: false });
  });

  it('a throwing handler gives the Internal server error frame and the socket stays open', async () => {
    const { api, errors } = await startApi({
      routes: {
        $default: {
          handler: async (event) => {
            if (event.body === 'fail') throw new Error('bug');
            return { statusCode: 200, body: 'fine' };
          },
          returnResponse: true,
        },
      },
    });
    const client = await connect(api.websocketUrl);
    client.ws.send('fail');
    expect(await client.nextJson()).toEqual({
      message: 'Internal server error',
      connectionId: api.connectionIds()[0],
      requestId: expect.stringMatching(AWS_ID),
    });
    client.ws.send('again');
    expect((await client.next()).text).toBe('fine');
    expect(errors.map((e) => e.where)).toEqual(['$default']);
  });

  it("routes one connection's messages one at a time, in arrival order", async () => {
    const log: string[] = [];
    const { api } = await startApi({
      routes: {
        $default: {
          handler: async (event) => {
            log.push(`start ${event.body}`);
            await sleep(event.body === '1' ? 100 : 0);
            log.push(`end ${event.body}`);
          },
        },
      },
    });
    const client = await connect(api.websocketUrl);
    for (const n of ['1', '2', '3']) client.ws.send(n);
    await vi.waitFor(() => expect(log).toHaveLength(6));
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });
});

describe('frame, message and time limits', () => {
  it('closes with 1009 on a single frame over maxFrameBytes and reports it to $disconnect', async () => {
    const fallback = recorder();
    const disconnect = recorder();
    const { api } = await startApi({ routes: { $default: fallback, $disconnect: disconnect } });
    const client = await connect(api.websocketUrl);
    client.ws.send('x'.repeat(1025));
    expect((await client.closed).code).toBe(1009);
    await vi.waitFor(() => expect(disconnect.events).toHaveLength(1));
    expect(disconnect.events[0]!.requestContext).toMatchObject({ eventType: 'DISCONNECT', disconnectStatusCode: 1009 });
    expect(fallback.events).toHaveLength(0);
  });

  it('closes with 1009 on a fragmented message over maxMessageBytes whose frames are each within maxFrameBytes', async () => {
    const fallback = recorder();
    const { api } = await startApi({ routes: { $default: fallback } });
    const client = await connect(api.websocketUrl);
    client.ws.send('a'.repeat(1000), { fin: false });
    client.ws.send('b'.repeat(1000), { fin: false });
    client.ws.send('c'.repeat(1000), { fin: true });
    expect((await client.closed).code).toBe(1009);
    expect(fallback.events).toHaveLength(0);
  });

  it('reassembles a fragmented message within both limits into one event', async () => {
    const fallback = recorder();
    const { api } = await startApi({ routes: { $default: fallback } });
    const client = await connect(api.websocketUrl);
    client.ws.send('a'.repeat(1000), { fin: false });
    client.ws.send('b'.repeat(1000), { fin: true });
    await vi.waitFor(() => expect(fallback.events).toHaveLength(1));
    expect(fallback.events[0]!.body).toBe('a'.repeat(1000) + 'b'.repeat(1000));
  });

  it('closes an idle connection with 1001 and $disconnect reports 1001 Going away', async () => {
    const disconnect = recorder();
    const { api } = await startApi({ limits: { ...LIMITS, idleTimeoutSeconds: 1 }, routes: { $disconnect: disconnect } });
    const client = await connect(api.websocketUrl);
    expect(await client.closed).toEqual({ code: 1001, reason: 'Going away' });
    await vi.waitFor(() => expect(disconnect.events).toHaveLength(1));
    expect(disconnect.events[0]!.requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      messageId: null,
      disconnectStatusCode: 1001,
      disconnectReason: 'Going away',
    });
    expect(api.connectionIds()).toEqual([]);
  });

  it('closes a connection with 1001 when it reaches maxConnectionSeconds', async () => {
    const { api } = await startApi({ limits: { ...LIMITS, maxConnectionSeconds: 1 }, routes: {} });
    const client = await connect(api.websocketUrl);
    expect((await client.closed).code).toBe(1001);
  });

  it("a client's close reaches $disconnect with the client's code and reason", async () => {
    const disconnect = recorder();
    const { api } = await startApi({ routes: { $disconnect: disconnect } });
    const client = await connect(api.websocketUrl);
    client.ws.close(4000, 'bye');
    await vi.waitFor(() => expect(disconnect.events).toHaveLength(1));
    expect(disconnect.events[0]!.requestContext).toMatchObject({ disconnectStatusCode: 4000, disconnectReason: 'bye' });
  });
});

describe('@connections management API through the real SDK client', () => {
  it('posts to, describes and deletes a connection whose id ends in a URL-encoded "="', async () => {
    const disconnect = recorder();
    const { api } = await startApi({ routes: { $default: recorder(), $disconnect: disconnect } });
    const client = await connect(api.websocketUrl);
    const [connectionId] = api.connectionIds();
    expect(connectionId).toMatch(AWS_ID);
    const sdk = managementClient(api);

    const posted = await sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"event":"hi"}' }));
    expect(posted.$metadata.httpStatusCode).toBe(200);
    expect(await client.next()).toEqual({ text: '{"event":"hi"}', binary: false });

    const activeSince = Date.now();
    client.ws.send('activity');
    await vi.waitFor(async () => {
      const info = await sdk.send(new GetConnectionCommand({ ConnectionId: connectionId }));
      expect(info.ConnectedAt).toBeInstanceOf(Date);
      expect(info.ConnectedAt!.getTime()).toBeLessThanOrEqual(activeSince);
      expect(info.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(activeSince);
      expect(info.Identity).toEqual({ SourceIp: '127.0.0.1' });
    });

    const deleted = await sdk.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    expect(await client.closed).toEqual({ code: 1000, reason: 'Connection Closed Normally' });
    await vi.waitFor(() => expect(disconnect.events).toHaveLength(1));
    expect(disconnect.events[0]!.requestContext).toMatchObject({ connectionId, disconnectStatusCode: 1000 });
  });

  it('answers 410 GoneException for an unknown id and for a connection that has closed', async () => {
    const { api } = await startApi({ routes: {} });
    const client = await connect(api.websocketUrl);
    const [connectionId] = api.connectionIds();
    const sdk = managementClient(api);
    client.ws.close();
    await client.closed;
    await vi.waitFor(() => expect(api.connectionIds()).toEqual([]));

    for (const id of ['L0SM9cOFvHcCIhw=', connectionId!]) {
      const error = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' })).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'GoneException', $metadata: { httpStatusCode: 410 } });
    }
    const getError = await sdk.send(new GetConnectionCommand({ ConnectionId: connectionId })).catch((e: unknown) => e);
    expect(getError).toMatchObject({ name: 'GoneException', $metadata: { httpStatusCode: 410 } });
  });

  it('sends data that is not UTF-8 as a binary frame', async () => {
    const { api } = await startApi({ routes: {} });
    const client = await connect(api.websocketUrl);
    await managementClient(api).send(
      new PostToConnectionCommand({ ConnectionId: api.connectionIds()[0], Data: new Uint8Array([0xc3, 0x28, 0x00]) }),
    );
    expect(await client.next()).toEqual({ text: 'c32800', binary: true });
  });

  it('answers 413 PayloadTooLargeException for data over maxMessageBytes', async () => {
    const { api } = await startApi({ routes: {} });
    await connect(api.websocketUrl);
    const error = await managementClient(api)
      .send(new PostToConnectionCommand({ ConnectionId: api.connectionIds()[0], Data: 'x'.repeat(2049) }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PayloadTooLargeException', $metadata: { httpStatusCode: 413 } });
  });

  it('answers 404 with a JSON message for any other path or method', async () => {
    const { api } = await startApi({ routes: {} });
    for (const [method, path] of [
      ['GET', '/live/other'],
      ['POST', '/prod/@connections/abc='],
      ['PUT', '/live/@connections/abc='],
    ] as const) {
      const response = await fetch(`http://127.0.0.1:${api.port}${path}`, { method });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ message: expect.any(String) });
    }
  });
});

describe('account throttle', () => {
  const tinyBucket = { ...LIMITS, accountRatePerSecond: 1, accountBurst: 1 };

  it('refuses upgrades beyond the burst with 429', async () => {
    const { api } = await startApi({ limits: tinyBucket, routes: {} });
    const results = await Promise.all([1, 2, 3].map(() => attempt(api.websocketUrl)));
    expect(results.filter((r) => 'client' in r).length).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => 'status' in r && r.status === 429).length).toBeGreaterThanOrEqual(1);
  });

  it('refuses upgrades past the new-connections-per-second quota with 429 while requests still have room, and accepts again a second later', async () => {
    const { api } = await startApi({ limits: { ...LIMITS, newConnectionsPerSecond: 3 }, routes: {} });
    const results = await Promise.all(Array.from({ length: 8 }, () => attempt(api.websocketUrl)));
    expect(results.filter((r) => 'client' in r)).toHaveLength(3);
    expect(results.filter((r) => 'status' in r && r.status === 429)).toHaveLength(5);
    // The bucket refills at 3/s: a later upgrade gets in (polled, not timed).
    const deadline = Date.now() + 3000;
    let later = await attempt(api.websocketUrl);
    while ('status' in later && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      later = await attempt(api.websocketUrl);
    }
    expect('client' in later).toBe(true);
  });

  it('answers messages beyond the burst with the Too Many Requests frame and does not route them', async () => {
    const fallback = recorder();
    const { api } = await startApi({ limits: tinyBucket, routes: { $default: fallback } });
    const client = await connect(api.websocketUrl); // takes the only token
    for (let i = 0; i < 5; i++) client.ws.send(`m${i}`);
    expect(await client.nextJson()).toEqual({
      message: 'Too Many Requests',
      connectionId: api.connectionIds()[0],
      requestId: expect.stringMatching(AWS_ID),
    });
    expect(fallback.events.length).toBeLessThan(5);
  });

  it('answers @connections calls beyond the burst with 429 LimitExceededException', async () => {
    const { api } = await startApi({ limits: tinyBucket, routes: {} });
    await connect(api.websocketUrl);
    const sdk = managementClient(api);
    const outcomes = await Promise.all(
      [1, 2, 3].map(() => sdk.send(new GetConnectionCommand({ ConnectionId: api.connectionIds()[0] })).catch((e: unknown) => e)),
    );
    expect(outcomes).toContainEqual(
      expect.objectContaining({ name: 'LimitExceededException', $metadata: expect.objectContaining({ httpStatusCode: 429 }) }),
    );
  });
});

describe('a client that stops reading', () => {
  it('is closed with 1013 once its outbound buffer passes the cap, posts to it answer 410, and posts to others never wait on it', async () => {
    const { api } = await startApi({ routes: {}, limits: { ...LIMITS, maxMessageBytes: 128 * 1024 }, maxOutboundBufferBytes: 256 * 1024 });
    const slow = await connect(api.websocketUrl);
    const healthy = await connect(api.websocketUrl);
    const [slowId, healthyId] = api.connectionIds();
    // The client's socket stops reading: the kernel buffers fill, then the gateway's.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const client = managementClient(api);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let gone = false;
    const slowestHealthyPostMs: number[] = [];
    for (let i = 0; i < 400 && !gone; i++) {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: slowId, Data: chunk }));
      } catch (error) {
        expect((error as Error).name).toBe('GoneException');
        gone = true;
      }
      const started = performance.now();
      await client.send(new PostToConnectionCommand({ ConnectionId: healthyId, Data: Buffer.from(`tick ${i}`) }));
      slowestHealthyPostMs.push(performance.now() - started);
    }
    expect(gone).toBe(true);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    // 1013 when the close frame got out before the cut-off, 1006 when it was cut off first.
    expect([1006, 1013]).toContain((await slow.closed).code);
    expect(Math.max(...slowestHealthyPostMs)).toBeLessThan(500);
    expect((await healthy.next()).text).toBe('tick 0');
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: slowId, Data: chunk }))).rejects.toMatchObject({ name: 'GoneException' });
  });
});

describe('clients that leave mid-request never end the process', () => {
  /** Collects unhandled rejections while `work` runs: each one would have killed `npm start`. */
  async function unhandledDuring(work: () => Promise<void>): Promise<unknown[]> {
    const seen: unknown[] = [];
    const record = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', record);
    try {
      await work();
      await sleep(100); // let late rejections surface
    } finally {
      process.off('unhandledRejection', record);
    }
    return seen;
  }

  /** A $default route that answers after the client may be gone, as a Lambda taking 50 ms does. */
  const slowEcho = { $default: { handler: async () => (await sleep(50), { statusCode: 200, body: 'late answer' }), returnResponse: true } };

  it('30 clients in a row that send a frame and drop the socket before the answer leave the API serving', async () => {
    const { api } = await startApi({ routes: slowEcho });
    const seen = await unhandledDuring(async () => {
      for (let i = 0; i < 30; i++) {
        const client = await connect(api.websocketUrl);
        client.ws.send('hello');
        client.ws.terminate();
        await client.closed;
      }
      await sleep(100);
    });
    expect(seen).toEqual([]);
    const survivor = await connect(api.websocketUrl);
    survivor.ws.send('still there?');
    expect((await survivor.next()).text).toBe('late answer');
  });

  it('a close frame whose reason is not UTF-8, sent while a request runs, is survived', async () => {
    const { api } = await startApi({ routes: slowEcho });
    const seen = await unhandledDuring(async () => {
      const client = await connect(api.websocketUrl);
      client.ws.send('hello');
      client.ws.close(4000, Buffer.from([0xc3, 0x28]) as unknown as string);
      await client.closed;
      await sleep(100);
    });
    expect(seen).toEqual([]);
    const survivor = await connect(api.websocketUrl);
    survivor.ws.send('again');
    expect((await survivor.next()).text).toBe('late answer');
  });

  it('taking the region down while requests run, then restoring it, is survived', async () => {
    const { api } = await startApi({ routes: slowEcho });
    const seen = await unhandledDuring(async () => {
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect(api.websocketUrl)));
      for (const client of clients) for (let i = 0; i < 5; i++) client.ws.send(`m${i}`);
      await sleep(20); // the frames are in the gateway, their answers not yet sent
      api.setAvailable(false);
      await Promise.all(clients.map((client) => client.closed));
      await sleep(300);
    });
    expect(seen).toEqual([]);
    api.setAvailable(true);
    const survivor = await connect(api.websocketUrl);
    survivor.ws.send('back');
    expect((await survivor.next()).text).toBe('late answer');
  });
});

describe('availability and shutdown', () => {
  it('setAvailable(false) closes live sockets with 1001 and refuses upgrades with 503 until it is set back', async () => {
    const disconnect = recorder();
    const { api } = await startApi({ routes: { $disconnect: disconnect } });
    const client = await connect(api.websocketUrl);
    api.setAvailable(false);
    expect((await client.closed).code).toBe(1001);
    await vi.waitFor(() => expect(disconnect.events).toHaveLength(1));
    expect(await refusal(api.websocketUrl)).toBe(503);
    api.setAvailable(true);
    await connect(api.websocketUrl);
    expect(api.connectionIds()).toHaveLength(1);
  });

  it('stop() closes every socket with 1001, fires $disconnect for each and frees the port', async () => {
    const disconnect = recorder();
    const { api } = await startApi({ routes: { $disconnect: disconnect } });
    const clients = await Promise.all([connect(api.websocketUrl), connect(api.websocketUrl)]);
    const ids = api.connectionIds();
    await api.stop();
    expect(await Promise.all(clients.map((c) => c.closed.then((closed) => closed.code)))).toEqual([1001, 1001]);
    expect(disconnect.events.map((e) => e.requestContext.connectionId).sort()).toEqual([...ids].sort());
    expect(api.connectionIds()).toEqual([]);
    await expect(attempt(api.websocketUrl)).rejects.toThrow(/ECONNREFUSED/);
  });
});
