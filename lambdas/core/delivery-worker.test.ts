import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { ConnectionStore } from './connection-store';
import type { MessageHistory, SequencedEnvelope } from './history';
import type { ConnectionPoster, PostOutcome } from './poster';
import { deliverBatch, type DeliveryWorkerDeps, type RetryScheduler } from './delivery-worker';
import type { Envelope } from './protocol';
import { recordingLog } from './testing';

// The worker's collaborators in memory: these tests prove its batching and failure logic;
// test/e2e proves it against the real local API Gateway and DynamoDB Local.
function fakeStore(subscribers: Record<string, string[]>) {
  const removed: string[] = [];
  const removedSubscriptions: string[] = [];
  const store = {
    async *subscribers(channel: string) {
      const ids = subscribers[channel] ?? [];
      for (let i = 0; i < ids.length; i += 2) yield ids.slice(i, i + 2).map((connectionId) => ({ connectionId }));
    },
    async remove(connectionId: string) {
      removed.push(connectionId);
    },
    async removeSubscription(channel: string, connectionId: string) {
      removedSubscriptions.push(`${channel}/${connectionId}`);
      return { presence: false };
    },
  } as unknown as ConnectionStore;
  return { store, removed, removedSubscriptions };
}

/** A poster port answering `outcome`; records every frame that arrived, unpacking batch frames. */
/** The message ids a frame carries: its own, or its batch's. */
const idsIn = (frame: { id?: string; frames?: Array<{ id: string }> }) => (frame.frames ? frame.frames.map((f) => f.id) : [frame.id!]);

function fakePoster(outcome: (connectionId: string, frame: { id?: string; frames?: Array<{ id: string }> }) => PostOutcome = () => 'ok') {
  const posts: Array<{ connectionId: string; id: string }> = [];
  const frames: Array<{ connectionId: string; bytes: number; frame: { type: string; id: string; frames?: Array<{ id: string }> } }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const poster: ConnectionPoster = {
    async post(connectionId, payload) {
      const frame = JSON.parse(Buffer.from(payload).toString());
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      const result = outcome(connectionId, frame);
      if (result !== 'ok') return result;
      frames.push({ connectionId, bytes: payload.byteLength, frame });
      for (const inner of frame.type === 'batch' ? frame.frames : [frame]) posts.push({ connectionId, id: inner.id });
      return 'ok';
    },
  };
  return { poster, posts, frames, maxInFlight: () => maxInFlight };
}

/** History that already holds everything, unless told which ids it cannot store. */
function fakeHistory(unstorable: string[] = []) {
  const stored: SequencedEnvelope[] = [];
  const history = {
    async storeReceived(envelopes: SequencedEnvelope[]) {
      stored.push(...envelopes);
      return new Set(envelopes.filter((e) => unstorable.includes(e.id)));
    },
  } as unknown as MessageHistory;
  return { history, stored };
}

