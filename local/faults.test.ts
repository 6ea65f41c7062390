import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, GetTopicAttributesCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../lib/config';
import { connectionsTable, physicalTableName } from '../lambdas/core/tables';
import { createTables, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { startEventSourceMapping } from './event-source-mapping';
import { eventually } from '../test/e2e/support';
import { FaultInjector, InvocationKilledError, type FaultSettings } from './faults';
import { startGlobalTableReplication } from './global-tables';
import { HandlerFaults } from './handler-faults';
import { LOCAL_CREDENTIALS } from './http';
import { localFunction } from './lambda-function';
import { startMessaging, type MessagingServer } from './messaging';
import { startWebSocketApi } from './websocket-api';

const [A, B] = ['us-east-1', 'eu-west-1'];
const APP = 'faults';
const TABLE = physicalTableName(APP, connectionsTable);

let ddb: DynamoDbLocal;
let messaging: MessagingServer;
let topicArn: string;
/** Closed after each test: clients, servers, mappings, replicators and injectors. */
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  [ddb, messaging] = await Promise.all([startDynamoDbLocal(), startMessaging()]);
  await Promise.all([A, B].map((region) => withClient(new DynamoDBClient({ region, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS }), (c) => createTables(c, APP, [connectionsTable]))));
  const sns = new SNSClient({ region: A, endpoint: messaging.endpoint, credentials: LOCAL_CREDENTIALS });
  topicArn = (await withClient(sns, (c) => c.send(new CreateTopicCommand({ Name: 'faults' })))).TopicArn!;
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await Promise.all([ddb?.stop(), messaging?.stop()]);
});

