import { summarizeLatencies, type LatencySummary } from './stats';

/** What the subscribers received of one phase's messages. */
export interface PhaseSummary {
  /** subscribers × messages. */
  expected: number;
  /** Distinct (subscriber, message) pairs that arrived. */
  delivered: number;
  missing: number;
  /** Arrivals of a (subscriber, message) pair beyond its first. */
  duplicates: number;
  /** Message events with an id that is not one of this phase's (e.g. late redeliveries of an earlier phase). */
  unexpected: number;
  /** WebSocket frames carrying this phase's messages: a batch frame counts once. */
  frames: number;
  /** This phase's message events received, duplicates included (a batch frame carries several). */
  events: number;
  firstReceivedAt?: number;
  lastReceivedAt?: number;
  /** Receive time minus the message's `ts` (publish time at its origin), first arrivals only. */
  latencyMs?: LatencySummary;
}

interface MessageEvent {
  type: 'message';
  id: string;
  ts: number;
}

// Hand-written guards rather than zod: this runs once per received event, millions of times
// in a large run, on the same cores as the cloud being measured.
const isMessageEvent = (frame: unknown): frame is MessageEvent => {
  const f = frame as Partial<MessageEvent> | null;
  return f?.type === 'message' && typeof f.id === 'string' && typeof f.ts === 'number';
};
const batchedFrames = (frame: unknown): unknown[] | undefined => {
  const f = frame as { type?: unknown; frames?: unknown } | null;
  return f?.type === 'batch' && Array.isArray(f.frames) ? f.frames : undefined;
};

/**
 * Records, per subscriber and message of one phase, the first arrival's latency and any
 * duplicates. Memory is one float per (subscriber, message) pair, allocated up front.
 */
export class DeliveryRecorder {
  private readonly messageIndex: Map<string, number>;
  /** NaN until the pair's first arrival. */
  private readonly latencies: Float64Array;
  private counts = { delivered: 0, duplicates: 0, unexpected: 0, frames: 0, events: 0 };
  private firstReceivedAt?: number;
  private lastReceivedAt?: number;

  constructor(messageIds: readonly string[], subscribers: number) {
    this.messageIndex = new Map(messageIds.map((id, index) => [id, index]));
    this.latencies = new Float64Array(subscribers * messageIds.length).fill(Number.NaN);
  }

  get delivered(): number {
    return this.counts.delivered;
  }

  /** Takes any frame a subscriber received; frames that carry none of this phase's messages are not counted as frames. */
  record(subscriber: number, frame: unknown, receivedAt: number): void {
    let ours = 0;
    for (const event of (batchedFrames(frame) ?? [frame]).filter(isMessageEvent)) {
      const index = this.messageIndex.get(event.id);
      if (index === undefined) {
        this.counts.unexpected++;
        continue;
      }
      ours++;
      this.recordEvent(subscriber * this.messageIndex.size + index, event.ts, receivedAt);
    }
    if (ours > 0) this.counts.frames++;
  }

  private recordEvent(slot: number, ts: number, receivedAt: number): void {
    this.counts.events++;
    if (!Number.isNaN(this.latencies[slot]!)) {
      this.counts.duplicates++;
      return;
    }
    this.latencies[slot] = receivedAt - ts;
    this.counts.delivered++;
    this.firstReceivedAt ??= receivedAt;
    this.lastReceivedAt = receivedAt;
  }

  summary(): PhaseSummary {
    const expected = this.latencies.length;
    return {
      expected,
      ...this.counts,
      missing: expected - this.counts.delivered,
      firstReceivedAt: this.firstReceivedAt,
      lastReceivedAt: this.lastReceivedAt,
      latencyMs: summarizeLatencies(this.latencies),
    };
  }
}
