import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../lambdas/core/errors';
import { channelRegionKey } from '../../lambdas/core/tables';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { eventually, SMALL_CHANNELS, startTestCloud, TestClient, tokenFor } from './support';

const US = 'us-east-1';
const EU = 'eu-west-1';

describe('Relaymesh end to end on the local cloud, two regions', () => {
  let cloud: LocalCloud;
  const clients: TestClient[] = [];
  const connect = async (region: string, claims?: Parameters<typeof tokenFor>[0]) => {
    const client = await TestClient.connect(cloud.regions[region]!.websocketUrl, await tokenFor(claims));
    clients.push(client);
    return client;
  };
  const dynamo = (region: string) =>
    DynamoDBDocumentClient.from(new DynamoDBClient({ region, endpoint: cloud.regions[region]!.dynamodbEndpoint, credentials: LOCAL_CREDENTIALS }));

  beforeAll(async () => {
    // A poison message must reach the DLQ within the test: two receives, two-second visibility.
    cloud = await startTestCloud({
      eventClasses: { critical: { maxReceiveCount: 2, visibilityTimeoutSeconds: 2 } },
      capacity: SMALL_CHANNELS,
      limits: { maxPublishDataBytes: 8 * 1024 },
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await cloud?.stop();
  });

  it('delivers one publish in region B exactly once to two subscribers in region A and one in region B', async () => {
    const [a1, a2, b1, publisher] = await Promise.all([connect(US), connect(US), connect(EU), connect(EU)]);
    for (const client of [a1, a2, b1]) {
      expect(await client.request({ action: 'subscribe', channel: 'room:fanout' })).toMatchObject({ type: 'ack', action: 'subscribe' });
    }
    const postedBefore = (region: string) => cloud.metrics()[`${region}/critical`]?.posted ?? 0;
    const [usBefore, euBefore] = [postedBefore(US), postedBefore(EU)];
    const ack = await publisher.request({ action: 'publish', channel: 'room:fanout', data: { text: 'hello' } });
    expect(ack).toMatchObject({ type: 'ack', action: 'publish', channel: 'room:fanout', id: expect.any(String) });

    for (const client of [a1, a2, b1]) {
      const message = await client.waitFor((f) => f.type === 'message');
      expect(message).toMatchObject({ channel: 'room:fanout', data: { text: 'hello' }, id: ack.id, origin: EU, ts: expect.any(Number) });
    }
    // Each region's worker posted only to its own subscribers: 2 in us-east-1, 1 in eu-west-1.
    await eventually(async () => postedBefore(US) - usBefore === 2 && postedBefore(EU) - euBefore === 1);
    // A duplicate would come before a later message of the same publisher: wait for that one.
    await publisher.request({ action: 'publish', channel: 'room:fanout', data: 'marker' });
    for (const client of [a1, a2, b1]) await client.waitFor((f) => f.type === 'message' && f.data === 'marker');
    for (const client of [a1, a2, b1]) expect(client.messages('room:fanout').filter((m) => m.id === ack.id)).toHaveLength(1);
    expect(publisher.messages()).toHaveLength(0);
  });

  it('answers a publish outside the token claims with a coded error and delivers it nowhere', async () => {
    const watcher = await connect(US);
    await watcher.request({ action: 'subscribe', channel: 'secret:1' });
    const limited = await connect(EU, { subscribe: ['room:*'], publish: ['room:*'] });

    const refused = await limited.request({ action: 'publish', channel: 'secret:1', data: 'leak' });
    expect(refused).toMatchObject({ type: 'error', code: ERRORS.FORBIDDEN_PUBLISH.code, retryable: false });
    const refusedSubscribe = await limited.request({ action: 'subscribe', channel: 'secret:1' });
    expect(refusedSubscribe).toMatchObject({ type: 'error', code: ERRORS.FORBIDDEN_SUBSCRIBE.code });

    // A publish that is allowed, after the refused one, proves the pipeline ran meanwhile.
    const allowed = await connect(EU);
    await allowed.request({ action: 'publish', channel: 'secret:1', data: 'after' });
    await watcher.waitFor((f) => f.type === 'message' && f.data === 'after');
    expect(watcher.messages('secret:1').map((m) => m.data)).toEqual(['after']);
  });

  it('refuses a connection without a token or with a forged one (401)', async () => {
    await expect(TestClient.connect(cloud.regions[US]!.websocketUrl, undefined)).rejects.toThrow('401');
    await expect(TestClient.connect(cloud.regions[US]!.websocketUrl, 'forged.token.value')).rejects.toThrow('401');
  });

  it('deletes a vanished connection and its subscription when API Gateway answers 410 Gone', async () => {
    // A connection whose $disconnect never ran: items in DynamoDB, no socket at API Gateway.
    const ghost = 'GhostConn0000A=';
    const db = dynamo(US);
    await db.send(new PutCommand({ TableName: cloud.regions[US]!.env.CONNECTIONS_TABLE, Item: { connectionId: ghost, region: US, sub: 'ghost', channels: new Set(['room:ghost']) } }));
    await db.send(
      new PutCommand({ TableName: cloud.regions[US]!.env.SUBSCRIPTIONS_TABLE, Item: { channelRegion: channelRegionKey(US, 'room:ghost'), connectionId: ghost, channel: 'room:ghost' } }),
    );
    const live = await connect(US);
    await live.request({ action: 'subscribe', channel: 'room:ghost' });
    const publisher = await connect(US);
    await publisher.request({ action: 'publish', channel: 'room:ghost', data: 'boo' });

    await live.waitFor((f) => f.type === 'message' && f.data === 'boo');
    await eventually(async () => !(await db.send(new GetCommand({ TableName: cloud.regions[US]!.env.CONNECTIONS_TABLE, Key: { connectionId: ghost } }))).Item);
    const remaining = await db.send(
      new QueryCommand({
        TableName: cloud.regions[US]!.env.SUBSCRIPTIONS_TABLE,
        KeyConditionExpression: 'channelRegion = :k',
        ExpressionAttributeValues: { ':k': channelRegionKey(US, 'room:ghost') },
      }),
    );
    expect(remaining.Items?.map((i) => i.connectionId)).toEqual([expect.not.stringMatching(ghost)]);
  });

  it('moves a poison message to the DLQ after maxReceiveCount while other messages keep flowing', async () => {
    const region = cloud.regions[US]!;
    const sqs = new SQSClient({ region: US, endpoint: region.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    const subscriber = await connect(US);
    await subscriber.request({ action: 'subscribe', channel: 'room:poison' });
    await sqs.send(new SendMessageCommand({ QueueUrl: region.queues.critical.queueUrl, MessageBody: '{"this is":"not an envelope"}' }));
    const publisher = await connect(EU);
    await publisher.request({ action: 'publish', channel: 'room:poison', data: 'still flowing' });
    await subscriber.waitFor((f) => f.type === 'message' && f.data === 'still flowing');

    const dead = await eventually(async () => {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: region.queues.critical.dlqUrl, WaitTimeSeconds: 1 }));
      return received.Messages?.[0];
    }, 'the poison message in the DLQ');
    expect(dead.Body).toBe('{"this is":"not an envelope"}');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: region.queues.critical.dlqUrl, ReceiptHandle: dead.ReceiptHandle }));
  });

  it('answers every malformed frame with a coded error and keeps the socket open', async () => {
    const client = await connect(EU);
    const cases: Array<[string, number]> = [
      ['this is not json', ERRORS.INVALID_JSON.code],
      ['{"action":"teleport"}', ERRORS.UNKNOWN_ACTION.code],
      ['{"action":"subscribe"}', ERRORS.INVALID_FRAME.code],
      ['{"action":"publish","channel":"room:1"}', ERRORS.INVALID_FRAME.code],
      ['{"action":"subscribe","channel":"bad#channel"}', ERRORS.INVALID_CHANNEL.code],
      [JSON.stringify({ action: 'publish', channel: 'room:1', data: 'x'.repeat(10 * 1024) }), ERRORS.DATA_TOO_LARGE.code],
    ];
    for (const [raw, code] of cases) {
      const before = client.frames.length;
      client.sendRaw(raw);
      const answer = await client.waitFor((f) => client.frames.indexOf(f) >= before && f.type === 'error');
      expect(answer.code, raw.slice(0, 60)).toBe(code);
    }
    expect(await client.request({ action: 'ping' })).toMatchObject({ type: 'pong', connectionId: expect.any(String) });
  });

  it('closes the socket with 1009 for a message over 128 KB, as API Gateway does', async () => {
    const client = await connect(US);
    client.sendRaw(JSON.stringify({ action: 'publish', channel: 'room:1', data: 'x'.repeat(130 * 1024) }));
    expect(await client.waitForClose()).toBe(1009);
  });

  it('removes the subscriptions of a client that disconnects', async () => {
    const client = await connect(EU);
    await client.request({ action: 'subscribe', channel: 'room:leave' });
    client.close();
    const db = dynamo(EU);
    await eventually(async () => {
      const page = await db.send(
        new QueryCommand({
          TableName: cloud.regions[US]!.env.SUBSCRIPTIONS_TABLE,
          KeyConditionExpression: 'channelRegion = :k',
          ExpressionAttributeValues: { ':k': channelRegionKey(EU, 'room:leave') },
        }),
      );
      return page.Count === 0;
    });
  });

  it('the edge sends clients to the first healthy region and around a drained one', async () => {
    const ask = async () => (await fetch(`${cloud.edge.url}/v1/connect`)).json() as Promise<{ region: string; websocketUrl: string }>;
    expect(await ask()).toEqual({ region: US, websocketUrl: cloud.regions[US]!.websocketUrl });
    expect((await fetch(`${cloud.edge.url}/health`)).status).toBe(200);
    await cloud.drain(US, true);
    try {
      expect(await ask()).toEqual({ region: EU, websocketUrl: cloud.regions[EU]!.websocketUrl });
    } finally {
      await cloud.drain(US, false);
    }
    expect((await ask()).region).toBe(US);
  });

  it('backends publish over HTTP through the edge with a bearer token, and bad requests get coded errors', async () => {
    const subscriber = await connect(EU);
    await subscriber.request({ action: 'subscribe', channel: 'room:http' });
    const publish = async (body: unknown, token?: string) =>
      fetch(`${cloud.edge.url}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    const accepted = await publish({ channel: 'room:http', data: { from: 'backend' }, id: 'http-1' }, await tokenFor());
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ id: 'http-1', channel: 'room:http', origin: US, seq: 1 });
    await subscriber.waitFor((f) => f.type === 'message' && f.id === 'http-1');

    const repeated = await publish({ channel: 'room:http', data: { from: 'backend' }, id: 'http-1' }, await tokenFor());
    expect(repeated.status).toBe(200);
    expect(await repeated.json()).toMatchObject({ duplicate: true, seq: 1 });
    expect((await publish({ channel: 'room:http', data: 1 })).status).toBe(401);
    expect((await publish({ channel: 'room:http', data: 1 }, 'forged')).status).toBe(401);
    const notJson = await publish('{nope', await tokenFor());
    expect([notJson.status, ((await notJson.json()) as { code: number }).code]).toEqual([400, ERRORS.INVALID_JSON.code]);
    const forbidden = await publish({ channel: 'secret:1', data: 1 }, await tokenFor({ publish: ['room:*'] }));
    expect([forbidden.status, ((await forbidden.json()) as { code: number }).code]).toEqual([403, ERRORS.FORBIDDEN_PUBLISH.code]);
    expect((await fetch(`${cloud.edge.url}/v1/nothing`)).status).toBe(404);
  });

  it('a failed region refuses and drops sockets, the edge routes around it, and it comes back on restore', async () => {
    const victim = await connect(US);
    await victim.request({ action: 'subscribe', channel: 'room:outage' });
    const survivor = await connect(EU);
    await survivor.request({ action: 'subscribe', channel: 'room:outage' });
    await cloud.fail(US);
    try {
      expect(await victim.waitForClose()).toBe(1001);
      await expect(TestClient.connect(cloud.regions[US]!.websocketUrl, await tokenFor())).rejects.toThrow('503');
      const answer = (await (await fetch(`${cloud.edge.url}/v1/connect`)).json()) as { region: string };
      expect(answer.region).toBe(EU);
      // The surviving region keeps delivering its own publishes.
      const publisher = await connect(EU);
      await publisher.request({ action: 'publish', channel: 'room:outage', data: 'during' });
      await survivor.waitFor((f) => f.type === 'message' && f.data === 'during');
    } finally {
      await cloud.restore(US);
    }
    expect(cloud.edge.healthyRegions()).toEqual([US, EU]);
    const back = await connect(US);
    expect(await back.request({ action: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
