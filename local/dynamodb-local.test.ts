import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES, historyTable, physicalTableName, sequencesTable } from '../lambdas/core/tables';
import { assertJavaAvailable, createTables, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const clientFor = (ddb: DynamoDbLocal, region: string): DynamoDBClient =>
  new DynamoDBClient({ endpoint: ddb.endpoint, region, credentials });

/** Command lines of running DynamoDB Local JVMs (`ps` works on Linux and macOS). */
const dynamoDbLocalCommandLines = (): string[] =>
  execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes('DynamoDBLocal.jar'));

describe('assertJavaAvailable', () => {
  const withPath = (path: string, run: () => void): void => {
    const saved = process.env.PATH;
    process.env.PATH = path;
    try {
      run();
    } finally {
      process.env.PATH = saved;
    }
  };

  it('accepts the Java 17+ installed on this machine', () => {
    expect(() => assertJavaAvailable()).not.toThrow();
  });

  it('says how to install Java when there is no java on the PATH', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-java-'));
    try {
      withPath(empty, () => expect(() => assertJavaAvailable()).toThrow(/apt-get install -y openjdk-17-jre-headless.*brew install openjdk@17/));
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('rejects Java 8 and names the version it found', () => {
    const dir = mkdtempSync(join(tmpdir(), 'old-java-'));
    try {
      writeFileSync(join(dir, 'java'), '#!/bin/sh\necho \'java version "1.8.0_402"\' >&2\n');
      chmodSync(join(dir, 'java'), 0o755);
      withPath(dir, () => expect(() => assertJavaAvailable()).toThrow(/Found Java 8 .*openjdk-17-jre-headless/));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('DynamoDB Local', () => {
  let ddb: DynamoDbLocal;
  let east: DynamoDBClient;
  let west: DynamoDBClient;

  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    east = clientFor(ddb, 'us-east-1');
    west = clientFor(ddb, 'eu-west-1');
  });
  afterAll(async () => {
    east?.destroy();
    west?.destroy();
    await ddb?.stop();
  });

  it('listens on a free port when none is given', () => {
    expect(ddb.port).toBeGreaterThan(0);
    expect(ddb.endpoint).toBe(`http://127.0.0.1:${ddb.port}`);
  });

  it('keeps one database per region: a table created in us-east-1 is not listed in eu-west-1', async () => {
    await createTables(east, 'isolation', [sequencesTable]);
    const name = physicalTableName('isolation', sequencesTable);
    expect((await east.send(new ListTablesCommand({}))).TableNames).toContain(name);
    expect((await west.send(new ListTablesCommand({}))).TableNames).not.toContain(name);
  });

  it('createTables makes every table on demand with new-and-old-image streams and TTL, and is idempotent', async () => {
    await createTables(west, 'app');
    const seq = physicalTableName('app', sequencesTable);
    await west.send(new PutItemCommand({ TableName: seq, Item: { channelOrigin: { S: 'c#eu' }, n: { N: '1' } } }));
    await createTables(west, 'app');

    // The second call neither failed nor recreated the table: the item is still there.
    const kept = await west.send(new GetItemCommand({ TableName: seq, Key: { channelOrigin: { S: 'c#eu' } } }));
    expect(kept.Item?.n).toEqual({ N: '1' });
    for (const layout of TABLES) {
      const name = physicalTableName('app', layout);
      const { Table } = await west.send(new DescribeTableCommand({ TableName: name }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
      expect(Table?.KeySchema?.map((k) => k.AttributeName)).toEqual([layout.partitionKey, ...(layout.sortKey ? [layout.sortKey.name] : [])]);
      const { TimeToLiveDescription } = await west.send(new DescribeTimeToLiveCommand({ TableName: name }));
      expect(TimeToLiveDescription).toEqual(
        layout.timeToLiveAttribute
          ? { TimeToLiveStatus: 'ENABLED', AttributeName: layout.timeToLiveAttribute }
          : { TimeToLiveStatus: 'DISABLED' },
      );
    }
  });

  it('runs TransactWriteItems atomically: all items or, when a condition fails, none', async () => {
    await createTables(east, 'tx', [sequencesTable, historyTable]);
    const seq = physicalTableName('tx', sequencesTable);
    const history = physicalTableName('tx', historyTable);
    const transaction = (expectedSeq: number) =>
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName: seq,
              Key: { channelOrigin: { S: 'c#us' } },
              UpdateExpression: 'SET n = :next',
              ConditionExpression: 'attribute_not_exists(n) OR n = :expected',
              ExpressionAttributeValues: { ':next': { N: String(expectedSeq + 1) }, ':expected': { N: String(expectedSeq) } },
            },
          },
          { Put: { TableName: history, Item: { channelOrigin: { S: 'c#us' }, seq: { N: String(expectedSeq + 1) } } } },
        ],
      });

    await east.send(transaction(0));
    const stale = east.send(transaction(0));
    await expect(stale).rejects.toBeInstanceOf(TransactionCanceledException);
    await expect(stale).rejects.toMatchObject({ CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }] });

    const counter = await east.send(new GetItemCommand({ TableName: seq, Key: { channelOrigin: { S: 'c#us' } } }));
    expect(counter.Item?.n).toEqual({ N: '1' });
    const second = await east.send(new GetItemCommand({ TableName: history, Key: { channelOrigin: { S: 'c#us' }, seq: { N: '2' } } }));
    expect(second.Item).toBeUndefined();
    // A plain conditional write surfaces as its own exception class too.
    await expect(
      east.send(new PutItemCommand({ TableName: seq, Item: { channelOrigin: { S: 'c#us' } }, ConditionExpression: 'attribute_not_exists(n)' })),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });
});

describe('startDynamoDbLocal lifecycle', () => {
  let blocker: Server | undefined;
  const blockerSockets = new Set<Socket>();
  afterAll(async () => {
    for (const socket of blockerSockets) socket.destroy();
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  });

  it('with dbPath keeps tables and items across a stop and a restart, in files under that directory', async () => {
    const dbPath = mkdtempSync(join(tmpdir(), 'relaymesh-ddb-'));
    const first = await startDynamoDbLocal({ dbPath });
    const east = clientFor(first, 'us-east-1');
    await createTables(east, 'persisted', [TABLES[0]!]);
    const table = physicalTableName('persisted', TABLES[0]!);
    await east.send(new PutItemCommand({ TableName: table, Item: { [TABLES[0]!.partitionKey]: { S: 'kept' } } }));
    east.destroy();
    await first.stop();
    expect(readdirSync(dbPath).length).toBeGreaterThan(0);

    const second = await startDynamoDbLocal({ dbPath });
    const again = clientFor(second, 'us-east-1');
    const { Item } = await again.send(new GetItemCommand({ TableName: table, Key: { [TABLES[0]!.partitionKey]: { S: 'kept' } }, ConsistentRead: true }));
    expect(Item).toEqual({ [TABLES[0]!.partitionKey]: { S: 'kept' } });
    again.destroy();
    await second.stop();
  });

  it('stop() kills the JVM: no DynamoDB Local process is left on its port and the port is closed', async () => {
    const ddb = await startDynamoDbLocal();
    const onPort = () => dynamoDbLocalCommandLines().filter((line) => line.includes(`-port ${ddb.port}`));
    expect(onPort()).toHaveLength(1);
    await ddb.stop();
    expect(onPort()).toEqual([]);
    const client = clientFor(ddb, 'us-east-1');
    await expect(client.send(new ListTablesCommand({}))).rejects.toThrow(/ECONNREFUSED/);
    client.destroy();
    await ddb.stop(); // stopping twice is harmless
  });

  it('reports a JVM that dies on its own, with its output, and never reports one stopped on purpose', async () => {
    const crashing = await startDynamoDbLocal();
    process.kill(crashing.pid!, 'SIGKILL');
    expect(await crashing.died).toMatch(/^the JVM exited \(code null, signal SIGKILL\)/);
    await crashing.stop();
    const stopped = await startDynamoDbLocal();
    await stopped.stop();
    const reported = await Promise.race([stopped.died.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 200))]);
    expect(reported).toBe(false);
  });

  it('kills the JVM when Node exits without calling stop()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddb-exit-'));
    try {
      const script = join(dir, 'start-and-exit.mts');
      const module = new URL('./dynamodb-local.ts', import.meta.url).pathname;
      writeFileSync(script, `import { startDynamoDbLocal } from ${JSON.stringify(module)};\nconst ddb = await startDynamoDbLocal();\nconsole.log(ddb.port);\nprocess.exit(0);\n`);
      const port = Number(execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' }).trim());
      expect(port).toBeGreaterThan(0);
      expect(dynamoDbLocalCommandLines().filter((line) => line.includes(`-port ${port}`))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('fails with the JVM output when the requested port is taken', async () => {
    // Accepts connections and never answers, as an unrelated server on that port would.
    blocker = createServer((socket) => blockerSockets.add(socket));
    const port = await new Promise<number>((resolve) =>
      blocker!.listen(0, '127.0.0.1', () => resolve((blocker!.address() as { port: number }).port)),
    );
    await expect(startDynamoDbLocal({ port })).rejects.toThrow(/did not start on port \d+: the JVM exited[\s\S]*BindException/);
    expect(dynamoDbLocalCommandLines().filter((line) => line.includes(`-port ${port}`))).toEqual([]);
  });

  it('fails with a clear error, not a crash, when java cannot be started', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startDynamoDbLocal()).rejects.toThrow(/java could not be started: .*ENOENT/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('rejects an invalid port before starting anything', async () => {
    await expect(startDynamoDbLocal({ port: 70_000 })).rejects.toThrow(/port/);
  });
});
