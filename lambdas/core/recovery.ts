import type { ConnectionStore } from './connection-store';
import { gapExpired, tailExpired, type HistoryRetention, type MessageHistory, type SequencedEnvelope } from './history';
import type { Log } from './log';
import type { ConnectionPoster } from './poster';
import { envelopeFrame, type MissingRange, type PresenceRequest, type RecoveryVector } from './protocol';
import { count, type MetricsSink } from './runtime';

export interface RecoveryDeps extends HistoryRetention {
  store: ConnectionStore;
  history: MessageHistory;
  poster: ConnectionPoster;
  /** Every origin region. */
  regions: readonly string[];
  maxReplay: number;
  /** How long a replay waits for a recent gap to fill (a message still replicating or in flight). */
  replicationWaitMs: number;
  /** How long workers hold messages back for a replay; a replay that dies stops holding back after it. */
  replayLeaseMs: number;
  /** Time a replay may take before it hands over whatever it has (under API Gateway's 29 s). */
  replayBudgetMs: number;
  pollIntervalMs?: number;
  log: Log;
  /** Gets each replay's size: `replayed`, the messages it posted, under Action=subscribe. */
  metrics: MetricsSink;
}

export interface RecoveryResult {
  recovered: boolean;
  missing: MissingRange[];
  /** Highest seq per origin the client now has without a gap. */
  position: RecoveryVector;
}

/** A replay post that is throttled or fails is tried this many times before the subscribe fails. */
const POST_ATTEMPTS = 4;

/**
 * The replay handover protocol: subscribes with a recovery vector, replays this region's
 * history after it, and hands over to live delivery without a gap.
 *
 * 1. The subscription is written replaying, with a lease. While the lease runs, workers
 *    hold sequenced messages back for it (they are already in this region's history: a
 *    worker stores what it receives before fanning out) and record the highest seq held.
 * 2. The replay posts history after the vector in seq order per origin. It never posts past
 *    a gap: a gap below a settled or trimmed message expired and is reported so; a recent
 *    gap is waited for, and if it does not fill the replay stops there and reports it
 *    `not-replicated`, for the client to fetch again.
 * 3. One write hands over (`since` = what was posted) and returns what workers held back up
 *    to that instant; the replay then posts those from history too. Every later message is
 *    delivered live by the workers. So the handover always completes in one round, however
 *    fast messages arrive, and a message is never both held back and left unposted.
 * 4. Whatever happens (a failed post, a DynamoDB error, the router's timeout), the replay
 *    ends the replaying state in a `finally`; if even that fails, the lease ends it.
 *
 * What is reported missing is never also skipped silently, and the position never passes a
 * message the client does not have unless that message is reported `expired`. Copies the
 * client may get twice (a held-back message redelivered live) are dropped by (origin, seq).
 */
export async function subscribeWithRecovery(
  deps: RecoveryDeps,
  connectionId: string,
  channel: string,
  subject: string,
  since: RecoveryVector,
  presence: PresenceRequest,
): Promise<RecoveryResult> {
  const cursor: RecoveryVector = Object.fromEntries(deps.regions.map((region) => [region, since[region] ?? 0]));
  const started = Date.now();
  await deps.store.subscribe(connectionId, channel, subject, { presence, replay: { since: { ...cursor }, leaseUntil: started + deps.replayLeaseMs } });
  const replay = new Replay(deps, connectionId, channel, cursor, started + deps.replayBudgetMs);
  try {
    return await replay.run();
  } finally {
    deps.metrics({ Action: 'subscribe' }, { replayed: count(replay.posted) });
    if (!replay.handedOver) {
      await deps.store
        .finishReplay(channel, connectionId, cursor)
        .catch((error: unknown) => deps.log.warn('replay end failed; its lease ends it', { channel, connectionId, error }));
    }
  }
}

class Replay {
  handedOver = false;
  /** Messages posted to the client. */
  posted = 0;
  private budget: number;
  /** Ranges the client must not wait for (expired), or should fetch again later (the others). */
  private readonly missing: MissingRange[] = [];
  /** Origins whose replay stopped below a gap or at the budget: nothing more is posted for them. */
  private readonly stopped = new Set<string>();
  /** The counters, read once when a gap or the budget needs them. */
  private known?: Record<string, { seq: number; updatedAt: number }>;

  constructor(
    private readonly deps: RecoveryDeps,
    private readonly connectionId: string,
    private readonly channel: string,
    private readonly cursor: RecoveryVector,
    private readonly deadline: number,
  ) {
    this.budget = deps.maxReplay;
  }

  async run(): Promise<RecoveryResult> {
    for (const origin of this.deps.regions) {
      if ((await this.replayOrigin(origin, Infinity)) === 'gone') return this.result();
    }
    if (this.stopped.size === 0) await this.settleTails();
    const heldBack = await this.deps.store.finishReplay(this.channel, this.connectionId, { ...this.cursor });
    this.handedOver = true;
    // Unsubscribed or disconnected meanwhile: nothing to hand over.
    if (!heldBack) return this.result();
    for (const [origin, held] of Object.entries(heldBack)) {
      if (this.stopped.has(origin) || held <= this.cursor[origin]!) continue;
      if ((await this.replayOrigin(origin, held)) === 'gone') break;
    }
    return this.result();
  }

