import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectionsTable, physicalTableName } from '../lambdas/core/tables';
import { createTables, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { ReplicationLedger, startGlobalTableReplication, type GlobalTableReplicator } from './global-tables';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-south-1'];
const [A, B, C] = REGIONS;
const POLL_MS = 25;

describe('ReplicationLedger (the pure core)', () => {
  const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', v?: string): StreamRecord => ({
    eventName,
    dynamodb: { Keys: { id: { S: 'k' } }, ...(v ? { NewImage: { id: { S: 'k' }, v: { S: v } } } : {}) },
  });

  it('forwards a local write once and recognises the write it made in another region as an echo', () => {
    const ledger = new ReplicationLedger([A, B]);
    const { forward } = ledger.observe(A, 't', record('INSERT', 'a'));
    expect(forward?.image).toEqual({ id: { S: 'k' }, v: { S: 'a' } });
    expect(ledger.admit(B, { ...forward!, dueAt: 0 })).toBe(true);
    expect(ledger.observe(B, 't', record('INSERT', 'a'))).toEqual({});
  });

  it('skips a change older than the local write the target already holds', () => {
    const ledger = new ReplicationLedger([A, B]);
    const fromA = ledger.observe(A, 't', record('INSERT', 'a')).forward!;
    ledger.observe(B, 't', record('INSERT', 'b'));
    expect(ledger.admit(B, { ...fromA, dueAt: 0 })).toBe(false);
  });

  it('writes the winner back when the echo of an older change lands after a newer local write', () => {
    const ledger = new ReplicationLedger([A, B]);
    const fromA = ledger.observe(A, 't', record('INSERT', 'a')).forward!;
    // B's local write happened before our write of A's change, but its record is read first.
    expect(ledger.admit(B, { ...fromA, dueAt: 0 })).toBe(true);
    const fromB = ledger.observe(B, 't', record('MODIFY', 'b')).forward!;
    expect(fromB.ts).toBeGreaterThan(fromA.ts);
    const { repair } = ledger.observe(B, 't', record('MODIFY', 'a'));
    expect(repair).toMatchObject({ image: { v: { S: 'b' } }, ts: fromB.ts });
  });
});

