import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { forEachWithConcurrency } from './concurrency';
import { isReplaying, type ConnectionStore, type Subscriber } from './connection-store';
import type { MessageHistory, SequencedEnvelope } from './history';
import { dataDepthProblem } from './json-data';
import type { Log } from './log';
import type { ConnectionPoster, PostOutcome } from './poster';
import { EnvelopeSchema, envelopeFrame, type Envelope } from './protocol';

/**
 * Port: makes failed records of this batch visible again after a short delay, instead of
 * after the queue's visibility timeout (minutes for the critical class). Best effort: when
 * it fails, the visibility timeout still brings the records back.
 */
export interface RetryScheduler {
  retryAfter(records: readonly SQSRecord[], delaySeconds: number): Promise<void>;
}

export interface DeliveryWorkerDeps {
  region: string;
  store: ConnectionStore;
  poster: ConnectionPoster;
  history: MessageHistory;
  /** Events older than this are dropped instead of delivered late; 0 keeps every event. */
  ttlSeconds: number;
  /** PostToConnection calls in flight. */
  concurrency: number;
  /** Largest coalesced `batch` frame, bytes; an event larger than this goes alone. */
  maxBatchFrameBytes: number;
  retry?: RetryScheduler;
  /** Seconds before a failed record is delivered again. */
  retryDelaySeconds: number;
  log: Log;
  now?: () => number;
}

export type DeliveryStats = {
  records: number;
  invalid: number;
  expired: number;
  /** Sequenced messages from other origins this region stored in its history before fanning out. */
  stored: number;
  /** Subscription items read by Query. */
  subscribers: number;
  /** Every DynamoDB item read (subscriptions, plus re-reads after a replay handover). */
  itemsRead: number;
  /** PostToConnection calls: one frame each. */
  posted: number;
  /** Events that reached a connection (a coalesced frame delivers several). */
  delivered: number;
  /** Sequenced events held back for a replaying subscription, or already held by the client. */
  skipped: number;
  gone: number;
  throttled: number;
  failed: number;
};

interface PendingEvent {
  record: SQSRecord;
  envelope: Envelope;
  /** The frame serialized once per event, not once per subscriber: this is the hot path. */
  payload: string;
  /** When the last post that carried it ended, if one did. */
  lastPostedAt?: number;
}

/**
 * Delivers one SQS batch to this region's subscribers.
 * - Sequenced messages from other origins are stored in this region's history first, so a
 *   recovery here finds everything this region delivered, whatever replication is doing.
 * - Per channel, events go to each connection in order (by seq per origin). When a post is
 *   throttled or fails, that event and every later event of the channel are reported in
 *   `batchItemFailures` and scheduled to come back within seconds; subscribers that got
 *   them already drop the copies by (origin, seq).
 * - A gone connection (410) is removed with its subscription, not retried.
 * - The events due for one connection go out together as `batch` frames of at most
 *   `maxBatchFrameBytes` (an event larger than that alone).
 */
