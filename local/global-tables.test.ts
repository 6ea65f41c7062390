import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
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

  /**
   * A fresh connections table in every region and a replicator over it. `prepare` may create the
   * table first in some region (createTables then leaves it as it is); `endpoint` replaces
   * DynamoDB Local's for the replicator.
   */
  async function replicated(lagMs: number, { prepare, endpoint = ddb.endpoint }: { prepare?: (table: string) => Promise<void>; endpoint?: string } = {}): Promise<string> {
    const app = `app${(apps += 1)}`;
    const table = physicalTableName(app, connectionsTable);
    await prepare?.(table);
    await Promise.all(REGIONS.map((region) => createTables(clients[region], app, [connectionsTable])));
    replicator = startGlobalTableReplication({ endpoint, regions: REGIONS, tableNames: [table], lagMs, pollIntervalMs: POLL_MS, credentials });
    return table;
  }

  const put = (region: string, table: string, id: string, v: string) =>
    clients[region].send(new PutItemCommand({ TableName: table, Item: { connectionId: { S: id }, v: { S: v } } }));
  const valueIn = async (region: string, table: string, id: string): Promise<string | undefined> => {
    const { Item } = await clients[region].send(new GetItemCommand({ TableName: table, Key: { connectionId: { S: id } }, ConsistentRead: true }));
    return Item?.v?.S;
  };
  const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 20_000, interval: 50 });
  /** Nothing queued or in flight anywhere, twice the longest poll interval apart (a quiet stream is read every 8 × POLL_MS at most). */
  const quiescent = () =>
    eventually(async () => {
      const pending = () => Object.values(replicator!.stats().pendingByRegion).reduce((a, b) => a + b, 0);
      expect(pending()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 2 * 8 * POLL_MS));
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

  it('never lets a later change of an item overtake an earlier one when the lag is lowered in between', async () => {
    const table = await replicated(800);
    await put(A, table, 'c1', 'v1');
    // v1 is read and queued for B with the high lag before the lag drops.
    await eventually(async () => expect(replicator!.stats().pendingByRegion[B]).toBe(1));
    replicator!.setLag(0);
    await put(A, table, 'c1', 'v2');
    await eventually(async () => expect(await valueIn(B, table, 'c1')).toBe('v2'));
    await quiescent();
    // Had v2 gone first, v1 would have been skipped as older and B's stream would hold v2 alone.
    expect((await streamRecords(B, table)).map((r) => r.dynamodb?.NewImage?.v?.S)).toEqual(['v1', 'v2']);
    expect(replicator!.stats().skippedAsOlder).toBe(0);
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

  it('replicates items holding empty maps and lists, also nested, intact', async () => {
    const table = await replicated(0);
    const item: Record<string, AttributeValue> = {
      connectionId: { S: 'empties' },
      skipped: { M: {} },
      list: { L: [] },
      nested: { L: [{ M: {} }, { L: [] }, { M: { inner: { M: {} }, s: { S: 'x' } } }] },
      map: { M: { empty: { M: {} }, emptyList: { L: [] }, deeper: { M: { empty: { M: {} } } } } },
    };
    await clients[A].send(new PutItemCommand({ TableName: table, Item: item }));
    await eventually(async () => {
      for (const region of [B, C]) {
        const { Item } = await clients[region].send(new GetItemCommand({ TableName: table, Key: { connectionId: { S: 'empties' } }, ConsistentRead: true }));
        expect(Item).toEqual(item);
      }
    });
    expect(replicator!.stats().failed).toBe(0);
  });

  it('gives up a change the target region rejects for good, counts it, and keeps replicating later changes', async () => {
    // C's table has an index keyed on a number `g`: an item whose `g` is a string cannot be written there.
    const table = await replicated(0, {
      prepare: async (name) => {
        await clients[C].send(
          new CreateTableCommand({
            TableName: name,
            BillingMode: 'PAY_PER_REQUEST',
            KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
            AttributeDefinitions: [
              { AttributeName: 'connectionId', AttributeType: 'S' },
              { AttributeName: 'g', AttributeType: 'N' },
            ],
            GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
            StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
          }),
        );
      },
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await clients[A].send(new PutItemCommand({ TableName: table, Item: { connectionId: { S: 'bad' }, g: { S: 'not a number' } } }));
      await put(A, table, 'after', 'fine');
      await eventually(async () => {
        expect(await valueIn(C, table, 'after')).toBe('fine');
        expect(await valueIn(B, table, 'after')).toBe('fine');
      });
      await quiescent();
      expect(replicator!.stats().failed).toBe(1);
      expect(errors).toHaveBeenCalledTimes(1);
      expect(String(errors.mock.calls[0][0])).toMatch(/gave up replicating .*bad.* to ap-south-1 .*ValidationException/);
      // The rejected change still reached the region that could take it.
      const { Item } = await clients[B].send(new GetItemCommand({ TableName: table, Key: { connectionId: { S: 'bad' } }, ConsistentRead: true }));
      expect(Item?.g).toEqual({ S: 'not a number' });
    } finally {
      errors.mockRestore();
    }
  });

  it('keeps retrying a throttled write until it lands instead of giving it up', async () => {
    // A pass-through proxy to DynamoDB Local that throttles C's first writes of one item.
    let throttled = 0;
    const proxy: Server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        const isWriteToC = incoming.headers['x-amz-target'] === 'DynamoDB_20120810.PutItem' && incoming.headers.authorization?.includes(`/${C}/`);
        if (isWriteToC && body.includes('throttled') && throttled < 5) {
          throttled += 1;
          outgoing.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          outgoing.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput.' }));
          return;
        }
        const upstream = request(ddb.endpoint, { method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
          outgoing.writeHead(response.statusCode!, response.headers);
          response.pipe(outgoing);
        });
        upstream.on('error', (error) => outgoing.destroy(error));
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const table = await replicated(0, { endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      await put(A, table, 'throttled', 'eventually');
      await eventually(async () => expect(await valueIn(C, table, 'throttled')).toBe('eventually'));
      expect(throttled).toBe(5);
      expect(replicator!.stats().failed).toBe(0);
    } finally {
      await replicator?.stop();
      replicator = undefined;
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('reads a quiet stream less and less often, and still replicates the first write after a quiet spell', async () => {
    const app = `app${(apps += 1)}`;
    const table = physicalTableName(app, connectionsTable);
    await Promise.all(REGIONS.map((region) => createTables(clients[region], app, [connectionsTable])));
    replicator = startGlobalTableReplication({ endpoint: ddb.endpoint, regions: REGIONS, tableNames: [table], lagMs: 0, pollIntervalMs: 25, maxIdlePollIntervalMs: 400, credentials });
    const before = replicator.stats().streamPolls;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Polled every 25 ms, two idle streams would be read ~160 times in 2 s; backing off to 400 ms, ~20.
    expect(replicator.stats().streamPolls - before).toBeLessThanOrEqual(2 * (2_000 / 400 + 5));
    await put(REGIONS[0], table, 'after-quiet', 'v1');
    await eventually(async () => expect(await valueIn(REGIONS[1], table, 'after-quiet')).toBe('v1'));
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
