import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';
import { LOCAL_CREDENTIALS } from '../../local/http';
import type { Claims } from './auth';
import { Admission } from './admission';
import { ConnectionStore } from './connection-store';
import { deliverBatch } from './delivery-worker';
import { ProtocolError } from './errors';
import { MessageHistory } from './history';
import type { ConnectionPoster, PostOutcome } from './poster';
import type { Envelope } from './protocol';
import { PublishClaims } from './publish-claim';
import { PUBLISH_ANSWER_DEADLINE_MS, publishEvent, type PublisherOptions } from './publisher';
import { subscribeWithRecovery, type RecoveryDeps } from './recovery';
import { channelOriginKey, physicalTableName, sequencesTable, subscriptionsTable, TABLES } from './tables';
import { recordingLog, recordingMetrics } from './testing';

/**
 * The delivery guarantees under ordinary faults, each proven against DynamoDB Local's real
 * conditional writes and transactions, one region's database per region. Faults are
 * injected where they happen on AWS: a DynamoDB call failing, SNS failing after accepting a
 * message, a post throttled, replication not having happened yet (nothing replicates here
 * unless a test copies an item itself).
 */

const APP = 'guarantees';
const US = 'us-east-1';
const EU = 'eu-west-1';
const REGIONS = [US, EU];
const table = (name: (typeof TABLES)[number]['name']) => physicalTableName(APP, TABLES.find((t) => t.name === name)!);
const CLAIMS: Claims = { sub: 'tester', subscribe: ['*'], publish: ['*'] };

let ddb: DynamoDbLocal;
let channelCounter = 0;
const freshChannel = () => `room:g${++channelCounter}`;

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  await Promise.all(REGIONS.map((region) => createTables(new DynamoDBClient({ region, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS }), APP)));
});
afterAll(async () => ddb?.stop());

type Command = { constructor: { name: string }; input: Record<string, unknown> };
/** Fails or delays chosen DynamoDB calls; counts every call by command name. */
interface DynamoFaults {
  fail?: (command: Command) => boolean;
  /** The call is made and DynamoDB applies it, but its answer is lost (a timeout on the way back). */
  loseAnswer?: (command: Command) => boolean;
  before?: (command: Command) => Promise<void>;
}

function dynamoIn(region: string, faults: DynamoFaults = {}) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const calls: string[] = [];
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  (client as unknown as { send: unknown }).send = async (command: Command) => {
    calls.push(command.constructor.name);
    await faults.before?.(command);
    if (faults.fail?.(command)) throw new ProvisionedThroughputExceededException({ message: 'injected', $metadata: {} });
    const answer = await send(command);
    if (faults.loseAnswer?.(command)) throw Object.assign(new Error('injected: the answer was lost'), { name: 'TimeoutError' });
    return answer;
  };
  return { client, calls };
}

const touches = (command: Command, tableName: string) => JSON.stringify(command.input).includes(`"${tableName}"`);

function fakeSns(accept: (envelope: Envelope) => 'ok' | 'fail' | 'accept-then-fail' = () => 'ok') {
  const published: Envelope[] = [];
  const sns = {
    async send(command: PublishCommand) {
      const envelope = JSON.parse(command.input.Message!) as Envelope;
      const outcome = accept(envelope);
      if (outcome !== 'fail') published.push(envelope);
      if (outcome !== 'ok') throw Object.assign(new Error('SNS did not answer'), { name: 'TimeoutError' });
      return {};
    },
  } as unknown as SNSClient;
  return { sns, published };
}

function fakePoster(outcome: (connectionId: string, index: number) => PostOutcome = () => 'ok') {
  const posts: Array<{ connectionId: string; frame: { type: string; seq?: number; origin?: string; id?: string } }> = [];
  let index = 0;
  const poster: ConnectionPoster = {
    async post(connectionId, payload) {
      const result = outcome(connectionId, index++);
      if (result === 'ok') posts.push({ connectionId, frame: JSON.parse(Buffer.from(payload).toString()) });
      return result;
    },
  };
  return { poster, posts };
}