  private result(): RecoveryResult {
    return { recovered: this.missing.length === 0, missing: [...this.missing], position: { ...this.cursor } };
  }

  /** Posts one origin's history after the cursor up to `upTo`, stopping below the first gap that is not known to be expired. */
  private async replayOrigin(origin: string, upTo: number): Promise<'done' | 'gone'> {
    // The wait for a gap starts when the gap is first seen, not when the origin's replay started.
    let waitUntil: number | undefined;
    for (;;) {
      if (this.budget <= 0) {
        const known = await this.counters();
        return this.stop({ origin, from: this.cursor[origin]! + 1, to: Math.max(known[origin]!.seq, upTo === Infinity ? 0 : upTo, this.cursor[origin]! + 1), reason: 'limit' });
      }
      const entries = (await this.deps.history.after(this.channel, origin, this.cursor[origin]!, this.budget)).filter((e) => e.seq <= upTo);
      let gapBelow: SequencedEnvelope | undefined;
      for (const entry of entries) {
        const next = this.cursor[origin]! + 1;
        if (entry.seq > next) {
          if (!gapExpired(this.deps, entry, (await this.counters())[origin]!.seq)) {
            gapBelow = entry;
            break;
          }
          this.missing.push({ origin, from: next, to: entry.seq - 1, reason: 'expired' });
        }
        if ((await this.post(entry)) === 'gone') return 'gone';
        this.cursor[origin] = entry.seq;
        this.budget--;
      }
      if (!gapBelow) {
        const reachedEnd = entries.length === 0 || this.cursor[origin]! >= upTo || this.budget > 0;
        if (!reachedEnd) continue;
        // Held back, so in this region's history: a message still missing here is still on its way.
        if (upTo === Infinity || this.cursor[origin]! >= upTo) return 'done';
        waitUntil ??= Date.now() + this.deps.replicationWaitMs;
        if ((await this.waitOrStop(origin, upTo, waitUntil)) === 'done') return 'done';
        continue;
      }
      waitUntil ??= Date.now() + this.deps.replicationWaitMs;
      const stalled = await this.waitOrStop(origin, Math.max(upTo === Infinity ? 0 : upTo, ...entries.map((e) => e.seq)), waitUntil);
      if (stalled === 'done') return 'done';
    }
  }

  /** Waits one poll for a gap to fill; past the wait, stops the origin and reports the gap for the client to fetch again. */
  private async waitOrStop(origin: string, highest: number, waitUntil: number): Promise<'done' | 'retry'> {
    if (Date.now() >= waitUntil || Date.now() >= this.deadline) {
      return this.stop({ origin, from: this.cursor[origin]! + 1, to: Math.max(highest, this.cursor[origin]! + 1), reason: 'not-replicated' });
    }
    await new Promise((resolve) => setTimeout(resolve, this.deps.pollIntervalMs ?? 100));
    return 'retry';
  }

  private stop(range: MissingRange): 'done' {
    this.stopped.add(range.origin);
    this.missing.push(range);
    return 'done';
  }

  /**
   * Counters ahead of the cursor with nothing stored above it: a settled counter means the
   * messages expired; a recent one means they are on their way here live (the subscription
   * exists, so they will arrive) and nothing is missing.
   */
  private async settleTails(): Promise<void> {
    const known = await this.counters(true);
    for (const origin of this.deps.regions) {
      const { seq, updatedAt } = known[origin]!;
      if (seq > this.cursor[origin]! && tailExpired(this.deps, updatedAt)) {
        this.missing.push({ origin, from: this.cursor[origin]! + 1, to: seq, reason: 'expired' });
        this.cursor[origin] = seq;
      }
    }
  }

  private async counters(fresh = false): Promise<Record<string, { seq: number; updatedAt: number }>> {
    if (fresh || !this.known) this.known = await this.deps.history.positions(this.channel, this.deps.regions);
    return this.known;
  }

  /** Posts one replayed message, retrying throttles; throws when it cannot (the subscribe then fails, retryably). */
  private async post(envelope: SequencedEnvelope): Promise<'ok' | 'gone'> {
    const frame = envelopeFrame(envelope);
    if (!frame) return 'ok';
    const payload = Buffer.from(JSON.stringify(frame));
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.deps.poster.post(this.connectionId, payload);
      if (outcome === 'ok') this.posted++;
      if (outcome === 'ok' || outcome === 'gone') return outcome;
      if (attempt >= POST_ATTEMPTS || Date.now() >= this.deadline) throw new Error(`replay post ${outcome} ${attempt} times`);
      await new Promise((resolve) => setTimeout(resolve, 100 * 3 ** (attempt - 1) * (0.5 + Math.random() / 2)));
    }
  }
}
