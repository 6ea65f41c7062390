import { gapExpired, tailExpired, type HistoryRetention, type MessageHistory, type SequencedEnvelope } from './history';
import { MAX_HISTORY_PAGE, messageFrame, type HistoryFrame, type HistoryPageFrame, type MessageFrame, type MissingRange, type RecoveryVector } from './protocol';

export interface HistoryReadDeps extends HistoryRetention {
  history: Pick<MessageHistory, 'after' | 'latest' | 'positions'>;
  /** Every origin region. */
  regions: readonly string[];
  /** API Gateway's message quota (128 KB): the answer is one message, so no page is larger. */
  maxMessageBytes: number;
  now?: () => number;
}

/**
 * The history action: one page of this region's stored messages of a channel, answered in
 * one frame rather than posted one by one.
 *
 * Guarantees:
 * - Messages are in seq order per origin and, across origins, by ts (oldest first).
 * - With `since`: the stored messages after the vector, at most `limit` (MAX_HISTORY_PAGE).
 *   With `limit` alone: the last `limit` messages across origins.
 * - `position` never passes a seq the page does not hold unless `missing` reports it
 *   `expired`. A gap that may still fill (a message not replicated here yet) ends that
 *   origin's part of the page and is reported `not-replicated`, up to the highest seq known.
 * - The answer fits `maxMessageBytes` whenever one message with its frame fields does (the
 *   config ensures that of every message); a page always holds at least one message or range
 *   when any is due, so following `hasMore` always progresses.
 */
export async function readHistory(deps: HistoryReadDeps, frame: Pick<HistoryFrame, 'channel' | 'since' | 'limit' | 'ref'>): Promise<HistoryPageFrame> {
  const { channel, since } = frame;
  const limit = frame.limit ?? MAX_HISTORY_PAGE;
  const [counters, streams] = await Promise.all([
    deps.history.positions(channel, deps.regions),
    since ? streamsSince(deps, channel, since, limit) : lastMessages(deps, channel, limit),
  ]);
  return historyPage(deps, { channel, ref: frame.ref, limit, streams, counters });
}

/** One origin's stored messages after `from`, oldest first; `complete` when they reach the newest it stores. */
interface OriginStream {
  origin: string;
  from: number;
  entries: SequencedEnvelope[];
  complete: boolean;
}

/** One more than a page can take per origin, so `complete` is known without another read. */
function streamsSince(deps: HistoryReadDeps, channel: string, since: RecoveryVector, limit: number): Promise<OriginStream[]> {
  return Promise.all(
    deps.regions.map(async (origin) => {
      const entries = await deps.history.after(channel, origin, since[origin] ?? 0, limit + 1);
      return { origin, from: since[origin] ?? 0, entries, complete: entries.length <= limit };
    }),
  );
}

/**
 * The last `limit` messages across origins, as streams from just below each origin's oldest
 * of them; an origin with none of them starts at its newest stored message.
 */
async function lastMessages(deps: HistoryReadDeps, channel: string, limit: number): Promise<OriginStream[]> {
  const newest = await Promise.all(deps.regions.map((origin) => deps.history.latest(channel, origin, limit)));
  const taken = newest.map(() => 0);
  for (let n = 0; n < limit; n++) {
    const pick = firstHead(newest, taken, (a, b) => a.ts > b.ts);
    if (pick === undefined) break;
    taken[pick]!++;
  }
  return deps.regions.map((origin, i) => {
    const entries = newest[i]!.slice(0, taken[i]).reverse();
    const from = entries.length > 0 ? entries[0]!.seq - 1 : (newest[i]![0]?.seq ?? 0);
    return { origin, from, entries, complete: true };
  });
}

/** The index of the list whose next entry (at `taken`) comes first by `before`; undefined when all are used up. */
function firstHead(lists: readonly SequencedEnvelope[][], taken: readonly number[], before: (a: SequencedEnvelope, b: SequencedEnvelope) => boolean): number | undefined {
  let pick: number | undefined;
  lists.forEach((list, i) => {
    const head = list[taken[i]!];
    if (head && (pick === undefined || before(head, lists[pick]![taken[pick]!]!))) pick = i;
  });
  return pick;
}

interface PageInput {
  channel: string;
  ref: string | number | undefined;
  limit: number;
  streams: OriginStream[];
  counters: Record<string, { seq: number; updatedAt: number }>;
}

/** Walks the streams oldest first into one page, within the count and byte limits: pure. */
function historyPage(deps: Omit<HistoryReadDeps, 'history' | 'regions'>, { channel, ref, limit, streams, counters }: PageInput): HistoryPageFrame {
  const now = (deps.now ?? Date.now)();
  const position: RecoveryVector = Object.fromEntries(streams.map((s) => [s.origin, s.from]));
  const messages: MessageFrame[] = [];
  const missing: MissingRange[] = [];
  const taken = streams.map(() => 0);
  const stopped = new Set<number>();
  // Room for the frame around the items, with the largest position the page can reach.
  const highest = Object.fromEntries(streams.map((s) => [s.origin, Math.max(s.from, counters[s.origin]!.seq, s.entries.at(-1)?.seq ?? 0)]));
  let bytes = byteLength({ type: 'history', channel, messages: [], missing: [], position: highest, hasMore: false, ref });
  let full = false;
  /** Adds an item if it fits (a page's first always does: that is progress); the comma is counted too. */
  const add = <T>(items: T[], item: T): boolean => {
    const size = byteLength(item) + 1;
    if (bytes + size > deps.maxMessageBytes && messages.length + missing.length > 0) {
      full = true;
      return false;
    }
    bytes += size;
    items.push(item);
    return true;
  };

  while (messages.length < limit) {
    const live = streams.map((s, i) => (stopped.has(i) ? [] : s.entries));
    const i = firstHead(live, taken, (a, b) => a.ts < b.ts);
    if (i === undefined) break;
    const { origin, entries } = streams[i]!;
    const entry = entries[taken[i]!]!;
    const next = position[origin]! + 1;
    if (entry.seq > next) {
      const known = counters[origin]!.seq;
      if (!gapExpired(deps, entry, known, now)) {
        if (!add(missing, { origin, from: next, to: Math.max(known, entries.at(-1)!.seq), reason: 'not-replicated' })) break;
        stopped.add(i);
        continue;
      }
      if (!add(missing, { origin, from: next, to: entry.seq - 1, reason: 'expired' })) break;
      position[origin] = entry.seq - 1;
    }
    if (!add(messages, messageFrame(entry))) break;
    position[origin] = entry.seq;
    taken[i]!++;
  }

  // Counters ahead of all an origin stores: expired long ago, or still on their way here.
  streams.forEach(({ origin, entries, complete }, i) => {
    const counter = counters[origin]!;
    if (full || stopped.has(i) || !complete || taken[i]! < entries.length || counter.seq <= position[origin]!) return;
    const expired = tailExpired(deps, counter.updatedAt, now);
    if (!add(missing, { origin, from: position[origin]! + 1, to: counter.seq, reason: expired ? 'expired' : 'not-replicated' })) return;
    if (expired) position[origin] = counter.seq;
  });

  const hasMore = full || streams.some((s, i) => !stopped.has(i) && (taken[i]! < s.entries.length || !s.complete));
  return { type: 'history', channel, messages, missing, position, hasMore, ...(ref !== undefined && { ref }) };
}

const byteLength = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
