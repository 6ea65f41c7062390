import type { MessageFrame, MissingRange, RecoveryVector } from './protocol.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

/** Seqs of one origin that recovery reported expired (gone for good): skipped, never handed to the app. */
export interface Gap {
  channel: string;
  origin: string;
  from: number;
  to: number;
}

/** Messages held ahead of a gap, per channel, before more are refused (and fetched again later). */
export const DEFAULT_MAX_BUFFERED = 10_000;
/** Ids remembered per channel to drop a message seen before under another (origin, seq), or a repeated ephemeral one. */
export const DEFAULT_RECENT_ID_WINDOW = 10_000;

export interface ChannelStreamOptions {
  channel: string;
  /** Where to start: the highest seq per origin already had (a subscribe ack's `position`, or a saved vector). */
  position: RecoveryVector;
  /** How long a gap may stay open before the stream asks for it to be fetched. */
  gapWaitMs: number;
  /** Spacing of the further fetches while the gap stays open (added to `gapWaitMs`). */
  fetchBackoff: BackoffOptions;
  deliver: (message: MessageFrame) => void;
  onGap: (gap: Gap) => void;
  /** Seqs are missing: resubscribe since `vector()`, so the server replays them. */
  fetch: () => void;
  /** More than `maxBuffered` messages wait behind a gap: the ones beyond are refused, to be fetched again. */
  onBufferFull: () => void;
  maxBuffered?: number;
  recentIdWindow?: number;
}

interface OriginState {
  /** Highest seq up to which every seq was handed over, dropped as a duplicate id, or reported expired. */
  delivered: number;
  /** Messages that arrived ahead of a missing seq, by seq. */
  ahead: Map<number, MessageFrame>;
  /** Highest seq known to exist: a recovery ack's position or missing range can run past what arrived. */
  known: number;
  /** Ranges recovery reported expired that `delivered` has not reached yet. */
  expired: Array<{ from: number; to: number }>;
  gapTimer?: ReturnType<typeof setTimeout>;
  /** Fetches asked for since this origin last made progress: spaces the next one out. */
  fetches: number;
}

/**
 * The ordering and dedup of one subscribed channel. Sequenced messages are handed over once
 * per (origin, seq) and in seq order per origin. A message that runs ahead of a missing seq
 * waits for it; when the gap stays open for `gapWaitMs` the stream asks for a fetch (a
 * resubscribe since its vector), and again with backoff for as long as it stays open. It never
 * moves past a seq it did not get unless recovery reported that seq expired. A message whose
 * id was already handed over (the same message published under another (origin, seq), or a
 * repeated ephemeral one) is dropped, but still advances its origin's stream.
 */
export class ChannelStream {
  private readonly origins = new Map<string, OriginState>();
  /** Insertion-ordered, so the oldest id is the first to forget. */
  private readonly recentIds = new Set<string>();
  private readonly maxBuffered: number;
  private readonly recentIdWindow: number;
  private buffered = 0;
  /** Refusing messages since the buffer filled: reported once per episode. */
  private full = false;

  constructor(private readonly options: ChannelStreamOptions) {
    this.maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.recentIdWindow = options.recentIdWindow ?? DEFAULT_RECENT_ID_WINDOW;
    for (const [origin, seq] of Object.entries(options.position)) this.origins.set(origin, newOrigin(seq));
  }

  push(message: MessageFrame): void {
    if (message.seq === undefined) return this.hand(message);
    const state = this.originState(message.origin);
    if (message.seq <= state.delivered || state.ahead.has(message.seq)) return;
    if (message.seq > state.delivered + 1 && this.buffered >= this.maxBuffered) return this.refuse(state, message.seq);
    state.ahead.set(message.seq, message);
    this.buffered++;
    this.drain(message.origin, state);
  }

