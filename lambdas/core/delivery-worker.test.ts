import { GoneException, type ApiGatewayManagementApiClient, type PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { ConnectionStore } from './connection-store';
import type { IdempotencyLedger } from './dedup';
import type { MessageHistory } from './history';
import { deliverBatch, type DeliveryWorkerDeps } from './delivery-worker';
import type { Envelope } from './protocol';

// The worker's collaborators in memory: these tests prove its batching and failure logic;
// test/e2e proves it against the real local API Gateway and DynamoDB Local.
function fakeStore(subscribers: Record<string, string[]>) {
  const removed: string[] = [];
  const store = {
    async *subscribers(channel: string) {
      const ids = subscribers[channel] ?? [];
      for (let i = 0; i < ids.length; i += 2) yield ids.slice(i, i + 2).map((connectionId) => ({ connectionId }));
    },
    async remove(connectionId: string) {
      removed.push(connectionId);
    },
  } as unknown as ConnectionStore;
  return { store, removed };
}

function fakeConnections(outcome: (connectionId: string, frame: { id: string }) => 'ok' | 'gone' | 'throttled') {
  const posts: Array<{ connectionId: string; id: string }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    async send(command: PostToConnectionCommand) {
      const connectionId = command.input.ConnectionId!;
      const frame = JSON.parse(Buffer.from(command.input.Data as Uint8Array).toString());
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      const result = outcome(connectionId, frame);
      if (result === 'gone') throw new GoneException({ message: 'gone', $metadata: {} });
      if (result === 'throttled') throw Object.assign(new Error('throttled'), { name: 'LimitExceededException' });
      posts.push({ connectionId, id: frame.id });
      return {};
    },
  } as unknown as ApiGatewayManagementApiClient;
  return { client, posts, maxInFlight: () => maxInFlight };
}

/** Every client id is new unless listed as already delivered in this region. */
const deps = (partial: Omit<DeliveryWorkerDeps, 'region' | 'idempotency' | 'history'>, delivered: string[] = []): DeliveryWorkerDeps => ({
  region: 'us-east-1',
  history: { append: async () => undefined } as unknown as MessageHistory,
  idempotency: { claimDelivery: async (_region: string, _channel: string, id: string) => !delivered.includes(id) } as unknown as IdempotencyLedger,
  ...partial,
});

let messageCounter = 0;
function record(envelope: Partial<Envelope> | string): SQSRecord {
  const body =
    typeof envelope === 'string'
      ? envelope
      : JSON.stringify({
          v: 1, id: `m${++messageCounter}`, channel: 'room:1', data: {}, origin: 'us-east-1', ts: Date.now(), class: 'critical',
          // Critical events always carry their origin's seq; ephemeral ones never do.
          ...(envelope.class !== 'ephemeral' && { seq: messageCounter }),
          ...envelope,
        });
  return { messageId: `sqs-${++messageCounter}`, body } as SQSRecord;
}
const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

