import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTables, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';
import { LOCAL_CREDENTIALS } from '../../local/http';
import { claimsToContext, type Claims } from './auth';
import { connectionsClient, dynamoClient, snsClient } from './aws-clients';
import { createConnectHandler, createMessageRouterHandler } from './handlers';
import { MessageHistory } from './history';
import { PUBLISH_ANSWER_DEADLINE_MS } from './publisher';
import { EnvelopeSchema, envelopeFrame, type Envelope, type MessageFrame } from './protocol';
import { connectionsTable, dedupTable, historyTable, physicalTableName, presenceTable, sequencesTable, subscriptionsTable, type TableLayout } from './tables';
import { REQUEST_TIMEOUT_MS, runtimeFromEnv } from './runtime';
import { recordingLog, recordingPorts, TABLE_ENV } from './testing';

const US = 'us-east-1';
const EU = 'eu-west-1';

/** A TCP server that takes connections and never answers: a frozen DynamoDB. */
async function frozenServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: a DynamoDB that is down. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** The router's environment in us-east-1 of two regions, its DynamoDB at `dynamodbEndpoint`. */
const routerEnv = (dynamodbEndpoint: string, overrides: Record<string, string> = {}) => ({
  AWS_REGION: US,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  ...TABLE_ENV,
  REGIONS: `${US},${EU}`,
  TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:relaymesh-fanout',
  CONNECTIONS_ENDPOINT: 'http://127.0.0.1:1/live',
  AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
  AWS_ENDPOINT_URL_SNS: 'http://127.0.0.1:1',
  ...overrides,
});

function routerAgainst(dynamodbEndpoint: string) {
  const runtime = runtimeFromEnv(routerEnv(dynamodbEndpoint), { dynamo: dynamoClient, sns: snsClient, connections: connectionsClient }, recordingPorts());
  const route = createMessageRouterHandler(runtime);
  const publish = async () => {
    const started = Date.now();
    const result = await route({
      body: JSON.stringify({ action: 'publish', channel: 'room:1', data: 'x', id: 'm-1', ref: 'r1' }),
      requestContext: { connectionId: 'c-1', authorizer: claimsToContext({ sub: 'u', subscribe: ['*'], publish: ['*'] }) },
    });
    return { answer: JSON.parse((result as { body: string }).body) as Record<string, unknown>, elapsedMs: Date.now() - started };
  };
  return { publish, log: runtime.log as ReturnType<typeof recordingLog>, destroy: () => runtime.dynamo.destroy() };
}

describe('the message router when DynamoDB is down or frozen', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('answers a publish 5030 (retry), not 5000, when DynamoDB refuses connections, logging the failure at error and the invocation at debug', async () => {
    const router = routerAgainst(await closedPort());
    cleanups.push(router.destroy);
    const { answer } = await router.publish();
    expect(answer).toMatchObject({ type: 'error', code: 5030, retryable: true, ref: 'r1' });
    expect(router.log.lines).toEqual([
      { level: 'error', message: 'router failure', fields: { action: 'publish', error: expect.objectContaining({ code: 'ECONNREFUSED' }) } },
      { level: 'debug', message: 'invocation', fields: { connectionId: 'c-1', durationMs: expect.any(Number) } },
    ]);
  });

  it('answers a publish 5030 within the SDK attempts × the 3 s request timeout when DynamoDB accepts and never answers, long before API Gateway\'s 29 s', async () => {
    const frozen = await frozenServer();
    cleanups.push(frozen.close);
    const router = routerAgainst(frozen.endpoint);
    cleanups.push(router.destroy);
    const { answer, elapsedMs } = await router.publish();
    expect(answer).toMatchObject({ type: 'error', code: 5030, retryable: true, ref: 'r1' });
    expect(elapsedMs).toBeLessThan(29_000);
    expect(elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
  }, 40_000);
});

