import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, DEFAULT_RECONNECT_BACKOFF } from './backoff.js';

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

/** A deterministic random source (mulberry32), so the simulated crowd is the same every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The clients of a failed region all dropped at t = 0 reconnect to a region whose gateway
 * admits `quotaPerSecond` new connections a second (a full bucket to start, as API Gateway's)
 * and refuses the rest 429, each refused client trying again after its next backoff.
 */
function reconnectStorm(clients: number, backoff: typeof DEFAULT_RECONNECT_BACKOFF, quotaPerSecond: number) {
  const random = seeded(7);
  let attempts = Array.from({ length: clients }, () => ({ at: backoffDelay(0, backoff, random), attempt: 0 }));
  const connectedAt: number[] = [];
  let tokens = quotaPerSecond;
  let clock = 0;
  let mostAttempts = 0;
  let totalAttempts = 0;
  while (attempts.length > 0) {
    attempts.sort((a, b) => a.at - b.at);
    const next = attempts.shift()!;
    tokens = Math.min(quotaPerSecond, tokens + ((next.at - clock) * quotaPerSecond) / 1000);
    clock = next.at;
    mostAttempts = Math.max(mostAttempts, next.attempt + 1);
    totalAttempts += 1;
    if (tokens >= 1) {
      tokens -= 1;
      connectedAt.push(next.at);
    } else {
      attempts.push({ at: next.at + backoffDelay(next.attempt + 1, backoff, random), attempt: next.attempt + 1 });
    }
  }
  connectedAt.sort((a, b) => a - b);
  return { p99Ms: connectedAt[Math.floor(clients * 0.99)]!, mostAttempts, attemptsPerClient: totalAttempts / clients };
}

describe('reconnect spread', () => {
  it('GIVEN 3,000 clients dropped at once and the 500/s new-connection quota THEN the default reconnect backoff connects 99% within the 10 s handshake timeout, with fewer than 2.5 upgrades per client', () => {
    const storm = reconnectStorm(3000, DEFAULT_RECONNECT_BACKOFF, 500);
    expect(storm.p99Ms).toBeLessThan(10_000);
    expect(storm.mostAttempts).toBeLessThanOrEqual(6);
    expect(storm.attemptsPerClient).toBeLessThan(2.5);
    // The request backoff's 250 ms start would hit the quota with ~3.6 upgrades per client.
    expect(reconnectStorm(3000, DEFAULT_BACKOFF, 500).attemptsPerClient).toBeGreaterThan(3);
  });

  it('GIVEN the same crowd THEN the first reconnects are spread over the first second rather than the 250 ms of the request backoff', () => {
    const random = seeded(3);
    const firstSecond = Array.from({ length: 3000 }, () => backoffDelay(0, DEFAULT_RECONNECT_BACKOFF, random));
    const busiest100Ms = Math.max(...Array.from({ length: 10 }, (_, slice) => firstSecond.filter((d) => Math.floor(d / 100) === slice).length));
    expect(Math.max(...firstSecond)).toBeGreaterThan(900);
    expect(busiest100Ms).toBeLessThan(400);
  });
});