describe('global table replication on DynamoDB Local', () => {
  let ddb: DynamoDbLocal;
  const clients = {} as Record<string, DynamoDBClient>;
  let replicator: GlobalTableReplicator | undefined;
  let apps = 0;

  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    for (const region of REGIONS) clients[region] = new DynamoDBClient({ endpoint: ddb.endpoint, region, credentials });
  });
  afterEach(async () => {
    await replicator?.stop();
    replicator = undefined;
  });
  afterAll(async () => {
    for (const client of Object.values(clients)) client.destroy();
    await ddb?.stop();
  });

  /** A fresh connections table in every region and a replicator over it. */
  async function replicated(lagMs: number): Promise<string> {
    const app = `app${(apps += 1)}`;
    await Promise.all(REGIONS.map((region) => createTables(clients[region], app, [connectionsTable])));
    const table = physicalTableName(app, connectionsTable);
    replicator = startGlobalTableReplication({ endpoint: ddb.endpoint, regions: REGIONS, tableNames: [table], lagMs, pollIntervalMs: POLL_MS, credentials });
    return table;
  }

  const put = (region: string, table: string, id: string, v: string) =>
    clients[region].send(new PutItemCommand({ TableName: table, Item: { connectionId: { S: id }, v: { S: v } } }));
  const valueIn = async (region: string, table: string, id: string): Promise<string | undefined> => {
    const { Item } = await clients[region].send(new GetItemCommand({ TableName: table, Key: { connectionId: { S: id } }, ConsistentRead: true }));
    return Item?.v?.S;
  };
  const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 20_000, interval: 50 });
  /** Nothing queued or in flight anywhere, twice a poll apart. */
  const quiescent = () =>
    eventually(async () => {
      const pending = () => Object.values(replicator!.stats().pendingByRegion).reduce((a, b) => a + b, 0);
      expect(pending()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 4 * POLL_MS));
      expect(pending()).toBe(0);
    });

  /** Every record in `region`'s stream of `table`, oldest first. */
  async function streamRecords(region: string, table: string): Promise<StreamRecord[]> {
    const streams = new DynamoDBStreamsClient({ endpoint: ddb.endpoint, region, credentials });
    try {
      const { Table } = await clients[region].send(new DescribeTableCommand({ TableName: table }));
      const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table!.LatestStreamArn }));
      const records: StreamRecord[] = [];
      for (const shard of StreamDescription!.Shards!) {
        let { ShardIterator } = await streams.send(
          new GetShardIteratorCommand({ StreamArn: Table!.LatestStreamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
        );
        for (;;) {
          const page = await streams.send(new GetRecordsCommand({ ShardIterator }));
          records.push(...(page.Records ?? []));
          if (!page.Records?.length || !page.NextShardIterator) break;
          ShardIterator = page.NextShardIterator;
        }
      }
      return records;
    } finally {
      streams.destroy();
    }
  }

  it('copies a put in one region to every other region once the lag has passed, not before', async () => {
    const table = await replicated(1_000);
    await put(A, table, 'c1', 'hello');
    // Due no earlier than a full lag after it was read from A's stream, which follows the write.
    expect(await valueIn(B, table, 'c1')).toBeUndefined();
    await eventually(async () => {
      expect(await valueIn(B, table, 'c1')).toBe('hello');
      expect(await valueIn(C, table, 'c1')).toBe('hello');
    });
  });

  it('replicates updates in order and deletes, written in any region', async () => {
    const table = await replicated(50);
    for (let version = 1; version <= 10; version += 1) {
      await clients[B].send(
        new UpdateItemCommand({
          TableName: table,
          Key: { connectionId: { S: 'c1' } },
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': { S: `v${version}` } },
        }),
      );
    }
    await eventually(async () => expect(await valueIn(C, table, 'c1')).toBe('v10'));
    await quiescent();
    for (const region of [A, C]) {
      const versions = (await streamRecords(region, table)).map((r) => r.dynamodb?.NewImage?.v?.S);
      // Each region went through the versions in the order B wrote them (none applied out of order).
      expect(versions).toEqual([...versions].sort((x, y) => Number(x!.slice(1)) - Number(y!.slice(1))));
      expect(versions.at(-1)).toBe('v10');
    }

    await clients[C].send(new DeleteItemCommand({ TableName: table, Key: { connectionId: { S: 'c1' } } }));
    await eventually(async () => {
      expect(await valueIn(A, table, 'c1')).toBeUndefined();
      expect(await valueIn(B, table, 'c1')).toBeUndefined();
    });
  });

  it('does not send a replicated change back: after quiescence nothing more is applied and each item is written once per region', async () => {
    const table = await replicated(20);
    const items = 30;
    await Promise.all(Array.from({ length: items }, (_, i) => put(REGIONS[i % 3], table, `c${i}`, `v${i}`)));
    await quiescent();
    // Each item written in one region, applied in the two others, never back.
    expect(replicator!.stats().applied).toBe(2 * items);
    await new Promise((resolve) => setTimeout(resolve, 10 * POLL_MS));
    expect(replicator!.stats().applied).toBe(2 * items);
    for (const region of REGIONS) expect(await streamRecords(region, table)).toHaveLength(items);
  });

  it('converges concurrent conflicting writes to one value in every region (last writer wins)', async () => {
    const table = await replicated(30);
    const keys = Array.from({ length: 15 }, (_, i) => `k${i}`);
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(keys.flatMap((key) => REGIONS.map((region) => put(region, table, key, `${region}-${round}`))));
    }
    await quiescent();
    for (const key of keys) {
      const values = await Promise.all(REGIONS.map((region) => valueIn(region, table, key)));
      expect(new Set(values).size, `${key}: ${values.join(', ')}`).toBe(1);
      expect(values[0]).toMatch(/-2$/);
    }
    expect(replicator!.stats().skippedAsOlder).toBeGreaterThan(0);
  });

  it('queues changes to and from a paused region and delivers both ways after resume', async () => {
    const table = await replicated(20);
    replicator!.pause(C);
    await put(A, table, 'from-a', 'a');
    await put(C, table, 'from-c', 'c');
    await eventually(async () => expect(await valueIn(B, table, 'from-a')).toBe('a'));
    await eventually(async () => expect(replicator!.stats().pendingByRegion[C]).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 6 * POLL_MS));
    expect(await valueIn(C, table, 'from-a')).toBeUndefined();
    expect(await valueIn(A, table, 'from-c')).toBeUndefined();

    replicator!.resume(C);
    await eventually(async () => {
      expect(await valueIn(C, table, 'from-a')).toBe('a');
      expect(await valueIn(A, table, 'from-c')).toBe('c');
      expect(await valueIn(B, table, 'from-c')).toBe('c');
    });
  });

  it('applies nothing after stop()', async () => {
    const table = await replicated(0);
    await put(A, table, 'before', 'x');
    await eventually(async () => expect(await valueIn(B, table, 'before')).toBe('x'));
    await replicator!.stop();
    await put(A, table, 'after', 'y');
    await new Promise((resolve) => setTimeout(resolve, 10 * POLL_MS));
    expect(await valueIn(B, table, 'after')).toBeUndefined();
  });

  it('rejects bad options and unknown regions with clear errors', () => {
    const base = { endpoint: ddb.endpoint, regions: [A, B], tableNames: ['app-connections'], lagMs: 10 };
    expect(() => startGlobalTableReplication({ ...base, lagMs: -1 })).toThrow(/lagMs/);
    expect(() => startGlobalTableReplication({ ...base, regions: [A, A] })).toThrow(/distinct/);
    expect(() => startGlobalTableReplication({ ...base, endpoint: 'not a url' })).toThrow(/endpoint/);
    replicator = startGlobalTableReplication(base);
    expect(() => replicator!.pause('mars-1')).toThrow(/unknown region "mars-1"/);
    expect(() => replicator!.setLag(-5)).toThrow();
  });
});
