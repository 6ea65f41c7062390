import { GoneException, PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { forEachWithConcurrency } from './concurrency';
import type { ConnectionStore, Subscriber } from './connection-store';
import type { IdempotencyLedger } from './dedup';
import type { MessageHistory } from './history';
import { dataDepthProblem } from './json-data';
import { EnvelopeSchema, envelopeFrame, type BatchFrame, type Envelope } from './protocol';

export interface DeliveryWorkerDeps {
  region: string;
  store: ConnectionStore;
  connections: ApiGatewayManagementApiClient;
  idempotency: IdempotencyLedger;
  history: MessageHistory;
  /** Events older than this are dropped instead of delivered late; 0 keeps every event. */
  ttlSeconds: number;
  /** PostToConnection calls in flight. */
  concurrency: number;
  now?: () => number;
}

export type DeliveryStats = {
  records: number;
  invalid: number;
  expired: number;
  /** Copies of a client id this region already delivered (a retry published in another region). */
  duplicates: number;
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
  failed: number;
};

interface PendingEvent {
  record: SQSRecord;
  envelope: Envelope;
  frame: object;
  /** The frame serialized once per event, not once per subscriber: this is the hot path. */
  payload: Uint8Array;
}

/**
 * Delivers one SQS batch to this region's subscribers. Per channel, events go to each
 * connection in order (by seq per origin); when a post fails (throttled, 5xx after the
 * SDK's own retries) that event and every later event of the channel are reported in
 * `batchItemFailures`, so SQS redelivers them in order rather than skipping one. A gone
 * connection (410) is deleted, not retried. Several unsequenced (ephemeral) events due for
 * one connection go out as one `batch` frame.
 */
export async function deliverBatch(deps: DeliveryWorkerDeps, event: SQSEvent): Promise<SQSBatchResponse & { stats: DeliveryStats }> {
  const now = (deps.now ?? Date.now)();
  const stats: DeliveryStats = {
    records: event.Records.length,
    invalid: 0,
    expired: 0,
    duplicates: 0,
    subscribers: 0,
    itemsRead: 0,
    posted: 0,
    delivered: 0,
    skipped: 0,
    gone: 0,
    failed: 0,
  };
  const failed = new Set<string>();
  const byChannel = new Map<string, PendingEvent[]>();

  const parsed = event.Records.map((record) => {
    const envelope = parseEnvelope(record.body);
    return { record, envelope, frame: envelope && envelopeFrame(envelope) };
  });
  // Claims of client ids are independent writes: make them together, not one after another.
  const claimed = await Promise.all(
    parsed.map(({ envelope }) =>
      envelope?.clientId ? deps.idempotency.claimDelivery(deps.region, envelope.channel, envelope.id, envelope.origin) : true,
    ),
  );
  for (const [index, { record, envelope, frame }] of parsed.entries()) {
    if (!envelope || !frame) {
      // Not ours to drop: failing it sends it to the DLQ after maxReceiveCount, where an alarm fires.
      console.error(JSON.stringify({ msg: 'invalid envelope', messageId: record.messageId, body: record.body.slice(0, 512) }));
      stats.invalid++;
      failed.add(record.messageId);
      continue;
    }
    if (deps.ttlSeconds > 0 && now - envelope.ts > deps.ttlSeconds * 1000) {
      stats.expired++;
      continue;
    }
    if (!claimed[index]) {
      stats.duplicates++;
      continue;
    }
    const pending = { record, envelope, frame, payload: Buffer.from(JSON.stringify(frame)) };
    const channelEvents = byChannel.get(envelope.channel);
    if (channelEvents) channelEvents.push(pending);
    else byChannel.set(envelope.channel, [pending]);
  }

  const gone = new Set<string>();
  for (const [channel, unordered] of byChannel) {
    const events = orderForDelivery(unordered);
    // Only unsequenced (ephemeral) events are coalesced; serialize their batch once per channel.
    const coalesced = events.every((e) => e.envelope.seq === undefined) ? coalesce(events) : undefined;
    for await (const subscribers of deps.store.subscribers(channel)) {
      stats.subscribers += subscribers.length;
      stats.itemsRead += subscribers.length;
      await forEachWithConcurrency(subscribers, deps.concurrency, async (subscriber) => {
        const due = await dueFor(deps, channel, subscriber, events, stats);
        const frames = due.length > 1 && due.every((e) => e.envelope.seq === undefined) ? [coalescedFor(due, events, coalesced)] : due.map(single);
        for (const { payload, covers } of frames) {
          try {
            await deps.connections.send(new PostToConnectionCommand({ ConnectionId: subscriber.connectionId, Data: payload }));
            stats.posted++;
            stats.delivered += covers.length;
          } catch (error) {
            if (error instanceof GoneException) {
              gone.add(subscriber.connectionId);
              return;
            }
            console.warn(JSON.stringify({ msg: 'post failed', connectionId: subscriber.connectionId, channel, error: (error as Error).name }));
            for (const later of events.slice(events.indexOf(covers[0]!))) failed.add(later.record.messageId);
            return;
          }
        }
      });
    }
  }

  await Promise.all([...gone].map((connectionId) => deps.store.remove(connectionId)));
  stats.gone = gone.size;
  stats.failed = failed.size;
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })), stats };
}

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

const single = (event: PendingEvent): OutgoingFrame => ({ payload: event.payload, covers: [event] });

/** The whole channel's events as one batch frame, serialized once for every subscriber that gets them all. */
function coalesce(events: PendingEvent[]): OutgoingFrame | undefined {
  if (events.length < 2) return undefined;
  const frame: BatchFrame = { type: 'batch', frames: events.map((e) => e.frame as BatchFrame['frames'][number]) };
  return { payload: Buffer.from(JSON.stringify(frame)), covers: events };
}

function coalescedFor(due: PendingEvent[], all: PendingEvent[], whole: OutgoingFrame | undefined): OutgoingFrame {
  return whole && due.length === all.length ? whole : coalesce(due)!;
}

/** The events this subscriber should get now: sequenced ones it already has or that a replay will bring are left out. */
async function dueFor(
  deps: DeliveryWorkerDeps,
  channel: string,
  subscriber: Subscriber,
  events: PendingEvent[],
  stats: DeliveryStats,
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
    if (current.replaying) {
      // The replay reads this region's history, where a message from another origin may not
      // have replicated yet: store the copy in hand first, so the replay never waits for it.
      if (origin !== deps.region) await deps.history.append({ ...event.envelope, seq }, { trim: false });
      if (await deps.store.recordHeldBack(channel, current.connectionId, origin, seq)) {
        stats.skipped++;
        continue;
      }
      // The replay handed over meanwhile: decide on the `since` it left.
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
    // Bounded before the frame is serialized per subscriber: a poison message must not overflow the stack.
    if (dataDepthProblem(json?.data)) return undefined;
    const parsed = EnvelopeSchema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