function regionParts(region: string, dynamo: DynamoDBDocumentClient, sns: SNSClient = fakeSns().sns) {
  const history = new MessageHistory({ dynamo, sequencesTableName: table('sequences'), historyTableName: table('history'), ttlSeconds: 3600, maxPerChannel: 1000 });
  const claims = new PublishClaims({ dynamo, dedupTableName: table('dedup'), windowSeconds: 3600, pendingLeaseMs: 5000 });
  const store = new ConnectionStore({
    dynamo,
    region,
    connectionsTableName: table('connections'),
    subscriptionsTableName: table('subscriptions'),
    presenceTableName: table('presence'),
    connectionTtlSeconds: 3600,
    maxSubscriptionsPerConnection: 100,
  });
  const publisher: PublisherOptions = { sns, topicArn: `arn:aws:sns:${region}:000000000000:t`, region, maxPublishDataBytes: 32_768, history, claims, log: recordingLog() };
  return { history, claims, store, publisher };
}

const recoveryDeps = (parts: ReturnType<typeof regionParts>, poster: ConnectionPoster) => ({
  store: parts.store,
  history: parts.history,
  poster,
  regions: REGIONS,
  maxReplay: 1000,
  replicationWaitMs: 200,
  historySettleMs: 30_000,
  historyMaxPerChannel: 1000,
  replayLeaseMs: 35_000,
  replayBudgetMs: 20_000,
  pollIntervalMs: 20,
  log: recordingLog(),
  metrics: recordingMetrics(),
}) satisfies RecoveryDeps;

const sqsRecord = (envelope: Envelope, n = 0): SQSRecord => ({ messageId: `m-${envelope.id}-${n}`, receiptHandle: 'r', body: JSON.stringify(envelope) }) as SQSRecord;

const workerDeps = (region: string, parts: ReturnType<typeof regionParts>, poster: ConnectionPoster) => ({
  region,
  store: parts.store,
  poster,
  history: parts.history,
  ttlSeconds: 0,
  concurrency: 4,
  maxBatchFrameBytes: 32_768,
  retryDelaySeconds: 2,
  log: recordingLog(),
});

async function publish(parts: ReturnType<typeof regionParts>, channel: string, data: unknown, id?: string) {
  return publishEvent(parts.publisher, CLAIMS, { channel, data: data as never, class: 'critical', ...(id && { id }) });
}