describe('deliverBatch', () => {
  it('posts every event to every subscriber of its channel, in batch order, one Query page at a time', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2', 'c3'], 'room:2': ['c4'] });
    const connections = fakeConnections(() => 'ok');
    const result = await deliverBatch(
      deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 4 }),
      batch(record({ id: 'a' }), record({ id: 'b', channel: 'room:2' }), record({ id: 'c' })),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(connections.posts.filter((p) => p.connectionId === 'c1').map((p) => p.id)).toEqual(['a', 'c']);
    expect(connections.posts.filter((p) => p.connectionId === 'c4').map((p) => p.id)).toEqual(['b']);
    expect(result.stats).toMatchObject({ records: 3, subscribers: 4, posted: 7, failed: 0 });
  });

  it('deletes a connection that answers 410 Gone and does not retry the event', async () => {
    const { store, removed } = fakeStore({ 'room:1': ['live', 'stale'] });
    const connections = fakeConnections((id) => (id === 'stale' ? 'gone' : 'ok'));
    const result = await deliverBatch(deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 2 }), batch(record({}), record({})));
    expect(removed).toEqual(['stale']);
    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats.gone).toBe(1);
  });

  it('reports a throttled event and every later event of its channel as batch item failures', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2'], 'room:2': ['c3'] });
    const first = record({ id: 'first' });
    const throttled = record({ id: 'throttled' });
    const later = record({ id: 'later' });
    const otherChannel = record({ id: 'other', channel: 'room:2' });
    const connections = fakeConnections((id, frame) => (id === 'c2' && frame.id === 'throttled' ? 'throttled' : 'ok'));
    const result = await deliverBatch(
      deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 2 }),
      batch(first, throttled, later, otherChannel),
    );
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([throttled.messageId, later.messageId].sort());
    expect(connections.posts.some((p) => p.connectionId === 'c2' && p.id === 'later')).toBe(false);
  });

  it('fails a record whose body is not an envelope so that SQS moves it to the DLQ', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakeConnections(() => 'ok');
    const poison = record('{"not":"an envelope"}');
    const notJson = record('}{');
    const good = record({ id: 'good' });
    const result = await deliverBatch(deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 1 }), batch(poison, notJson, good));
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([poison.messageId, notJson.messageId].sort());
    expect(connections.posts.map((p) => p.id)).toEqual(['good']);
  });

  it('drops and counts events older than the class TTL instead of delivering them late', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakeConnections(() => 'ok');
    const now = Date.now();
    const result = await deliverBatch(
      deps({ store, connections: connections.client, ttlSeconds: 10, concurrency: 1, now: () => now }),
      batch(record({ id: 'old', ts: now - 11_000, class: 'ephemeral' }), record({ id: 'fresh', ts: now - 1_000, class: 'ephemeral' })),
    );
    expect(connections.posts.map((p) => p.id)).toEqual(['fresh']);
    expect(result.stats.expired).toBe(1);
    expect(result.batchItemFailures).toEqual([]);
  });

  it('keeps at most `concurrency` posts in flight', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const { store } = fakeStore({ 'room:1': ids });
    const connections = fakeConnections(() => 'ok');
    // The fake store pages by 2, so a bound above the page size would not be exercised: use one page.
    const onePage = { ...store, subscribers: async function* () { yield ids.map((connectionId) => ({ connectionId })); } } as unknown as ConnectionStore;
    await deliverBatch(deps({ store: onePage, connections: connections.client, ttlSeconds: 0, concurrency: 3 }), batch(record({})));
    expect(connections.posts).toHaveLength(20);
    expect(connections.maxInFlight()).toBe(3);
  });

  it('coalesces several ephemeral events due for one connection into one batch frame', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2'] });
    const frames: unknown[] = [];
    const client = {
      async send(command: PostToConnectionCommand) {
        frames.push(JSON.parse(Buffer.from(command.input.Data as Uint8Array).toString()));
        return {};
      },
    } as unknown as ApiGatewayManagementApiClient;
    const result = await deliverBatch(
      deps({ store, connections: client, ttlSeconds: 10, concurrency: 2 }),
      batch(record({ id: 'e1', class: 'ephemeral' }), record({ id: 'e2', class: 'ephemeral' }), record({ id: 'e3', class: 'ephemeral' })),
    );
    expect(frames).toHaveLength(2);
    expect(frames[0]).toMatchObject({ type: 'batch', frames: [{ id: 'e1' }, { id: 'e2' }, { id: 'e3' }] });
    expect(result.stats).toMatchObject({ posted: 2, delivered: 6 });
  });

  it('does not deliver a client id that this region already delivered from another origin', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakeConnections(() => 'ok');
    const retried = record({ id: 'client-key', clientId: true, origin: 'eu-west-1' });
    const result = await deliverBatch(deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 1 }, ['client-key']), batch(retried, record({ id: 'other' })));
    expect(connections.posts.map((p) => p.id)).toEqual(['other']);
    expect(result.stats.duplicates).toBe(1);
    expect(result.batchItemFailures).toEqual([]);
  });

  it('skips sequenced events a subscriber already has (seq at or below its since) but delivers unsequenced ones', async () => {
    const store = {
      async *subscribers() {
        yield [{ connectionId: 'c1', since: { 'us-east-1': 5 } }];
      },
    } as unknown as ConnectionStore;
    const connections = fakeConnections(() => 'ok');
    await deliverBatch(
      deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 1 }),
      batch(record({ id: 'old', seq: 5 }), record({ id: 'new', seq: 6 }), record({ id: 'other-origin', seq: 2, origin: 'eu-west-1' })),
    );
    expect(connections.posts.map((p) => p.id)).toEqual(['new', 'other-origin']);
  });

  it('holds sequenced events back from a replaying subscription and records them, delivering once the replay has handed over', async () => {
    const held: number[] = [];
    const store = {
      async *subscribers() {
        yield [{ connectionId: 'c1', replaying: true, since: { 'us-east-1': 0 } }];
      },
      async recordHeldBack(_channel: string, _id: string, _origin: string, seq: number) {
        if (seq >= 8) return false; // the replay handed over before seq 8 was recorded
        held.push(seq);
        return true;
      },
      async getSubscription() {
        return { connectionId: 'c1', since: { 'us-east-1': 8 } };
      },
    } as unknown as ConnectionStore;
    const connections = fakeConnections(() => 'ok');
    await deliverBatch(
      deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 1 }),
      batch(record({ id: 's7', seq: 7 }), record({ id: 's8', seq: 8 }), record({ id: 's9', seq: 9 })),
    );
    expect(held).toEqual([7]);
    expect(connections.posts.map((p) => p.id)).toEqual(['s9']);
  });

  it('orders sequenced events by seq within each origin, whatever order the batch brought them in', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakeConnections(() => 'ok');
    await deliverBatch(
      deps({ store, connections: connections.client, ttlSeconds: 0, concurrency: 1 }),
      batch(
        record({ id: 'us5', seq: 5 }),
        record({ id: 'eu1', seq: 1, origin: 'eu-west-1' }),
        record({ id: 'us3', seq: 3 }),
        record({ id: 'eu2', seq: 2, origin: 'eu-west-1' }),
        record({ id: 'us4', seq: 4 }),
      ),
    );
    const ids = connections.posts.map((p) => p.id);
    expect(ids.filter((id) => id.startsWith('us'))).toEqual(['us3', 'us4', 'us5']);
    expect(ids.filter((id) => id.startsWith('eu'))).toEqual(['eu1', 'eu2']);
  });
});
