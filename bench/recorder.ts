import { summarizeLatencies, type LatencySummary } from './stats';

/** What the subscribers received of a set of expected messages. */
export interface PhaseSummary {
  /** subscribers × expected messages. */
  expected: number;
  /** Distinct (subscriber, message) pairs that arrived. */
  delivered: number;
  missing: number;
  /** Arrivals of a (subscriber, message) pair beyond its first, whenever they came. */
  duplicates: number;
  /** Distinct (subscriber, message) pairs first seen in this phase whose message was not expected (e.g. a publish that timed out but went through). */
  unexpected: number;
  /** WebSocket frames carrying messages in this phase: a batch frame counts once. */
  frames: number;
  /** Message events received in this phase, duplicates included (a batch frame carries several). */
  events: number;
  firstReceivedAt?: number;
  lastReceivedAt?: number;
  /** Receive time minus the message's `ts` (publish time at its origin), or its `data.sentAt` (see MessageEvent), first arrivals only. */
  latencyMs?: LatencySummary;
  /** latencyMs split by whether the subscriber is in the message's origin region, when the recorder knows the subscribers' regions. */
  latencyByRoute?: { sameRegion?: LatencySummary; crossRegion?: LatencySummary };
  /**
   * Per message, over its subscribers in its origin region (when the recorder knows the regions):
   * the latency of the first of them to get it, and the time from that first to the last. A
   * tail that is the fan-out's own burst shows here as spread, not as a late first delivery.
   */
  sameRegionBurst?: { firstMs?: LatencySummary; spreadMs?: LatencySummary };
}

/** The fields of a message that identify it, as a subscriber sees them. */
export interface MessageIdentity {
  id: string;
  /** Required with seq. */
  origin?: string;
  seq?: number;
}

/**
 * What the check counts a message by: (origin, seq) for a sequenced message, as a client
 * deduplicates and recovers by it; the id for an unsequenced (ephemeral) one, which has no other.
 */
export const deliveryKey = ({ id, origin, seq }: MessageIdentity): string => (seq === undefined ? `id:${id}` : `seq:${origin}#${seq}`);

interface MessageEvent extends MessageIdentity {
  type: 'message';
  origin: string;
  ts: number;
  /** A bench publisher's send time (epoch ms), when it put one in the data: latency then counts from the client's send, the router's work before `ts` included. */
  data?: { sentAt?: unknown };
}

// Hand-written guards rather than zod: this runs once per received event, millions of times
// in a large run, on the same cores as the cloud being measured.
const isMessageEvent = (frame: unknown): frame is MessageEvent => {
  const f = frame as Partial<MessageEvent> | null;
  return f?.type === 'message' && typeof f.id === 'string' && typeof f.origin === 'string' && typeof f.ts === 'number' && (f.seq === undefined || typeof f.seq === 'number');
};
const batchedFrames = (frame: unknown): unknown[] | undefined => {
  const f = frame as { type?: unknown; frames?: unknown } | null;
  return f?.type === 'batch' && Array.isArray(f.frames) ? f.frames : undefined;
};

const arrivedCount = (arrivals: Arrivals): number => arrivals.latencies.reduce((n, latency) => (Number.isNaN(latency) ? n : n + 1), 0);

interface Arrivals {
  origin: string;
  /** Per subscriber: NaN until the first arrival, then its latency. */
  latencies: Float64Array;
  duplicates: number;
  /** The phase it first arrived in. */
  phase: number;
}

/**
 * Records, for the whole run, every message each subscriber received: the first arrival's
 * latency and the count of further arrivals, by `deliveryKey`. Which messages were expected
 * is told afterwards (a message's (origin, seq) is known only once its publish is acked, and
 * a delivery can beat the ack), so nothing is allocated before a message arrives: one float
 * per (subscriber, arrived message).
 */
export class DeliveryRecorder {
  private readonly arrivals = new Map<string, Arrivals>();
  private phase = 0;
  private counts = { delivered: 0, frames: 0, events: 0 };
  private firstReceivedAt?: number;
  private lastReceivedAt?: number;

