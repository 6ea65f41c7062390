import { describe, expect, it } from 'vitest';
import type { SequencedEnvelope } from './history';
import { readHistory, type HistoryReadDeps } from './history-read';
import type { HistoryPageFrame, RecoveryVector } from './protocol';

const US = 'us-east-1';
const EU = 'eu-west-1';
const NOW = 1_700_000_000_000;
const SETTLE_MS = 30_000;

/** A message `ageMs` old; data of `bytes` characters when asked. */
const stored = (origin: string, seq: number, ageMs: number, bytes = 0): SequencedEnvelope => ({
  v: 1,
  id: `${origin}-${seq}`,
  channel: 'room:1',
  data: bytes ? 'x'.repeat(bytes) : `${origin}-${seq}`,
  origin,
  ts: NOW - ageMs,
  class: 'critical',
  seq,
  clientId: false,
  kind: 'message',
});

/** This region's history as the port answers: `messages` per origin, and each origin's counter. */
function historyOf(messages: SequencedEnvelope[], counters: Record<string, { seq: number; updatedAt: number }> = {}): HistoryReadDeps {
  const of = (origin: string) => messages.filter((m) => m.origin === origin).sort((a, b) => a.seq - b.seq);
  return {
    history: {
      after: async (_channel, origin, after, limit) => of(origin).filter((m) => m.seq > after).slice(0, limit),
      latest: async (_channel, origin, limit) => of(origin).reverse().slice(0, limit),
      positions: async (_channel, origins) =>
        Object.fromEntries(origins.map((origin) => [origin, counters[origin] ?? { seq: of(origin).at(-1)?.seq ?? 0, updatedAt: of(origin).at(-1)?.ts ?? 0 }])),
    },
    regions: [US, EU],
    historySettleMs: SETTLE_MS,
    historyMaxPerChannel: 1000,
    maxMessageBytes: 128 * 1024,
    now: () => NOW,
  };
}

const ids = (page: HistoryPageFrame) => page.messages.map((m) => m.id);

/** Follows `hasMore` from `since` the way the SDK does, returning every page. */
async function allPages(deps: HistoryReadDeps, since: RecoveryVector): Promise<HistoryPageFrame[]> {
  const pages = [await readHistory(deps, { channel: 'room:1', since })];
  while (pages.at(-1)!.hasMore) pages.push(await readHistory(deps, { channel: 'room:1', since: pages.at(-1)!.position }));
  return pages;
}

