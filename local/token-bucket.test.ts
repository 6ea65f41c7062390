import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket';

function manualClock() {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

function takeAll(bucket: TokenBucket, attempts: number): number {
  let granted = 0;
  for (let i = 0; i < attempts; i++) if (bucket.tryTake()) granted++;
  return granted;
}

describe('TokenBucket', () => {
  it('grants a full burst at once, then refuses until tokens refill', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5 }, clock.now);
    expect(takeAll(bucket, 8)).toBe(5);
    expect(bucket.tryTake()).toBe(false);
  });

  it('refills at the steady rate, including fractions of a token', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5 }, clock.now);
    takeAll(bucket, 5);
    clock.advance(50); // half a token
    expect(bucket.tryTake()).toBe(false);
    clock.advance(50); // the second half
    expect(bucket.tryTake()).toBe(true);
    clock.advance(300);
    expect(takeAll(bucket, 10)).toBe(3);
  });

  it('never holds more than its burst however long it rests', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 3 }, clock.now);
    clock.advance(60_000);
    expect(takeAll(bucket, 10)).toBe(3);
  });

  it('rejects a zero rate or a burst below one', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1 })).toThrow();
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0 })).toThrow();
  });
});