describe('guarantees under faults, on DynamoDB Local', () => {
  it('1. a replay whose third post is throttled ends its replaying state and reports the two it replayed: the next live message reaches the subscriber', async () => {
    const us = regionParts(US, dynamoIn(US).client);
    const channel = freshChannel();
    for (let i = 1; i <= 5; i++) await publish(us, channel, i);
    await us.store.register('c1', 'tester');
    // The third post and every retry of it are throttled: the subscribe fails (the client retries it).
    const throttled = fakePoster((_id, index) => (index >= 2 ? 'throttled' : 'ok'));
    const recovery = recoveryDeps(us, throttled.poster);
    await expect(subscribeWithRecovery(recovery, 'c1', channel, 'tester', { [US]: 0 }, false)).rejects.toThrow(/throttled/);
    expect((await us.store.getSubscription(channel, 'c1'))?.replaying).toBe(false);
    expect(recovery.metrics.reports).toEqual([{ dimensions: { Action: 'subscribe' }, measurements: { replayed: { unit: 'Count', values: [2] } } }]);

    const live = await publish(us, channel, 'after the failed replay');
    const delivered = fakePoster();
    await deliverBatch(workerDeps(US, us, delivered.poster), { Records: [sqsRecord(live.envelope as Envelope)] });
    expect(delivered.posts.map((p) => p.frame.seq)).toEqual([6]);
  });

  it('3. a retry while the first attempt is in flight: whichever transaction commits first takes the id and one seq; the other answers as its duplicate, (origin, seq) and all', async () => {
    let releaseFirst!: () => void;
    const firstBlocked = new Promise<void>((resolve) => (releaseFirst = resolve));
    let transactions = 0;
    const sns = fakeSns(() => 'ok');
    const { client } = dynamoIn(US, {
      // The first attempt's transaction is held back until the retry's has committed.
      before: async (command) => {
        if (command.constructor.name === 'TransactWriteCommand' && ++transactions === 1) await firstBlocked;
      },
    });
    const us = regionParts(US, client, sns.sns);
    const channel = freshChannel();
    const first = publish(us, channel, 'order', 'order-7');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const retry = await publish(us, channel, 'order', 'order-7');
    expect(retry).toMatchObject({ duplicate: false, envelope: { origin: US, seq: 1 } });
    releaseFirst();
    // The first's transaction finds the id taken: it takes no seq and answers with the retry's.
    await expect(first).resolves.toMatchObject({ duplicate: true, envelope: { origin: US, seq: 1 } });
    // The message went to SNS twice, the same envelope both times: subscribers keep one by (origin, seq).
    expect(sns.published).toHaveLength(2);
    expect(sns.published[1]).toEqual(sns.published[0]);
    expect((await publish(us, channel, 'next')).envelope.seq).toBe(2);
  });

  it('3b. a retry after the first attempt failed before its transaction publishes the message, once', async () => {
    let transactions = 0;
    const { client } = dynamoIn(US, { fail: (command) => command.constructor.name === 'TransactWriteCommand' && ++transactions === 1 });
    const us = regionParts(US, client);
    const channel = freshChannel();
    await expect(publish(us, channel, 'order', 'order-8')).rejects.toMatchObject({ code: 5030, retryable: true, messageId: 'order-8' });
    await expect(publish(us, channel, 'order', 'order-8')).resolves.toMatchObject({ duplicate: false, envelope: { origin: US, seq: 1 } });
    await expect(publish(us, channel, 'order', 'order-8')).resolves.toMatchObject({ duplicate: true, envelope: { origin: US, seq: 1 } });
  });

  it('3d. a publish whose sequencing transaction committed but whose answer was lost: its retry answers duplicate with the same (origin, seq) and publishes the stored envelope; nothing is sequenced twice', async () => {
    let transactions = 0;
    const sns = fakeSns(() => 'ok');
    const { client } = dynamoIn(US, { loseAnswer: (command) => command.constructor.name === 'TransactWriteCommand' && ++transactions === 1 });
    const us = regionParts(US, client, sns.sns);
    const channel = freshChannel();
    await expect(publish(us, channel, 'committed', 'lost-1')).rejects.toMatchObject({ code: 5030, retryable: true, messageId: 'lost-1' });
    // Committed unseen: not yet sent to SNS, and the seq is taken.
    expect(sns.published).toEqual([]);
    const retry = await publish(us, channel, 'committed', 'lost-1');
    expect(retry).toMatchObject({ duplicate: true, envelope: { origin: US, seq: 1 } });
    expect(sns.published).toEqual([expect.objectContaining({ id: 'lost-1', origin: US, seq: 1, data: 'committed' })]);
    expect((await publish(us, channel, 'next')).envelope.seq).toBe(2);
  });

  it('3c. a publish handled past the time its client waits for the answer is answered 5030 with its id and stores nothing: no seq, no history, nothing to SNS; its retry is seq 1', async () => {
    const sns = fakeSns(() => 'ok');
    const us = regionParts(US, dynamoIn(US).client, sns.sns);
    const channel = freshChannel();
    const frame = { channel, data: 'late' as never, class: 'critical' as const, id: 'late-1' };
    const receivedAt = Date.now() - PUBLISH_ANSWER_DEADLINE_MS - 1000;
    await expect(publishEvent(us.publisher, CLAIMS, frame, receivedAt)).rejects.toMatchObject({ code: 5030, retryable: true, messageId: 'late-1' });
    expect(sns.published).toEqual([]);
    expect(await us.history.positions(channel, [US])).toEqual({ [US]: { seq: 0, updatedAt: 0 } });
    await expect(publishEvent(us.publisher, CLAIMS, frame, Date.now())).resolves.toMatchObject({ duplicate: false, envelope: { origin: US, seq: 1 } });
  });

  it('4. recovery in a region whose worker delivered a message before replication brought it replays it and says so truthfully', async () => {
    const us = regionParts(US, dynamoIn(US).client);
    const eu = regionParts(EU, dynamoIn(EU).client);
    const channel = freshChannel();
    const sent = await publish(us, channel, 'from us');
    // SNS→SQS beat replication: EU's worker handles us:1 while EU's tables know nothing of it ...
    await deliverBatch(workerDeps(EU, eu, fakePoster().poster), { Records: [sqsRecord(sent.envelope as Envelope)] });
    // ... and then the counter replicates, as it may before the history item does.
    await dynamoIn(EU).client.send(
      new PutCommand({ TableName: table('sequences'), Item: { [sequencesTable.partitionKey]: channelOriginKey(channel, US), seq: 1, updatedAt: Date.now() } }),
    );
    await eu.store.register('late', 'tester');
    const poster = fakePoster();
    const result = await subscribeWithRecovery(recoveryDeps(eu, poster.poster), 'late', channel, 'tester', { [US]: 0 }, false);
    expect(result).toEqual({ recovered: true, missing: [], position: { [US]: 1, [EU]: 0 } });
    expect(poster.posts.map((p) => `${p.frame.origin}/${p.frame.seq}`)).toEqual([`${US}/1`]);
  });

  it('5. a retry after SNS accepted the message but the answer was lost publishes the same envelope, (origin, seq) and all', async () => {
    let snsCalls = 0;
    const sns = fakeSns(() => (++snsCalls === 1 ? 'accept-then-fail' : 'ok'));
    const us = regionParts(US, dynamoIn(US).client, sns.sns);
    const channel = freshChannel();
    await expect(publish(us, channel, 'pay', 'pay-1')).rejects.toMatchObject({ code: 5030, messageId: 'pay-1' });
    const retry = await publish(us, channel, 'pay', 'pay-1');
    expect(retry).toMatchObject({ duplicate: true, envelope: { origin: US, seq: 1 } });
    expect(sns.published).toHaveLength(2);
    expect(sns.published[1]).toEqual(sns.published[0]);
    // The next message is seq 2: nothing was sequenced twice.
    expect((await publish(us, channel, 'next')).envelope.seq).toBe(2);
  });

  it('7. a subscribe racing $disconnect never leaves a subscription behind, whatever the interleaving', async () => {
    const { client } = dynamoIn(US);
    const us = regionParts(US, client);
    const channel = freshChannel();
    for (let delayMs = 0; delayMs < 20; delayMs++) {
      const connectionId = `race-${delayMs}`;
      await us.store.register(connectionId, 'tester');
      const subscribing = us.store.subscribe(connectionId, channel, 'tester', { presence: true }).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, delayMs / 4));
      await us.store.remove(connectionId);
      await subscribing;
    }
    for (const key of [`${US}#${channel}`, `${US}#${channel}#presence`]) {
      const { Items } = await client.send(
        new QueryCommand({ TableName: table('subscriptions'), KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': subscriptionsTable.partitionKey }, ExpressionAttributeValues: { ':pk': key }, ConsistentRead: true }),
      );
      expect(Items ?? []).toEqual([]);
    }
  });

  it('8. one presence page costs one Query per region however many non-members subscribe (2,000 here, limit 1)', async () => {
    const { client, calls } = dynamoIn(US);
    const us = regionParts(US, client);
    const channel = freshChannel();
    const items = Array.from({ length: 2000 }, (_, i) => ({
      PutRequest: { Item: { [subscriptionsTable.partitionKey]: `${US}#${channel}`, [subscriptionsTable.sortKey.name]: `quiet-${String(i).padStart(4, '0')}`, channel, presence: false } },
    }));
    for (let i = 0; i < items.length; i += 25) await client.send(new BatchWriteCommand({ RequestItems: { [table('subscriptions')]: items.slice(i, i + 25) } }));
    await us.store.register('zz-member', 'member');
    await us.store.subscribe('zz-member', channel, 'member', { presence: true });
    calls.length = 0;
    const page = await us.store.members(channel, [US], 1);
    expect(page.members.map((m) => m.sub)).toEqual(['member']);
    expect(calls.filter((name) => name === 'QueryCommand')).toHaveLength(1);
  });

  it('9. a publish whose history write fails takes no seq: the next one gets seq 1, and recovery finds no hole', async () => {
    let failures = 1;
    const us = regionParts(US, dynamoIn(US, { fail: (command) => touches(command, table('history')) && failures-- > 0 }).client);
    const channel = freshChannel();
    await expect(publish(us, channel, 'lost?')).rejects.toBeInstanceOf(ProtocolError);
    const next = await publish(us, channel, 'kept');
    expect(next.envelope.seq).toBe(1);
    await us.store.register('reader', 'tester');
    const result = await subscribeWithRecovery(recoveryDeps(us, fakePoster().poster), 'reader', channel, 'tester', { [US]: 0 }, false);
    expect(result).toMatchObject({ recovered: true, missing: [], position: { [US]: 1 } });
  });

  it('9. a publish whose fan-out fails after it was stored leaves no hole: the message is in history and the retry of its id sends it', async () => {
    let snsCalls = 0;
    const sns = fakeSns(() => (++snsCalls === 1 ? 'fail' : 'ok'));
    const us = regionParts(US, dynamoIn(US).client, sns.sns);
    const channel = freshChannel();
    const failure = await publish(us, channel, 'unsent').catch((error: ProtocolError) => error);
    expect(failure).toMatchObject({ code: 5030, retryable: true });
    const id = (failure as ProtocolError).messageId!;
    expect((await us.history.get(channel, US, 1))?.id).toBe(id);
    const retry = await publish(us, channel, 'unsent', id);
    expect(retry).toMatchObject({ duplicate: true, envelope: { seq: 1 } });
    expect(sns.published.map((e) => e.seq)).toEqual([1]);
  });

  it('admission: a flood of 100 concurrent frames from one connection admits the burst, refuses the rest with a wait, and leaves other connections alone', async () => {
    const us = regionParts(US, dynamoIn(US).client);
    const admission = new Admission({
      dynamo: dynamoIn(US).client,
      region: US,
      connectionsTableName: table('connections'),
      requestsPerSecond: 0.1,
      requestBurst: 10,
      maxConcurrentReplays: 2,
      replaySlotLeaseMs: 35_000,
    });
    await us.store.register('flooder', 'tester');
    await us.store.register('neighbour', 'tester');
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => admission.admitRequest('flooder').then(() => 'admitted', (error: ProtocolError) => error)));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(10);
    const refusals = outcomes.filter((o): o is ProtocolError => o !== 'admitted');
    expect(new Set(refusals.map((r) => r.code))).toEqual(new Set([4290]));
    expect(refusals.every((r) => r.retryable && r.retryAfterMs! > 0)).toBe(true);
    await expect(admission.admitRequest('neighbour')).resolves.toBeUndefined();
    // The bucket refills one frame per 10 s: the refusal names a wait of at most that.
    const next = await admission.admitRequest('flooder').catch((error: ProtocolError) => error);
    expect(next).toMatchObject({ code: 4290 });
    expect((next as ProtocolError).retryAfterMs).toBeLessThanOrEqual(10_000);

    const releases = [await admission.acquireReplaySlot('r1'), await admission.acquireReplaySlot('r2')];
    await expect(admission.acquireReplaySlot('r3')).rejects.toMatchObject({ code: 4291, retryable: true });
    await releases[0]!();
    await expect(admission.acquireReplaySlot('r3')).resolves.toBeTypeOf('function');
  });
});