  /** `regionOf` tells a subscriber's region (by its index), to split latency into same-region and cross-region deliveries. */
  constructor(
    private readonly subscribers: number,
    private readonly regionOf?: (subscriber: number) => string,
  ) {}

  /** Distinct (subscriber, message) deliveries since the phase began, expected or not. */
  get delivered(): number {
    return this.counts.delivered;
  }

  beginPhase(): void {
    this.phase++;
    this.counts = { delivered: 0, frames: 0, events: 0 };
    this.firstReceivedAt = this.lastReceivedAt = undefined;
  }

  /** Takes any frame a subscriber received; frames that carry no message are not counted as frames. */
  record(subscriber: number, frame: unknown, receivedAt: number): void {
    let events = 0;
    for (const event of batchedFrames(frame) ?? [frame]) {
      if (!isMessageEvent(event)) continue;
      events++;
      this.recordEvent(subscriber, event, receivedAt);
    }
    if (events > 0) this.counts.frames++;
  }

  private recordEvent(subscriber: number, event: MessageEvent, receivedAt: number): void {
    this.counts.events++;
    const key = deliveryKey(event);
    let arrivals = this.arrivals.get(key);
    if (!arrivals) this.arrivals.set(key, (arrivals = { origin: event.origin, latencies: new Float64Array(this.subscribers).fill(Number.NaN), duplicates: 0, phase: this.phase }));
    if (!Number.isNaN(arrivals.latencies[subscriber]!)) {
      arrivals.duplicates++;
      return;
    }
    const sentAt = event.data?.sentAt;
    arrivals.latencies[subscriber] = receivedAt - (typeof sentAt === 'number' ? sentAt : event.ts);
    this.counts.delivered++;
    this.firstReceivedAt ??= receivedAt;
    this.lastReceivedAt = receivedAt;
  }

  /** Every subscriber should have each of these messages (by `deliveryKey`) exactly once. */
  summary(expectedKeys: readonly string[]): PhaseSummary {
    const expected = new Set(expectedKeys);
    const latencies: Float64Array[] = [];
    const byRoute = { sameRegion: [] as number[], crossRegion: [] as number[] };
    const burst = { first: [] as number[], spread: [] as number[] };
    let delivered = 0;
    let duplicates = 0;
    for (const key of expected) {
      const arrivals = this.arrivals.get(key);
      if (!arrivals) continue;
      latencies.push(arrivals.latencies);
      if (this.regionOf) {
        let first = Infinity;
        let last = -Infinity;
        arrivals.latencies.forEach((latency, subscriber) => {
          const sameRegion = this.regionOf!(subscriber) === arrivals.origin;
          byRoute[sameRegion ? 'sameRegion' : 'crossRegion'].push(latency);
          if (sameRegion && !Number.isNaN(latency)) [first, last] = [Math.min(first, latency), Math.max(last, latency)];
        });
        if (first <= last) {
          burst.first.push(first);
          burst.spread.push(last - first);
        }
      }
      delivered += arrivedCount(arrivals);
      duplicates += arrivals.duplicates;
    }
    let unexpected = 0;
    for (const [key, arrivals] of this.arrivals) {
      if (arrivals.phase !== this.phase || expected.has(key)) continue;
      unexpected += arrivedCount(arrivals);
    }
    const all = new Float64Array(latencies.reduce((n, l) => n + l.length, 0));
    latencies.reduce((offset, l) => (all.set(l, offset), offset + l.length), 0);
    return {
      expected: expected.size * this.subscribers,
      delivered,
      missing: expected.size * this.subscribers - delivered,
      duplicates,
      unexpected,
      frames: this.counts.frames,
      events: this.counts.events,
      firstReceivedAt: this.firstReceivedAt,
      lastReceivedAt: this.lastReceivedAt,
      latencyMs: summarizeLatencies(all),
      ...(this.regionOf && {
        latencyByRoute: { sameRegion: summarizeLatencies(byRoute.sameRegion), crossRegion: summarizeLatencies(byRoute.crossRegion) },
        sameRegionBurst: { firstMs: summarizeLatencies(burst.first), spreadMs: summarizeLatencies(burst.spread) },
      }),
    };
  }
}