export async function deliverBatch(
  deps: DeliveryWorkerDeps,
  event: SQSEvent,
): Promise<SQSBatchResponse & { stats: DeliveryStats; /** Per event posted here: ms from its publish (its `ts`) to the end of its last post. */ publishToPostMs: number[] }> {
  const clock = deps.now ?? Date.now;
  const now = clock();
  const stats: DeliveryStats = {
    records: event.Records.length,
    invalid: 0,
    expired: 0,
    stored: 0,
    subscribers: 0,
    itemsRead: 0,
    posted: 0,
    delivered: 0,
    skipped: 0,
    gone: 0,
    throttled: 0,
    failed: 0,
  };
  const failed = new Set<SQSRecord>();
  const accepted: PendingEvent[] = [];
  for (const record of event.Records) {
    const envelope = parseEnvelope(record.body);
    const frame = envelope && envelopeFrame(envelope);
    if (!envelope || !frame) {
      // Not ours to drop: failing it sends it to the DLQ after maxReceiveCount, where an alarm fires.
      deps.log.error('invalid envelope', { messageId: record.messageId, body: record.body.slice(0, 512) });
      stats.invalid++;
      failed.add(record);
    } else if (deps.ttlSeconds > 0 && now - envelope.ts > deps.ttlSeconds * 1000) {
      stats.expired++;
    } else {
      accepted.push({ record, envelope, payload: JSON.stringify(frame) });
    }
  }

  const received = accepted.filter((e) => e.envelope.seq !== undefined && e.envelope.origin !== deps.region);
  const notStored = await deps.history.storeReceived(received.map((e) => e.envelope as SequencedEnvelope)).catch(() => new Set(received.map((e) => e.envelope)));
  stats.stored = received.length - notStored.size;
  const byChannel = new Map<string, PendingEvent[]>();
  for (const pending of accepted) {
    // Not in this region's history yet: delivering it could leave a recovery here without it.
    if (notStored.has(pending.envelope as SequencedEnvelope)) {
      failed.add(pending.record);
      continue;
    }
    const channelEvents = byChannel.get(pending.envelope.channel);
    if (channelEvents) channelEvents.push(pending);
    else byChannel.set(pending.envelope.channel, [pending]);
  }

  const gone = new Map<string, Set<string>>();
  for (const [channel, unordered] of byChannel) {
    const events = orderForDelivery(unordered);
    const frames = new FrameBuilder(deps.maxBatchFrameBytes);
    for await (const subscribers of deps.store.subscribers(channel)) {
      stats.subscribers += subscribers.length;
      stats.itemsRead += subscribers.length;
      await forEachWithConcurrency(subscribers, deps.concurrency, async (subscriber) => {
        const due = await dueFor(deps, channel, subscriber, events, stats, now);
        for (const { payload, covers } of frames.for(due)) {
          const outcome = await postWithRetries(deps.poster, subscriber.connectionId, payload);
          if (outcome === 'ok') {
            stats.posted++;
            stats.delivered += covers.length;
            const postedAt = clock();
            for (const covered of covers) covered.lastPostedAt = postedAt;
            continue;
          }
          if (outcome === 'gone') {
            gone.set(subscriber.connectionId, (gone.get(subscriber.connectionId) ?? new Set()).add(channel));
            return;
          }
          if (outcome === 'throttled') stats.throttled++;
          deps.log.warn('post failed', { connectionId: subscriber.connectionId, channel, outcome });
          for (const later of events.slice(events.indexOf(covers[0]!))) failed.add(later.record);
          return;
        }
      });
    }
  }

  await Promise.all(
    [...gone].map(async ([connectionId, channels]) => {
      // By key as well: a subscription the connection item does not list (an orphan) goes too.
      await Promise.all([...channels].map((channel) => deps.store.removeSubscription(channel, connectionId)));
      await deps.store.remove(connectionId);
    }),
  ).catch((error: unknown) => deps.log.warn('removing gone connections failed', { error }));
  stats.gone = gone.size;
  stats.failed = failed.size;
  if (failed.size > 0 && deps.retry) {
    await deps.retry
      .retryAfter([...failed].filter((record) => !isInvalid(record)), deps.retryDelaySeconds)
      .catch((error: unknown) => deps.log.warn('fast retry not scheduled; the visibility timeout applies', { error }));
  }
  deps.log.debug('batch delivered', {
    channels: byChannel.size,
    events: stats.records,
    subscribers: stats.subscribers,
    posts: stats.posted,
    failures: stats.failed,
    durationMs: clock() - now,
  });
  return {
    batchItemFailures: [...failed].map((record) => ({ itemIdentifier: record.messageId })),
    stats,
    publishToPostMs: accepted.flatMap(({ envelope, lastPostedAt }) => (lastPostedAt === undefined ? [] : [lastPostedAt - envelope.ts])),
  };
}

/** Tries of one post before its events fail for the batch: one throttled subscriber must not send every subscriber's copy round again. */
const POST_TRIES = 3;

async function postWithRetries(poster: ConnectionPoster, connectionId: string, payload: Uint8Array): Promise<PostOutcome> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await poster.post(connectionId, payload);
    if (outcome === 'ok' || outcome === 'gone' || attempt >= POST_TRIES) return outcome;
    await new Promise((resolve) => setTimeout(resolve, 50 * 4 ** (attempt - 1) * (0.5 + Math.random() / 2)));
  }
}

/** Poison records keep their visibility timeout: retrying them fast would only reach the DLQ sooner. */
const isInvalid = (record: SQSRecord) => parseEnvelope(record.body) === undefined;