describe('readHistory', () => {
  // Interleaved in time: us-1, eu-1, us-2, eu-2, ...; seconds apart.
  const interleaved = [1, 2, 3, 4].flatMap((seq) => [stored(US, seq, 10_000 - seq * 1000), stored(EU, seq, 10_000 - seq * 1000 - 500)]);

  it('since a vector returns exactly the messages after it, in seq order per origin and by time across origins, with the position it ends at', async () => {
    const page = await readHistory(historyOf(interleaved), { channel: 'room:1', since: { [US]: 2, [EU]: 1 }, ref: 'h1' });
    expect(ids(page)).toEqual([`${EU}-2`, `${US}-3`, `${EU}-3`, `${US}-4`, `${EU}-4`]);
    expect(page).toMatchObject({ type: 'history', channel: 'room:1', missing: [], position: { [US]: 4, [EU]: 4 }, hasMore: false, ref: 'h1' });
    expect(page.messages[0]).toEqual({ type: 'message', channel: 'room:1', data: `${EU}-2`, id: `${EU}-2`, origin: EU, ts: expect.any(Number), class: 'critical', seq: 2 });
  });

  it('since with a limit returns the first `limit` after it and says more follow; the next page from its position brings the rest', async () => {
    const deps = historyOf(interleaved);
    const first = await readHistory(deps, { channel: 'room:1', since: {}, limit: 3 });
    expect(ids(first)).toEqual([`${US}-1`, `${EU}-1`, `${US}-2`]);
    expect(first).toMatchObject({ position: { [US]: 2, [EU]: 1 }, hasMore: true });
    const second = await readHistory(deps, { channel: 'room:1', since: first.position, limit: 100 });
    expect(ids(second)).toEqual([`${EU}-2`, `${US}-3`, `${EU}-3`, `${US}-4`, `${EU}-4`]);
    expect(second.hasMore).toBe(false);
  });

  it('limit returns the last N messages across origins, newest last, and a position to subscribe from', async () => {
    const page = await readHistory(historyOf(interleaved), { channel: 'room:1', limit: 3 });
    expect(ids(page)).toEqual([`${EU}-3`, `${US}-4`, `${EU}-4`]);
    expect(page).toMatchObject({ missing: [], position: { [US]: 4, [EU]: 4 }, hasMore: false });
  });

  it('limit over a channel holding fewer messages returns them all', async () => {
    const page = await readHistory(historyOf([stored(US, 1, 5000), stored(US, 2, 4000)]), { channel: 'room:1', limit: 100 });
    expect(ids(page)).toEqual([`${US}-1`, `${US}-2`]);
    expect(page.position).toEqual({ [US]: 2, [EU]: 0 });
  });

  it('keeps every page within maxMessageBytes (128 KB): 30 KB messages come a few per page, and following hasMore brings each exactly once', async () => {
    const big = Array.from({ length: 12 }, (_, i) => stored(i % 2 ? EU : US, Math.floor(i / 2) + 1, 60_000 - i * 1000, 30 * 1024));
    const pages = await allPages(historyOf(big), {});
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(128 * 1024);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.flatMap(ids)).toEqual(big.map((m) => m.id));
    expect(pages.at(-1)!.position).toEqual({ [US]: 6, [EU]: 6 });
  });

  it('a limit request whose last N do not fit one message is paged the same way, oldest first', async () => {
    const big = Array.from({ length: 6 }, (_, i) => stored(US, i + 1, 60_000 - i * 1000, 50 * 1024));
    const deps = historyOf(big);
    const first = await readHistory(deps, { channel: 'room:1', limit: 4 });
    expect(ids(first)).toEqual([`${US}-3`, `${US}-4`]);
    expect(first).toMatchObject({ position: { [US]: 4 }, hasMore: true });
    const second = await readHistory(deps, { channel: 'room:1', since: first.position, limit: 2 });
    expect(ids(second)).toEqual([`${US}-5`, `${US}-6`]);
  });

  it('reports a gap below a settled message as expired and passes it; stops an origin at a recent gap, reporting it not-replicated up to the highest seq known', async () => {
    const messages = [stored(US, 1, 90_000), stored(US, 4, 60_000), stored(US, 5, 1000), stored(EU, 1, 5000), stored(EU, 3, 1000), stored(EU, 4, 500)];
    const page = await readHistory(historyOf(messages, { [US]: { seq: 5, updatedAt: NOW - 1000 }, [EU]: { seq: 6, updatedAt: NOW - 200 } }), { channel: 'room:1', since: {} });
    expect(ids(page)).toEqual([`${US}-1`, `${US}-4`, `${EU}-1`, `${US}-5`]);
    expect(page.missing).toEqual([
      { origin: US, from: 2, to: 3, reason: 'expired' },
      { origin: EU, from: 2, to: 6, reason: 'not-replicated' },
    ]);
    expect(page).toMatchObject({ position: { [US]: 5, [EU]: 1 }, hasMore: false });
  });

  it('reports seqs a counter has beyond all that is stored: not-replicated while recent (the position stays), expired once settled (the position passes them)', async () => {
    const messages = [stored(US, 1, 60_000), stored(EU, 1, 60_000)];
    const counters = { [US]: { seq: 3, updatedAt: NOW - 100 }, [EU]: { seq: 2, updatedAt: NOW - 40_000 } };
    const page = await readHistory(historyOf(messages, counters), { channel: 'room:1', since: {} });
    expect(page.missing).toEqual([
      { origin: US, from: 2, to: 3, reason: 'not-replicated' },
      { origin: EU, from: 2, to: 2, reason: 'expired' },
    ]);
    expect(page.position).toEqual({ [US]: 1, [EU]: 2 });
  });
});