const deps = (partial: Pick<DeliveryWorkerDeps, 'store' | 'poster' | 'ttlSeconds' | 'concurrency'> & Partial<DeliveryWorkerDeps>): DeliveryWorkerDeps => ({
  region: 'us-east-1',
  history: fakeHistory().history,
  maxBatchFrameBytes: 32 * 1024,
  retryDelaySeconds: 2,
  log: recordingLog(),
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
    const connections = fakePoster(() => 'ok');
    const result = await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 4 }),
      batch(record({ id: 'a' }), record({ id: 'b', channel: 'room:2' }), record({ id: 'c' })),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(connections.posts.filter((p) => p.connectionId === 'c1').map((p) => p.id)).toEqual(['a', 'c']);
    expect(connections.posts.filter((p) => p.connectionId === 'c4').map((p) => p.id)).toEqual(['b']);
    // One frame per subscriber: c1-c3 get a and c together, c4 gets b.
    expect(result.stats).toMatchObject({ records: 3, subscribers: 4, posted: 4, delivered: 7, failed: 0 });
  });

  it('logs one debug line per batch with its channels, events, subscribers, posts, failures and duration', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2'], 'room:2': ['c3'] });
    const log = recordingLog();
    let clock = 1_000_000;
    const connections = fakePoster((id) => (id === 'c3' ? 'failed' : 'ok'));
    await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 2, log, now: () => (clock += 5) }),
      batch(record({ ts: 1_000_000 }), record({ ts: 1_000_000 }), record({ ts: 1_000_000, channel: 'room:2' })),
    );
    expect(log.lines.filter((line) => line.level === 'debug')).toEqual([
      { level: 'debug', message: 'batch delivered', fields: { channels: 2, events: 3, subscribers: 3, posts: 2, failures: 1, durationMs: expect.any(Number) } },
    ]);
    expect(log.lines.find((line) => line.message === 'batch delivered')!.fields.durationMs).toBeGreaterThan(0);
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([
      { level: 'warn', message: 'post failed', fields: { connectionId: 'c3', channel: 'room:2', outcome: 'failed' } },
    ]);
  });

  it('measures publish to post per event posted, from its ts to the end of its last post; an event posted nowhere has no figure', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2'] });
    let clock = 1_000_000;
    const connections = fakePoster(() => 'ok');
    const result = await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1, now: () => (clock += 10) }),
      batch(record({ ts: 999_000 }), record({ ts: 999_500, channel: 'room:without-subscribers' })),
    );
    // The clock is read at the start, after each post, and for the batch line: the last post ended one reading before the last.
    expect(result.publishToPostMs).toEqual([clock - 10 - 999_000]);
  });

  it('removes a connection that answers 410 Gone, and its subscription by key (an orphan included), without retrying the event', async () => {
    const { store, removed, removedSubscriptions } = fakeStore({ 'room:1': ['live', 'stale'] });
    const connections = fakePoster((id) => (id === 'stale' ? 'gone' : 'ok'));
    const result = await deliverBatch(deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 2 }), batch(record({}), record({})));
    expect(removed).toEqual(['stale']);
    expect(removedSubscriptions).toEqual(['room:1/stale']);
    expect(result.batchItemFailures).toEqual([]);
    expect(result.stats.gone).toBe(1);
  });

  it('reports a throttled event and every later event of its channel as failures, and brings them back within seconds', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2'], 'room:2': ['c3'] });
    const first = record({ id: 'first' });
    const throttled = record({ id: 'throttled' });
    const later = record({ id: 'later' });
    const otherChannel = record({ id: 'other', channel: 'room:2' });
    const scheduled: Array<{ ids: string[]; delaySeconds: number }> = [];
    const retry: RetryScheduler = { retryAfter: async (records, delaySeconds) => void scheduled.push({ ids: records.map((r) => r.messageId), delaySeconds }) };
    const connections = fakePoster((id, frame) => (id === 'c2' && idsIn(frame).includes('throttled') ? 'throttled' : 'ok'));
    const result = await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 2, retry, retryDelaySeconds: 2 }),
      batch(first, throttled, later, otherChannel),
    );
    // c2's one frame carried all three: every event it covered comes back, the other channel's does not.
    const failed = [first.messageId, throttled.messageId, later.messageId].sort();
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(failed);
    expect(connections.posts.some((p) => p.connectionId === 'c2' && p.id === 'later')).toBe(false);
    expect(scheduled.map((s) => ({ ...s, ids: s.ids.sort() }))).toEqual([{ ids: failed, delaySeconds: 2 }]);
    expect(result.stats.throttled).toBe(1);
  });

  it('tries a throttled post again before failing anything: a post throttled once still delivers, with no batch item failure', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    let throttledOnce = false;
    const connections = fakePoster(() => (throttledOnce ? 'ok' : ((throttledOnce = true), 'throttled')));
    const result = await deliverBatch(deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1 }), batch(record({ id: 'x' })));
    expect(connections.posts.map((p) => p.id)).toEqual(['x']);
    expect(result.batchItemFailures).toEqual([]);
  });

  it('stores sequenced messages of other origins in this region\'s history before posting; one it cannot store is failed, not delivered', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const { history, stored } = fakeHistory(['unstorable']);
    const connections = fakePoster();
    const own = record({ id: 'own', seq: 1 });
    const remote = record({ id: 'remote', seq: 1, origin: 'eu-west-1' });
    const unstorable = record({ id: 'unstorable', seq: 2, origin: 'eu-west-1' });
    const result = await deliverBatch(deps({ store, poster: connections.poster, history, ttlSeconds: 0, concurrency: 1 }), batch(own, remote, unstorable));
    expect(stored.map((e) => e.id).sort()).toEqual(['remote', 'unstorable']);
    expect(connections.posts.map((p) => p.id)).toEqual(['own', 'remote']);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: unstorable.messageId }]);
    expect(result.stats.stored).toBe(1);
  });

  it('fails a record whose body is not an envelope so that SQS moves it to the DLQ, logging it at error', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakePoster(() => 'ok');
    const poison = record('{"not":"an envelope"}');
    const notJson = record('}{');
    const good = record({ id: 'good' });
    const log = recordingLog();
    const result = await deliverBatch(deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1, log }), batch(poison, notJson, good));
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([poison.messageId, notJson.messageId].sort());
    expect(connections.posts.map((p) => p.id)).toEqual(['good']);
    expect(log.lines.filter((line) => line.level === 'error')).toEqual([
      { level: 'error', message: 'invalid envelope', fields: { messageId: poison.messageId, body: '{"not":"an envelope"}' } },
      { level: 'error', message: 'invalid envelope', fields: { messageId: notJson.messageId, body: '}{' } },
    ]);
  });

  it('drops and counts events older than the class TTL instead of delivering them late', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakePoster(() => 'ok');
    const now = Date.now();
    const result = await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 10, concurrency: 1, now: () => now }),
      batch(record({ id: 'old', ts: now - 11_000, class: 'ephemeral' }), record({ id: 'fresh', ts: now - 1_000, class: 'ephemeral' })),
    );
    expect(connections.posts.map((p) => p.id)).toEqual(['fresh']);
    expect(result.stats.expired).toBe(1);
    expect(result.batchItemFailures).toEqual([]);
  });

  it('keeps at most `concurrency` posts in flight', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const { store } = fakeStore({ 'room:1': ids });
    const connections = fakePoster(() => 'ok');
    // The fake store pages by 2, so a bound above the page size would not be exercised: use one page.
    const onePage = { ...store, subscribers: async function* () { yield ids.map((connectionId) => ({ connectionId })); } } as unknown as ConnectionStore;
    await deliverBatch(deps({ store: onePage, poster: connections.poster, ttlSeconds: 0, concurrency: 3 }), batch(record({})));
    expect(connections.posts).toHaveLength(20);
    expect(connections.maxInFlight()).toBe(3);
  });

  it('coalesces several ephemeral events due for one connection into one batch frame', async () => {
    const { store } = fakeStore({ 'room:1': ['c1', 'c2'] });
    const connections = fakePoster();
    const result = await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 10, concurrency: 2 }),
      batch(record({ id: 'e1', class: 'ephemeral' }), record({ id: 'e2', class: 'ephemeral' }), record({ id: 'e3', class: 'ephemeral' })),
    );
    expect(connections.frames).toHaveLength(2);
    expect(connections.frames[0]!.frame).toMatchObject({ type: 'batch', frames: [{ id: 'e1' }, { id: 'e2' }, { id: 'e3' }] });
    expect(result.stats).toMatchObject({ posted: 2, delivered: 6 });
  });

  it('sends a subscriber\'s due critical events as one batch frame in (origin, seq) order: one post for a 10-event batch', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakePoster();
    const events = [5, 3, 4, 1, 2].flatMap((seq) => [record({ id: `us${seq}`, seq }), record({ id: `eu${seq}`, seq, origin: 'eu-west-1' })]);
    const result = await deliverBatch(deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1 }), batch(...events));
    expect(connections.frames).toHaveLength(1);
    expect(result.stats).toMatchObject({ posted: 1, delivered: 10 });
    const ids = connections.posts.map((p) => p.id);
    expect(ids.filter((id) => id.startsWith('us'))).toEqual(['us1', 'us2', 'us3', 'us4', 'us5']);
    expect(ids.filter((id) => id.startsWith('eu'))).toEqual(['eu1', 'eu2', 'eu3', 'eu4', 'eu5']);
  });

  it('caps coalesced frames by bytes: ten 30 KB ephemeral events never make a frame over the cap, and all arrive in order', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakePoster();
    const big = (id: string) => record({ id, class: 'ephemeral', data: 'x'.repeat(30_000) });
    const small = (id: string) => record({ id, class: 'ephemeral', data: 'y' });
    const events = [small('s0'), ...Array.from({ length: 10 }, (_, i) => big(`b${i}`)), small('s1'), small('s2')];
    await deliverBatch(deps({ store, poster: connections.poster, ttlSeconds: 10, concurrency: 1, maxBatchFrameBytes: 32 * 1024 }), batch(...events));
    expect(connections.posts.map((p) => p.id)).toEqual(['s0', ...Array.from({ length: 10 }, (_, i) => `b${i}`), 's1', 's2']);
    for (const { bytes, frame } of connections.frames) {
      if (frame.type === 'batch') expect(bytes).toBeLessThanOrEqual(32 * 1024);
    }
    expect(Math.max(...connections.frames.map((f) => f.bytes))).toBeLessThan(128 * 1024);
    expect(connections.frames.at(-1)!.frame).toMatchObject({ type: 'batch', frames: [{ id: 'b9' }, { id: 's1' }, { id: 's2' }] });
  });

  it('skips sequenced events a subscriber already has (seq at or below its since) but delivers unsequenced ones', async () => {
    const store = {
      async *subscribers() {
        yield [{ connectionId: 'c1', since: { 'us-east-1': 5 } }];
      },
    } as unknown as ConnectionStore;
    const connections = fakePoster(() => 'ok');
    await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1 }),
      batch(record({ id: 'old', seq: 5 }), record({ id: 'new', seq: 6 }), record({ id: 'other-origin', seq: 2, origin: 'eu-west-1' })),
    );
    expect(connections.posts.map((p) => p.id)).toEqual(['new', 'other-origin']);
  });

  it('holds sequenced events back from a replaying subscription and records them, delivering once the replay has handed over', async () => {
    const held: number[] = [];
    const store = {
      async *subscribers() {
        yield [{ connectionId: 'c1', replaying: true, replayUntil: Date.now() + 30_000, since: { 'us-east-1': 0 } }];
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
    const connections = fakePoster();
    await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1 }),
      batch(record({ id: 's7', seq: 7 }), record({ id: 's8', seq: 8 }), record({ id: 's9', seq: 9 })),
    );
    expect(held).toEqual([7]);
    expect(connections.posts.map((p) => p.id)).toEqual(['s9']);
  });

  it('holds nothing back for a replay whose lease has run out (the replay died): it delivers by the subscription\'s since', async () => {
    const store = {
      async *subscribers() {
        yield [{ connectionId: 'c1', replaying: true, replayUntil: Date.now() - 60_000, since: { 'us-east-1': 3 } }];
      },
      async recordHeldBack() {
        throw new Error('must not be asked: the lease is over');
      },
    } as unknown as ConnectionStore;
    const connections = fakePoster();
    await deliverBatch(deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1 }), batch(record({ id: 's3', seq: 3 }), record({ id: 's4', seq: 4 })));
    expect(connections.posts.map((p) => p.id)).toEqual(['s4']);
  });

  it('orders sequenced events by seq within each origin, whatever order the batch brought them in', async () => {
    const { store } = fakeStore({ 'room:1': ['c1'] });
    const connections = fakePoster(() => 'ok');
    await deliverBatch(
      deps({ store, poster: connections.poster, ttlSeconds: 0, concurrency: 1 }),
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