describe('the history and presence actions, through the router on DynamoDB Local', () => {
  const APP = 'router';
  const table = (layout: TableLayout) => physicalTableName(APP, layout);
  let ddb: DynamoDbLocal;
  const cleanups: Array<() => unknown> = [];
  let counter = 0;
  const freshChannel = () => `room:h${++counter}`;

  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    await createTables(new DynamoDBClient({ region: US, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS }), APP);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await ddb?.stop();
  });

  /** The us-east-1 router and $connect handler on DynamoDB Local; SNS records what it is given. */
  function region(overrides: Record<string, string> = {}) {
    const published: Envelope[] = [];
    const sns = {
      async send(command: PublishCommand) {
        published.push(JSON.parse(command.input.Message!) as Envelope);
        return {};
      },
    } as unknown as SNSClient;
    const tables = { CONNECTIONS_TABLE: connectionsTable, SUBSCRIPTIONS_TABLE: subscriptionsTable, PRESENCE_TABLE: presenceTable, SEQUENCES_TABLE: sequencesTable, HISTORY_TABLE: historyTable, DEDUP_TABLE: dedupTable };
    const env = routerEnv(ddb.endpoint, { ...Object.fromEntries(Object.entries(tables).map(([name, layout]) => [name, table(layout)])), ...overrides });
    const runtime = runtimeFromEnv(env, { dynamo: dynamoClient, sns: () => sns, connections: connectionsClient }, recordingPorts());
    cleanups.push(() => runtime.dynamo.destroy());
    const connect = createConnectHandler(runtime);
    const route = createMessageRouterHandler(runtime);
    const history = new MessageHistory({ dynamo: runtime.dynamo, sequencesTableName: table(sequencesTable), historyTableName: table(historyTable), ttlSeconds: 3600, maxPerChannel: 1000 });
    /** A new connection holding `claims`: each frame sent resolves with the frame that answers it and that answer's size. */
    async function connection(claims: Partial<Claims> = {}) {
      const connectionId = `conn-${++counter}`;
      const authorizer = claimsToContext({ sub: 'tester', subscribe: ['*'], publish: ['*'], ...claims });
      await connect({ requestContext: { connectionId, authorizer } });
      /** `receivedAt`: when API Gateway received the frame, default now. */
      const send = async (frame: object | string, receivedAt = Date.now()) => {
        const body = typeof frame === 'string' ? frame : JSON.stringify(frame);
        const result = (await route({ body, requestContext: { connectionId, authorizer, requestTimeEpoch: receivedAt } })) as { body: string };
        return { answer: JSON.parse(result.body) as Record<string, any>, bytes: Buffer.byteLength(result.body) };
      };
      return { connectionId, send, ask: async (frame: object | string, receivedAt?: number) => (await send(frame, receivedAt)).answer };
    }
    return { connection, published, history };
  }

  const ofOrigin = (answer: Record<string, any>, origin: string) => (answer.messages as MessageFrame[]).filter((m) => m.origin === origin).map((m) => [m.seq, m.data]);

  it('history since a vector answers one frame with exactly the messages after it, in seq order per origin, and where they end', async () => {
    const us = region();
    const client = await us.connection();
    const channel = freshChannel();
    for (let i = 1; i <= 5; i++) expect(await client.ask({ action: 'publish', channel, data: `us-${i}` })).toMatchObject({ type: 'ack', seq: i });
    // What eu-west-1 published, as a worker here stores it before fanning it out.
    const ts = Date.now();
    await us.history.storeReceived([1, 2, 3].map((seq) => ({ v: 1, id: `eu-${seq}`, channel, data: `eu-${seq}`, origin: EU, ts: ts + seq, class: 'critical', seq, clientId: false, kind: 'message' }) as const));

    const answer = await client.ask({ action: 'history', channel, since: { [US]: 2, [EU]: 1 }, ref: 'h1' });
    expect(answer).toMatchObject({ type: 'history', channel, missing: [], position: { [US]: 5, [EU]: 3 }, hasMore: false, ref: 'h1' });
    expect(ofOrigin(answer, US)).toEqual([[3, 'us-3'], [4, 'us-4'], [5, 'us-5']]);
    expect(ofOrigin(answer, EU)).toEqual([[2, 'eu-2'], [3, 'eu-3']]);
    expect(answer.messages[0]).toEqual({ type: 'message', channel, data: 'us-3', id: expect.any(String), origin: US, ts: expect.any(Number), class: 'critical', seq: 3 });
  });

  it('answers a publish frame that reached the API longer ago than a client waits 5030 with its id, unstored, so its retry is the one that counts', async () => {
    const us = region();
    const client = await us.connection();
    const channel = freshChannel();
    const frame = { action: 'publish', channel, data: 'late', id: 'late-1', ref: 'p1' };
    const late = await client.ask(frame, Date.now() - PUBLISH_ANSWER_DEADLINE_MS - 500);
    expect(late).toMatchObject({ type: 'error', code: 5030, retryable: true, id: 'late-1', ref: 'p1' });
    expect(us.published).toEqual([]);
    expect(await client.ask(frame)).toMatchObject({ type: 'ack', id: 'late-1', seq: 1, ref: 'p1' });
  });

  it('history limit returns the last N messages, newest last', async () => {
    const client = await region().connection();
    const channel = freshChannel();
    for (let i = 1; i <= 6; i++) await client.ask({ action: 'publish', channel, data: i });
    const answer = await client.ask({ action: 'history', channel, limit: 4 });
    expect((answer.messages as MessageFrame[]).map((m) => m.data)).toEqual([3, 4, 5, 6]);
    expect(answer).toMatchObject({ position: { [US]: 6, [EU]: 0 }, hasMore: false });
  });

  it('refuses history of a channel the token may not subscribe to with 4301, as subscribe does', async () => {
    const client = await region().connection({ subscribe: ['room:*'] });
    expect(await client.ask({ action: 'history', channel: 'secret:1', limit: 5, ref: 'h2' })).toMatchObject({ type: 'error', code: 4301, retryable: false, ref: 'h2' });
    expect(await client.ask({ action: 'history', channel: freshChannel(), limit: 5 })).toMatchObject({ type: 'history', messages: [] });
  });

  it.each([
    ['a limit over 100', { action: 'history', channel: 'room:x', limit: 101, ref: 'e' }, 4002],
    ['neither since nor limit', { action: 'history', channel: 'room:x', ref: 'e' }, 4002],
    ['a since that is not a vector', { action: 'history', channel: 'room:x', since: { 'us-east-1': 'latest' }, ref: 'e' }, 4002],
    ['an invalid channel', { action: 'history', channel: 'room#x', limit: 5, ref: 'e' }, 4003],
  ])('answers a history frame with %s with the coded error %i and its ref', async (_case, frame, code) => {
    const client = await region().connection();
    expect(await client.ask(frame)).toMatchObject({ type: 'error', code, retryable: false, ref: 'e' });
  });

  it('keeps every history answer under 128 KB: ten 30 KB messages come in pages, and following hasMore brings each once', async () => {
    const client = await region().connection();
    const channel = freshChannel();
    const big = (i: number) => `${i}:${'x'.repeat(30 * 1024)}`;
    for (let i = 1; i <= 10; i++) await client.ask({ action: 'publish', channel, data: big(i) });
    const pages: Array<{ answer: Record<string, any>; bytes: number }> = [await client.send({ action: 'history', channel, since: {} })];
    while (pages.at(-1)!.answer.hasMore) pages.push(await client.send({ action: 'history', channel, since: pages.at(-1)!.answer.position }));
    expect(pages.length).toBeGreaterThan(2);
    for (const { bytes } of pages) expect(bytes).toBeLessThanOrEqual(128 * 1024);
    expect(pages.flatMap(({ answer }) => (answer.messages as MessageFrame[]).map((m) => m.data))).toEqual(Array.from({ length: 10 }, (_, i) => big(i + 1)));
  });

  it("counts history frames against the connection's rate limit: past the burst they are answered 4290 with the wait", async () => {
    const client = await region({ REQUESTS_PER_SECOND: '0.1', REQUEST_BURST: '3' }).connection();
    const channel = freshChannel();
    for (let i = 0; i < 3; i++) expect(await client.ask({ action: 'history', channel, limit: 1 })).toMatchObject({ type: 'history' });
    expect(await client.ask({ action: 'history', channel, limit: 1 })).toMatchObject({ type: 'error', code: 4290, retryable: true, retryAfterMs: expect.any(Number) });
  });

  it('stores presence data set at subscribe, lists it in members pages and carries it in the join event; presence: true still joins without data', async () => {
    const us = region();
    const [ada, bob] = [await us.connection({ sub: 'ada' }), await us.connection({ sub: 'bob' })];
    const channel = freshChannel();
    const data = { name: 'Ada', status: 'away', '': ['empty key kept'] };
    expect(await ada.ask({ action: 'subscribe', channel, presence: { data } })).toMatchObject({ type: 'ack', action: 'subscribe' });
    expect(await bob.ask({ action: 'subscribe', channel, presence: true })).toMatchObject({ type: 'ack', action: 'subscribe' });

    const listed = await bob.ask({ action: 'presence', channel });
    expect(listed.members).toHaveLength(2);
    expect(listed.members).toEqual(
      expect.arrayContaining([
        { sub: 'ada', connectionId: ada.connectionId, region: US, data },
        { sub: 'bob', connectionId: bob.connectionId, region: US },
      ]),
    );
    const joins = us.published.filter((e) => e.channel === channel).map((e) => envelopeFrame(EnvelopeSchema.parse(e)));
    expect(joins).toEqual([
      expect.objectContaining({ type: 'presence', event: 'join', member: { sub: 'ada', connectionId: ada.connectionId, region: US, data } }),
      expect.objectContaining({ type: 'presence', event: 'join', member: { sub: 'bob', connectionId: bob.connectionId, region: US } }),
    ]);
  });

  it('refuses presence data over 1 KB with 4004 and neither subscribes nor announces the member', async () => {
    const us = region();
    const client = await us.connection();
    const channel = freshChannel();
    const answer = await client.ask({ action: 'subscribe', channel, presence: { data: 'x'.repeat(2000) }, ref: 'p' });
    expect(answer).toMatchObject({ type: 'error', code: 4004, retryable: false, ref: 'p', message: expect.stringContaining('presence.data') });
    expect(await client.ask({ action: 'presence', channel })).toMatchObject({ members: [] });
    expect(us.published).toEqual([]);
  });
});