async function withClient<C extends { destroy(): void }, T>(client: C, use: (client: C) => Promise<T>): Promise<T> {
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

/** A cloud's injector with one function's faults attached, in-process, as startLocalCloud attaches each function thread's. */
function injector(settings: FaultSettings, seed = 1): FaultInjector & { handler: HandlerFaults } {
  const faults = Object.assign(new FaultInjector(settings, seed), { handler: new HandlerFaults(seed) });
  faults.attach(faults.handler);
  cleanups.push(() => faults.stop());
  return faults;
}

/**
 * A DynamoDB client of region A whose requests go through the function's faults, as a handler runtime's do.
 * Tests about which operations fail rather than about retries make one attempt: the SDK's
 * backoff after a DynamoDB throttle adds up to seconds per operation.
 */
function faultyDynamo(faults: { handler: HandlerFaults }, maxAttempts?: number): DynamoDBClient {
  const client = new DynamoDBClient({ region: A, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS, requestHandler: faults.handler.requestHandler(), maxAttempts });
  cleanups.push(() => client.destroy());
  return client;
}

function faultySns(faults: { handler: HandlerFaults }): SNSClient {
  const client = new SNSClient({ region: A, endpoint: messaging.endpoint, credentials: LOCAL_CREDENTIALS, requestHandler: faults.handler.requestHandler() });
  cleanups.push(() => client.destroy());
  return client;
}

const getItem = (client: DynamoDBClient, id: string) => client.send(new GetItemCommand({ TableName: TABLE, Key: { connectionId: { S: id } } }));
const putItem = (client: DynamoDBClient, id: string) => client.send(new PutItemCommand({ TableName: TABLE, Item: { connectionId: { S: id } } }));
const failureOf = (operation: Promise<unknown>) =>
  operation.then(
    () => undefined,
    (error: Error & { $metadata?: { attempts?: number } }) => error,
  );

describe('DynamoDB faults', () => {
  it('fails every operation at rate 1 with ProvisionedThroughputExceededException on every one of the SDK attempts', async () => {
    const faults = injector({ dynamodbFailureRate: 1 });
    const client = faultyDynamo(faults);
    const errors = await Promise.all([failureOf(getItem(client, 'a')), failureOf(putItem(client, 'b'))]);
    for (const error of errors) {
      expect(error?.name).toBe('ProvisionedThroughputExceededException');
      expect(error?.$metadata?.attempts).toBe(await client.config.maxAttempts());
    }
    // Counted per operation, not per attempt.
    expect(faults.stats().dynamodbOperationsFailed).toBe(2);
  });

  it('leaves operations that are not listed in dynamodbOperations untouched', async () => {
    const faults = injector({ dynamodbFailureRate: 1, dynamodbOperations: ['PutItem'] });
    const client = faultyDynamo(faults, 1);
    await expect(getItem(client, 'listed')).resolves.toBeDefined();
    expect((await failureOf(putItem(client, 'listed')))?.name).toBe('ProvisionedThroughputExceededException');
    expect(faults.stats().dynamodbOperationsFailed).toBe(1);
  });

  it('turns a fault off and on again with set(), and refuses invalid settings', async () => {
    const faults = injector({ dynamodbFailureRate: 1 });
    const client = faultyDynamo(faults, 1);
    expect(await failureOf(putItem(client, 'toggled'))).toBeDefined();
    faults.set({ dynamodbFailureRate: 0 });
    await expect(putItem(client, 'toggled')).resolves.toBeDefined();
    faults.set({ dynamodbOperations: ['GetItem'], dynamodbFailureRate: 1 });
    await expect(putItem(client, 'toggled')).resolves.toBeDefined();
    expect(await failureOf(getItem(client, 'toggled'))).toBeDefined();

    expect(() => faults.set({ killRate: 2 })).toThrow(/killRate/);
    expect(() => faults.set({ dynamodbOperations: ['PutItems'] })).toThrow(/DynamoDB operation name/);
    expect(() => new FaultInjector({ replicationLagMs: { min: 500, max: 100 } })).toThrow(/min must not exceed max/);
    expect(faults.settings()).toMatchObject({ dynamodbFailureRate: 1, dynamodbOperations: ['GetItem'], killRate: 0 });
  });
});

describe('SNS faults', () => {
  it('fails Publish at rate 1 with the SNS InternalErrorException after the SDK retries, and nothing else', async () => {
    const faults = injector({ snsFailureRate: 1 });
    const sns = faultySns(faults);
    const error = await failureOf(sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'hello' })));
    expect(error?.name).toBe('InternalErrorException');
    expect(error?.$metadata?.attempts).toBe(await sns.config.maxAttempts());
    await expect(sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn }))).resolves.toBeDefined();
    faults.set({ snsFailureRate: 0 });
    await expect(sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'hello' }))).resolves.toHaveProperty('MessageId');
    expect(faults.stats().snsPublishesFailed).toBe(1);
  });

  it('fails about the given fraction of operations after retries, the same number for the same seed', async () => {
    const run = async () => {
      const faults = injector({ snsFailureRate: 0.3 }, 42);
      const sns = faultySns(faults);
      const errors = await Promise.all(Array.from({ length: 200 }, (_, i) => failureOf(sns.send(new PublishCommand({ TopicArn: topicArn, Message: `m${i}` })))));
      const failed = errors.filter((error) => error !== undefined);
      expect(new Set(failed.map((error) => error.name))).toEqual(new Set(['InternalErrorException']));
      expect(faults.stats().snsPublishesFailed).toBe(failed.length);
      return failed.length;
    };
    const [first, second] = await Promise.all([run(), run()]);
    // Binomial(200, 0.3): mean 60, standard deviation 6.5. Deciding per attempt instead would fail ~0.8%.
    expect(first).toBeGreaterThanOrEqual(40);
    expect(first).toBeLessThanOrEqual(80);
    expect(second).toBe(first);
  });
});