  /**
   * Applies a recovery ack: `expired` ranges are skipped (reported as gaps); the other ranges
   * and the position only say which seqs exist, so a gap that stays open is fetched again.
   */
  recovered(missing: readonly MissingRange[], position: RecoveryVector): void {
    for (const [origin, seq] of Object.entries(position)) this.learn(this.originState(origin), seq);
    for (const range of missing) {
      const state = this.originState(range.origin);
      this.learn(state, range.to);
      if (range.reason === 'expired') state.expired.push({ from: range.from, to: range.to });
    }
    for (const [origin, state] of this.origins) this.drain(origin, state);
  }

  /** Highest contiguous seq per origin: what to resubscribe `since`. */
  vector(): RecoveryVector {
    return Object.fromEntries([...this.origins].map(([origin, state]) => [origin, state.delivered]));
  }

  /** Stops the gap timers; what still waits is dropped (a resubscribe `since` the vector replays it). */
  close(): void {
    for (const state of this.origins.values()) {
      clearTimeout(state.gapTimer);
      state.gapTimer = undefined;
      state.ahead.clear();
    }
    this.buffered = 0;
  }

  private originState(origin: string): OriginState {
    let state = this.origins.get(origin);
    if (!state) {
      // An origin the starting position did not know yet has published nothing before us.
      state = newOrigin(0);
      this.origins.set(origin, state);
    }
    return state;
  }

  private learn(state: OriginState, seq: number): void {
    state.known = Math.max(state.known, seq);
  }

  private refuse(state: OriginState, seq: number): void {
    this.learn(state, seq);
    if (this.full) return;
    this.full = true;
    this.options.onBufferFull();
    this.options.fetch();
  }

  /** Hands over, in order, what follows `delivered`: arrived messages and expired ranges; then (re)arms the gap wait. */
  private drain(origin: string, state: OriginState): void {
    const before = state.delivered;
    for (;;) {
      const next = state.delivered + 1;
      const message = state.ahead.get(next);
      if (message) {
        state.ahead.delete(next);
        this.buffered--;
        state.delivered = next;
        this.hand(message);
        continue;
      }
      const expired = state.expired.find((range) => range.from <= next && next <= range.to);
      if (!expired) break;
      // A message that did arrive inside the range is handed over, not skipped with it.
      const through = Math.min(expired.to, lowestAbove(state.ahead, next) - 1);
      this.options.onGap({ channel: this.options.channel, origin, from: next, to: through });
      state.delivered = through;
    }
    state.expired = state.expired.filter((range) => range.to > state.delivered);
    if (this.buffered < this.maxBuffered) this.full = false;
    if (state.delivered !== before) {
      clearTimeout(state.gapTimer);
      state.gapTimer = undefined;
      state.fetches = 0;
    }
    if (!hasGap(state)) {
      clearTimeout(state.gapTimer);
      state.gapTimer = undefined;
    } else if (state.gapTimer === undefined) {
      this.armGapTimer(state);
    }
  }

  private armGapTimer(state: OriginState): void {
    const backoff = state.fetches === 0 ? 0 : backoffDelay(state.fetches, this.options.fetchBackoff);
    state.gapTimer = setTimeout(() => {
      state.gapTimer = undefined;
      state.fetches++;
      this.options.fetch();
      if (state.gapTimer === undefined && hasGap(state)) this.armGapTimer(state);
    }, this.options.gapWaitMs + backoff);
  }

  private hand(message: MessageFrame): void {
    if (this.recentIds.has(message.id)) return;
    this.recentIds.add(message.id);
    if (this.recentIds.size > this.recentIdWindow) this.recentIds.delete(this.recentIds.values().next().value!);
    this.options.deliver(message);
  }
}

/** Something waits ahead of a missing seq, or seqs are known to exist that have not arrived. */
const hasGap = (state: OriginState) => state.ahead.size > 0 || state.known > state.delivered;

const newOrigin = (delivered: number): OriginState => ({ delivered, ahead: new Map(), known: delivered, expired: [], fetches: 0 });

/** The lowest key above `seq`, or Infinity. */
function lowestAbove(ahead: Map<number, MessageFrame>, seq: number): number {
  let lowest = Infinity;
  for (const key of ahead.keys()) if (key > seq && key < lowest) lowest = key;
  return lowest;
}