/**
 * Sequenced events by seq within their origin, each origin keeping the batch positions its
 * events had (a comparator mixing "by seq" and "by position" would not be a total order).
 */
function orderForDelivery(events: PendingEvent[]): PendingEvent[] {
  const slotsByOrigin = new Map<string, number[]>();
  events.forEach((event, index) => {
    if (event.envelope.seq === undefined) return;
    const slots = slotsByOrigin.get(event.envelope.origin);
    if (slots) slots.push(index);
    else slotsByOrigin.set(event.envelope.origin, [index]);
  });
  const ordered = [...events];
  for (const slots of slotsByOrigin.values()) {
    const bySeq = slots.map((slot) => events[slot]!).sort((a, b) => a.envelope.seq! - b.envelope.seq!);
    slots.forEach((slot, k) => (ordered[slot] = bySeq[k]!));
  }
  return ordered;
}

interface OutgoingFrame {
  payload: Uint8Array;
  covers: PendingEvent[];
}

const BATCH_OPEN = '{"type":"batch","frames":[';
const BATCH_CLOSE = ']}';

/**
 * The frames for a subscriber's due events, in delivery order ((origin, seq) order per
 * origin), coalesced into `batch` frames under the byte cap: one PostToConnection carries a
 * whole batch's events for a subscriber, which is what bounds posts per event (and with them
 * the account's 10,000 requests/s). Built once per distinct due list and reused for every
 * subscriber with the same one, from the events' own serialized frames.
 */
class FrameBuilder {
  private readonly built = new Map<string, OutgoingFrame[]>();

  constructor(private readonly maxBytes: number) {}

  for(due: PendingEvent[]): OutgoingFrame[] {
    const key = due.map((e) => e.record.messageId).join('\n');
    let frames = this.built.get(key);
    if (!frames) this.built.set(key, (frames = this.build(due)));
    return frames;
  }

  private build(due: PendingEvent[]): OutgoingFrame[] {
    const frames: OutgoingFrame[] = [];
    let run: PendingEvent[] = [];
    let runBytes = 0;
    const flush = () => {
      if (run.length === 1) frames.push(single(run[0]!));
      else if (run.length > 1) frames.push({ payload: Buffer.from(`${BATCH_OPEN}${run.map((e) => e.payload).join(',')}${BATCH_CLOSE}`), covers: run });
      run = [];
      runBytes = 0;
    };
    for (const event of due) {
      const bytes = Buffer.byteLength(event.payload) + 1;
      if (run.length > 0 && BATCH_OPEN.length + runBytes + bytes + BATCH_CLOSE.length > this.maxBytes) flush();
      run.push(event);
      runBytes += bytes;
    }
    flush();
    return frames;
  }
}

const single = (event: PendingEvent): OutgoingFrame => ({ payload: Buffer.from(event.payload), covers: [event] });

/** The events this subscriber should get now: sequenced ones it already has or that a replay will bring are left out. */
async function dueFor(
  deps: DeliveryWorkerDeps,
  channel: string,
  subscriber: Subscriber,
  events: PendingEvent[],
  stats: DeliveryStats,
  now: number,
): Promise<PendingEvent[]> {
  if (!subscriber.since && !subscriber.replaying) return events;
  let current = subscriber;
  const due: PendingEvent[] = [];
  for (const event of events) {
    const { origin, seq } = event.envelope;
    if (seq === undefined) {
      due.push(event);
      continue;
    }
    if (isReplaying(current, now)) {
      // Already in this region's history (stored above), so the replay will post it.
      if (await deps.store.recordHeldBack(channel, current.connectionId, origin, seq)) {
        stats.skipped++;
        continue;
      }
      // The replay handed over or its lease ran out meanwhile: decide on the `since` it left.
      const reread = await deps.store.getSubscription(channel, current.connectionId);
      stats.itemsRead++;
      if (!reread) return due;
      current = reread;
    }
    if ((current.since?.[origin] ?? 0) >= seq) {
      stats.skipped++;
      continue;
    }
    due.push(event);
  }
  return due;
}

function parseEnvelope(body: string): Envelope | undefined {
  try {
    const json = JSON.parse(body) as { data?: unknown } | null;
    // Bounded before the frame is serialized: a poison message must not overflow the stack.
    if (dataDepthProblem(json?.data)) return undefined;
    const parsed = EnvelopeSchema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