describe('@connections faults', () => {
  it('answers PostToConnection 429 LimitExceededException through the real management client, then passes calls through when off', async () => {
    const faults = injector({ postThrottleRate: 1 });
    const api = await startWebSocketApi({
      region: A,
      stage: 'live',
      limits: loadConfig({}).limits,
      routes: {},
      faults: { throttlePost: faults.throttlePost },
    });
    cleanups.push(() => api.stop());
    const client = new ApiGatewayManagementApiClient({ region: A, endpoint: api.connectionsEndpoint, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => client.destroy());
    const post = () => failureOf(client.send(new PostToConnectionCommand({ ConnectionId: 'nobody', Data: 'hi' })));

    const throttled = await post();
    expect(throttled?.name).toBe('LimitExceededException');
    expect(throttled?.$metadata?.attempts).toBe(await client.config.maxAttempts());
    expect(faults.stats().postsThrottled).toBe(1);
    faults.set({ postThrottleRate: 0 });
    expect((await post())?.name).toBe('GoneException');
  });
});

describe('killed delivery-worker invocations', () => {
  it('fails every call after the first N, deletes nothing, and the batch comes back after the visibility timeout', async () => {
    const faults = injector({ killRate: 1, killAfterCalls: 2 });
    const dynamo = faultyDynamo(faults);
    const sqs = new SQSClient({ region: A, endpoint: messaging.endpoint, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => sqs.destroy());
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'faults-kill', Attributes: { VisibilityTimeout: '1' } }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));

    // A worker that swallows its errors and reports success: only the kill can fail its batch.
    const outcomes: Array<Array<string>> = [];
    const fn = localFunction({ serviceName: APP, region: A, name: 'delivery-critical', memoryMb: 1024, logLevel: 'WARN', killable: true });
    const worker = fn.invoke(async ({ Records: [record] }: SQSEvent) => {
      const outcome: string[] = [];
      outcomes.push(outcome);
      for (const step of [1, 2, 3, 4]) {
        const error = await failureOf(putItem(dynamo, `${record!.messageId}-${record!.attributes.ApproximateReceiveCount}-${step}`));
        outcome.push(error ? error.name : 'ok');
      }
    });
    const errors: unknown[] = [];
    const mapping = startEventSourceMapping({
      sqs,
      queueUrl: QueueUrl!,
      queueArn: Attributes!.QueueArn!,
      region: A,
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
      handler: worker,
      onInvokeError: (error) => errors.push(error),
    });
    cleanups.push(() => mapping.stop());
    const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'work' }));

    await vi.waitFor(() => expect(outcomes).toHaveLength(1), { timeout: 10_000 });
    await vi.waitFor(() => expect(mapping.stats().failed).toBe(1));
    expect(outcomes[0]).toEqual(['ok', 'ok', 'InvocationKilledError', 'InvocationKilledError']);
    expect(mapping.stats().deleted).toBe(0);
    expect(errors).toEqual([expect.any(InvocationKilledError)]);
    expect(faults.stats().invocationsKilled).toBe(1);
    // Nothing after the kill point happened; the same client outside any invocation is not killed.
    expect((await getItem(dynamo, `${MessageId}-1-2`)).Item).toBeDefined();
    expect((await getItem(dynamo, `${MessageId}-1-3`)).Item).toBeUndefined();

    faults.set({ killRate: 0 });
    await vi.waitFor(() => expect(mapping.stats().deleted).toBe(1), { timeout: 10_000 });
    expect(outcomes).toEqual([outcomes[0], ['ok', 'ok', 'ok', 'ok']]);
  });
});

describe('replication lag jitter', () => {
  it('jumps the lag within its range and still applies every change of an item in order', async () => {
    const writer = new DynamoDBClient({ region: A, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS });
    const reader = new DynamoDBClient({ region: B, endpoint: ddb.endpoint, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => writer.destroy(), () => reader.destroy());
    // A table of its own: the other tests' writes would be replicated too.
    await Promise.all([writer, reader].map((client) => createTables(client, 'jitter', [connectionsTable])));
    const table = physicalTableName('jitter', connectionsTable);
    const replicator = startGlobalTableReplication({ endpoint: ddb.endpoint, regions: [A, B], tableNames: [table], lagMs: 0, pollIntervalMs: 10 });
    cleanups.push(() => replicator.stop());
    const lags: number[] = [];
    const faults = injector({ replicationLagMs: { min: 0, max: 300 }, lagJumpEveryMs: 10 });
    const BASE_LAG_MS = 7;
    faults.driveReplicationLag({ setLag: (ms) => (replicator.setLag(ms), lags.push(ms)) }, BASE_LAG_MS);

    const versions = 25;
    for (let version = 1; version <= versions; version += 1) {
      await writer.send(new PutItemCommand({ TableName: table, Item: { connectionId: { S: 'jittered' }, v: { N: String(version) } } }));
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    // The replicator counts a change once its write has returned, a moment after a reader can see it:
    // wait for both, every change applied and the last version readable in B.
    await eventually(async () => {
      const { Item } = await reader.send(new GetItemCommand({ TableName: table, Key: { connectionId: { S: 'jittered' } }, ConsistentRead: true }));
      return Item?.v?.N === String(versions) && replicator.stats().applied + replicator.stats().skippedAsOlder === versions;
    }, `version ${versions} in B and every change accounted for`, 50);
    // Last writer wins skips a change applied after a newer one: none skipped means none overtaken.
    expect(replicator.stats()).toMatchObject({ applied: versions, skippedAsOlder: 0 });
    expect(new Set(lags).size).toBeGreaterThan(5);
    expect(Math.min(...lags)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...lags)).toBeLessThanOrEqual(300);
    expect(faults.stats().replicationLagJumps).toBe(lags.length);

    // Off: the base lag is back and the jumps stop.
    faults.set({ replicationLagMs: null });
    const settled = lags.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lags.slice(settled - 1)).toEqual([BASE_LAG_MS]);
  });
});
