import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MessageFrame } from './protocol.js';
import { ChannelStream, type Gap } from './stream-order.js';

const US = 'us-east-1';
const EU = 'eu-west-1';

const message = (origin: string, seq: number | undefined, id = `${origin}-${seq}`): MessageFrame => ({
  type: 'message',
  channel: 'room:1',
  data: id,
  id,
  origin,
  ts: 1,
  class: seq === undefined ? 'ephemeral' : 'critical',
  ...(seq !== undefined && { seq }),
});

function stream(position: Record<string, number> = {}, options: { gapWaitMs?: number; maxBuffered?: number; recentIdWindow?: number } = {}) {
  const delivered: string[] = [];
  const gaps: Gap[] = [];
  let fetches = 0;
  let bufferFull = 0;
  const channel = new ChannelStream({
    channel: 'room:1',
    position,
    gapWaitMs: options.gapWaitMs ?? 2000,
    fetchBackoff: { baseMs: 1000, maxMs: 8000 },
    deliver: (m) => delivered.push(m.id),
    onGap: (gap) => gaps.push(gap),
    fetch: () => fetches++,
    onBufferFull: () => bufferFull++,
    maxBuffered: options.maxBuffered,
    recentIdWindow: options.recentIdWindow ?? 3,
  });
  return { channel, delivered, gaps, fetches: () => fetches, bufferFull: () => bufferFull };
}

