import type { MessageFrame, MissingRange, RecoveryVector } from '../lambdas/core/protocol';

/** Sequence numbers of one origin that never arrived within the wait and were skipped. */
export interface Gap {
  channel: string;
  origin: string;
  from: number;
  to: number;
}

export interface ChannelStreamOptions {
  channel: string;
  /** Where to start: the subscribe ack's `position` (highest seq per origin already published). */
  position: RecoveryVector;
  /** How long a message waits for the seqs before it before they are given up as a gap. */
  gapWaitMs: number;
  deliver: (message: MessageFrame) => void;
  onGap: (gap: Gap) => void;
  /** How many recent ephemeral ids are remembered to drop their duplicates. */
  recentIdWindow?: number;
}

interface OriginState {
  /** Highest seq handed to `deliver`: every seq up to it is delivered or given up. */
  delivered: number;
  /** Messages that arrived ahead of a missing seq, by seq. */
  ahead: Map<number, MessageFrame>;
  gapTimer?: ReturnType<typeof setTimeout>;
}

/**
 * The ordering and dedup of one subscribed channel. Sequenced messages are delivered once per
 * (origin, seq) and in seq order per origin: one that runs ahead of a missing seq waits for it
 * at most `gapWaitMs` (concurrent delivery workers can interleave), then what waited is
 * delivered in order and the hole reported. Unsequenced (ephemeral) messages pass straight
 * through, deduplicated by id within a window of recent ids.
 */
export class ChannelStream {
  private readonly origins = new Map<string, OriginState>();
  /** Insertion-ordered, so the oldest id is the first to forget. */
  private readonly recentIds = new Set<string>();
  private readonly recentIdWindow: number;

  constructor(private readonly options: ChannelStreamOptions) {
    this.recentIdWindow = options.recentIdWindow ?? 512;
    for (const [origin, seq] of Object.entries(options.position)) this.origins.set(origin, { delivered: seq, ahead: new Map() });
  }

  push(message: MessageFrame): void {
    if (message.seq === undefined) return this.pushUnsequenced(message);
    const state = this.originState(message.origin);
    if (message.seq <= state.delivered || state.ahead.has(message.seq)) return;
    state.ahead.set(message.seq, message);
    this.drain(message.origin, state);
  }

  /**
   * Recovery could not replay these ranges (expired, not replicated, over the replay limit):
   * stop waiting for them and deliver what follows. The caller reports them as `missing`.
   */
  skip(ranges: readonly MissingRange[]): void {
    for (const range of ranges) this.release(range.origin, this.originState(range.origin), range.to, false);
  }

  /** Highest seq per origin delivered or given up: what to resubscribe `since`. */
  vector(): RecoveryVector {
    return Object.fromEntries([...this.origins].map(([origin, state]) => [origin, state.delivered]));
  }

  /** Stops the gap timers; what still waits is dropped (a resubscribe `since` the vector replays it). */
  close(): void {
    for (const state of this.origins.values()) {
      clearTimeout(state.gapTimer);
      state.ahead.clear();
    }
  }

  private pushUnsequenced(message: MessageFrame): void {
    if (this.recentIds.has(message.id)) return;
    this.recentIds.add(message.id);
    if (this.recentIds.size > this.recentIdWindow) this.recentIds.delete(this.recentIds.values().next().value!);
    this.options.deliver(message);
  }

  private originState(origin: string): OriginState {
    let state = this.origins.get(origin);
    if (!state) {
      // An origin the ack's position did not know yet has published nothing before us.
      state = { delivered: 0, ahead: new Map() };
      this.origins.set(origin, state);
    }
    return state;
  }

  /** Delivers the run of consecutive seqs that follows `delivered`, and (re)arms the gap wait. */
  private drain(origin: string, state: OriginState): void {
    const before = state.delivered;
    for (let next = state.delivered + 1; state.ahead.has(next); next++) {
      const message = state.ahead.get(next)!;
      state.ahead.delete(next);
      state.delivered = next;
      this.options.deliver(message);
    }
    const progressed = state.delivered !== before;
    if (state.ahead.size === 0 || progressed) {
      clearTimeout(state.gapTimer);
      state.gapTimer = undefined;
    }
    if (state.ahead.size > 0 && state.gapTimer === undefined) {
      state.gapTimer = setTimeout(() => {
        state.gapTimer = undefined;
        this.release(origin, state, Math.max(...state.ahead.keys()), true);
      }, this.options.gapWaitMs);
    }
  }

  /** Gives up waiting for every seq up to `through`: delivers what arrived of them, in order. */
  private release(origin: string, state: OriginState, through: number, reportGaps: boolean): void {
    const arrived = [...state.ahead.keys()].filter((seq) => seq <= through).sort((a, b) => a - b);
    for (const seq of arrived) {
      if (reportGaps && seq > state.delivered + 1) this.options.onGap({ channel: this.options.channel, origin, from: state.delivered + 1, to: seq - 1 });
      const message = state.ahead.get(seq)!;
      state.ahead.delete(seq);
      state.delivered = seq;
      this.options.deliver(message);
    }
    state.delivered = Math.max(state.delivered, through);
    this.drain(origin, state);
  }
}
