import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MessageFrame } from '../lambdas/core/protocol';
import { ChannelStream, type Gap } from './stream-order';

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

function stream(position: Record<string, number> = {}, gapWaitMs = 2000) {
  const delivered: string[] = [];
  const gaps: Gap[] = [];
  const channel = new ChannelStream({
    channel: 'room:1',
    position,
    gapWaitMs,
    deliver: (m) => delivered.push(m.id),
    onGap: (gap) => gaps.push(gap),
    recentIdWindow: 3,
  });
  return { channel, delivered, gaps };
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
    const { channel, delivered } = stream({ [US]: 4 });
    for (const m of [message(US, 3), message(US, 4), message(US, 5), message(US, 5), message(US, 6), message(US, 5)]) channel.push(m);
    expect(delivered).toEqual([`${US}-5`, `${US}-6`]);
  });

  it('buffers a message that runs ahead of a missing seq and releases the run in order once the gap fills', () => {
    const { channel, delivered, gaps } = stream();
    channel.push(message(US, 3));
    channel.push(message(US, 2));
    channel.push(message(US, 3)); // a duplicate of a buffered one
    channel.push(message(EU, 1)); // another origin is not held up
    expect(delivered).toEqual([`${EU}-1`]);
    channel.push(message(US, 1));
    expect(delivered).toEqual([`${EU}-1`, `${US}-1`, `${US}-2`, `${US}-3`]);
    expect(gaps).toEqual([]);
  });

  it('after gapWaitMs delivers what waited, in order, and reports the holes as gaps', () => {
    vi.useFakeTimers();
    const { channel, delivered, gaps } = stream({ [US]: 1 }, 2000);
    channel.push(message(US, 5));
    channel.push(message(US, 3));
    vi.advanceTimersByTime(1999);
    expect(delivered).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(delivered).toEqual([`${US}-3`, `${US}-5`]);
    expect(gaps).toEqual([
      { channel: 'room:1', origin: US, from: 2, to: 2 },
      { channel: 'room:1', origin: US, from: 4, to: 4 },
    ]);
    // A straggler from the hole arrives too late: it is not delivered out of order.
    channel.push(message(US, 2));
    channel.push(message(US, 6));
    expect(delivered).toEqual([`${US}-3`, `${US}-5`, `${US}-6`]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tracks the recovery vector: highest seq delivered per origin, from the starting position', () => {
    vi.useFakeTimers();
    const { channel } = stream({ [US]: 4, [EU]: 0 });
    expect(channel.vector()).toEqual({ [US]: 4, [EU]: 0 });
    channel.push(message(US, 5));
    channel.push(message(EU, 1));
    channel.push(message(EU, 3)); // waiting for 2: not in the vector yet
    channel.push(message('ap-south-1', 1));
    expect(channel.vector()).toEqual({ [US]: 5, [EU]: 1, 'ap-south-1': 1 });
    vi.advanceTimersByTime(2000);
    expect(channel.vector()).toEqual({ [US]: 5, [EU]: 3, 'ap-south-1': 1 });
  });

  it('skips ranges recovery reported missing and delivers what follows them without waiting', () => {
    vi.useFakeTimers();
    const { channel, delivered, gaps } = stream({ [US]: 0 });
    channel.push(message(US, 6));
    channel.push(message(US, 7));
    channel.skip([{ origin: US, from: 1, to: 5, reason: 'expired' }]);
    expect(delivered).toEqual([`${US}-6`, `${US}-7`]);
    expect(gaps).toEqual([]);
    expect(channel.vector()).toEqual({ [US]: 7 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('delivers unsequenced messages as they come, dropping a repeated id within the recent window', () => {
    const { channel, delivered } = stream();
    for (const id of ['a', 'b', 'a', 'c', 'd', 'e', 'a']) channel.push(message(US, undefined, id));
    // The window holds 3 ids: by the last 'a', it has been forgotten.
    expect(delivered).toEqual(['a', 'b', 'c', 'd', 'e', 'a']);
    expect(channel.vector()).toEqual({});
  });

  it('close stops the gap timers', () => {
    vi.useFakeTimers();
    const { channel, delivered } = stream();
    channel.push(message(US, 2));
    channel.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual([]);
  });
});