describe('ChannelStream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes messages that arrive in order straight through, per origin', () => {
    const { channel, delivered } = stream({ [US]: 4 });
    for (const m of [message(US, 5), message(EU, 1), message(US, 6), message(EU, 2)]) channel.push(m);
    expect(delivered).toEqual([`${US}-5`, `${EU}-1`, `${US}-6`, `${EU}-2`]);
  });

  it('drops a duplicate (origin, seq), and anything at or below the starting position', () => {
    const { channel, delivered } = stream({ [US]: 4 }, { recentIdWindow: 100 });
    for (const m of [message(US, 3), message(US, 4), message(US, 5), message(US, 5), message(US, 6), message(US, 5)]) channel.push(m);
    expect(delivered).toEqual([`${US}-5`, `${US}-6`]);
  });

  it('buffers a message that runs ahead of a missing seq and releases the run in order once the gap fills', () => {
    const { channel, delivered, gaps, fetches } = stream();
    channel.push(message(US, 3));
    channel.push(message(US, 2));
    channel.push(message(US, 3)); // a duplicate of a buffered one
    channel.push(message(EU, 1)); // another origin is not held up
    expect(delivered).toEqual([`${EU}-1`]);
    channel.push(message(US, 1));
    expect(delivered).toEqual([`${EU}-1`, `${US}-1`, `${US}-2`, `${US}-3`]);
    expect(gaps).toEqual([]);
    expect(fetches()).toBe(0);
  });

  it('fetches a gap that stays open for gapWaitMs instead of skipping it, and keeps fetching with backoff until it fills', () => {
    vi.useFakeTimers();
    const { channel, delivered, gaps, fetches } = stream({ [US]: 1 }, { gapWaitMs: 2000 });
    channel.push(message(US, 3));
    vi.advanceTimersByTime(1999);
    expect(fetches()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fetches()).toBe(1);
    // However long it stays open, nothing past the gap is handed over and the vector stays below it.
    vi.advanceTimersByTime(60_000);
    expect(fetches()).toBeGreaterThan(3);
    // Backoff: fewer fetches than one per gapWaitMs.
    expect(fetches()).toBeLessThan(1 + 60_000 / 2000);
    expect(delivered).toEqual([]);
    expect(gaps).toEqual([]);
    expect(channel.vector()).toEqual({ [US]: 1 });
    channel.push(message(US, 2));
    expect(delivered).toEqual([`${US}-2`, `${US}-3`]);
    const fetched = fetches();
    vi.advanceTimersByTime(60_000);
    expect(fetches()).toBe(fetched);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tracks the recovery vector: highest contiguous seq per origin, from the starting position', () => {
    vi.useFakeTimers();
    const { channel } = stream({ [US]: 4, [EU]: 0 });
    expect(channel.vector()).toEqual({ [US]: 4, [EU]: 0 });
    channel.push(message(US, 5));
    channel.push(message(EU, 1));
    channel.push(message(EU, 3)); // waiting for 2: not in the vector, now or later
    channel.push(message('ap-south-1', 1));
    expect(channel.vector()).toEqual({ [US]: 5, [EU]: 1, 'ap-south-1': 1 });
    vi.advanceTimersByTime(10_000);
    expect(channel.vector()).toEqual({ [US]: 5, [EU]: 1, 'ap-south-1': 1 });
  });

  it('skips a range recovery reported expired with a gap event, and hands over what follows it', () => {
    vi.useFakeTimers();
    const { channel, delivered, gaps } = stream({ [US]: 0 });
    channel.push(message(US, 6));
    channel.push(message(US, 7));
    channel.recovered([{ origin: US, from: 1, to: 5, reason: 'expired' }], { [US]: 7 });
    expect(delivered).toEqual([`${US}-6`, `${US}-7`]);
    expect(gaps).toEqual([{ channel: 'room:1', origin: US, from: 1, to: 5 }]);
    expect(channel.vector()).toEqual({ [US]: 7 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('hands over a message that did arrive inside an expired range rather than skipping it', () => {
    const { channel, delivered, gaps } = stream({ [US]: 0 });
    channel.push(message(US, 3));
    channel.recovered([{ origin: US, from: 1, to: 5, reason: 'expired' }], { [US]: 5 });
    expect(delivered).toEqual([`${US}-3`]);
    expect(gaps).toEqual([
      { channel: 'room:1', origin: US, from: 1, to: 2 },
      { channel: 'room:1', origin: US, from: 4, to: 5 },
    ]);
    expect(channel.vector()).toEqual({ [US]: 5 });
  });

  it('does not skip not-replicated or limit ranges: it keeps waiting for them and fetches them', () => {
    vi.useFakeTimers();
    const { channel, delivered, gaps, fetches } = stream({ [US]: 0, [EU]: 0 }, { gapWaitMs: 1000 });
    channel.push(message(US, 4));
    channel.recovered(
      [
        { origin: US, from: 1, to: 4, reason: 'not-replicated' },
        { origin: EU, from: 1, to: 2000, reason: 'limit' },
      ],
      { [US]: 0, [EU]: 0 },
    );
    vi.advanceTimersByTime(1000);
    expect(fetches()).toBe(2); // one per origin whose gap is open
    expect(delivered).toEqual([]);
    expect(gaps).toEqual([]);
    expect(channel.vector()).toEqual({ [US]: 0, [EU]: 0 });
  });

  it('treats seqs below a recovery position that never arrived as a gap to fetch', () => {
    vi.useFakeTimers();
    const { channel, fetches } = stream({ [US]: 0 }, { gapWaitMs: 1000 });
    channel.push(message(US, 1));
    channel.recovered([], { [US]: 2 });
    vi.advanceTimersByTime(1000);
    expect(fetches()).toBe(1);
    channel.push(message(US, 2));
    vi.advanceTimersByTime(60_000);
    expect(fetches()).toBe(1);
  });

  it('drops a message whose id was handed over under another (origin, seq), but advances that origin past it', () => {
    const { channel, delivered } = stream({ [US]: 0, [EU]: 0 }, { recentIdWindow: 100 });
    channel.push(message(US, 1, 'retried'));
    channel.push(message(EU, 2, 'eu-2')); // waits for EU 1
    channel.push(message(EU, 1, 'retried')); // the same message, sequenced again in EU
    expect(delivered).toEqual(['retried', 'eu-2']);
    expect(channel.vector()).toEqual({ [US]: 1, [EU]: 2 });
  });

  it('delivers unsequenced messages as they come, dropping a repeated id within the recent window', () => {
    const { channel, delivered } = stream();
    for (const id of ['a', 'b', 'a', 'c', 'd', 'e', 'a']) channel.push(message(US, undefined, id));
    // The window holds 3 ids: by the last 'a', it has been forgotten.
    expect(delivered).toEqual(['a', 'b', 'c', 'd', 'e', 'a']);
    expect(channel.vector()).toEqual({});
  });

  it('refuses messages beyond maxBuffered behind a gap, reports it once and fetches; the gap and the refused come back in order', () => {
    const { channel, delivered, fetches, bufferFull } = stream({ [US]: 0 }, { maxBuffered: 2, recentIdWindow: 100 });
    for (const seq of [2, 3, 4, 5]) channel.push(message(US, seq));
    expect(bufferFull()).toBe(1);
    expect(fetches()).toBe(1);
    // A seq that fills the gap is never refused.
    channel.push(message(US, 1));
    expect(delivered).toEqual([`${US}-1`, `${US}-2`, `${US}-3`]);
    // What was refused arrives again (the fetch replays it).
    for (const seq of [4, 5]) channel.push(message(US, seq));
    expect(delivered).toEqual([1, 2, 3, 4, 5].map((seq) => `${US}-${seq}`));
    // Below the cap again: a new episode would be reported anew.
    for (const seq of [7, 8, 9]) channel.push(message(US, seq));
    expect(bufferFull()).toBe(2);
  });

  it('close stops the gap timers', () => {
    vi.useFakeTimers();
    const { channel, delivered, fetches } = stream();
    channel.push(message(US, 2));
    channel.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual([]);
    expect(fetches()).toBe(0);
  });
});
