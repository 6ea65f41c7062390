import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff';

const options = { baseMs: 250, maxMs: 30_000 };

describe('backoffDelay', () => {
  it('doubles the ceiling with each attempt, starting from baseMs', () => {
    const nearlyOne = () => 0.999_999;
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, options, nearlyOne))).toEqual([249, 499, 999, 1999]);
  });

  it('never exceeds maxMs, even after very many attempts', () => {
    for (const attempt of [7, 8, 20, 1000, 1e6]) expect(backoffDelay(attempt, options, () => 0.999_999)).toBeLessThan(options.maxMs);
    expect(backoffDelay(1000, options, () => 0.5)).toBe(15_000);
  });

  it('applies full jitter: the delay is the random fraction of the whole window, down to zero', () => {
    expect(backoffDelay(2, options, () => 0)).toBe(0);
    expect(backoffDelay(2, options, () => 0.25)).toBe(250);
    expect(backoffDelay(2, options, () => 0.5)).toBe(500);
  });

  it('stays within [0, ceiling) with the real random source', () => {
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelay(3, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(2000);
    }
  });
});
