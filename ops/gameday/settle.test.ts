import { describe, expect, it } from 'vitest';
import { awaitSettled } from './settle';

describe('awaitSettled', () => {
  it('keeps waiting past the quiet period while deliveries still arrive, and reports settled once all are in', async () => {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    // One arrival every 20 ms for 300 ms: three times the quiet period in all, never quiet that long.
    const settled = await awaitSettled({ done: () => elapsed() >= 300, progress: () => Math.floor(elapsed() / 20), quietMs: 100, maxMs: 5_000, pollMs: 5 });
    expect(settled).toBe(true);
    expect(elapsed()).toBeGreaterThanOrEqual(300);
  });

  it('gives up once nothing has arrived for the quiet period: what is missing then is lost', async () => {
    const started = Date.now();
    const settled = await awaitSettled({ done: () => false, progress: () => 7, quietMs: 100, maxMs: 5_000, pollMs: 5 });
    expect(settled).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up at the overall limit even while arrivals trickle in', async () => {
    const started = Date.now();
    let count = 0;
    const settled = await awaitSettled({ done: () => false, progress: () => (count += 1), quietMs: 100, maxMs: 250, pollMs: 5 });
    expect(settled).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('answers at once when everything has already arrived', async () => {
    expect(await awaitSettled({ done: () => true, progress: () => 0, quietMs: 0, maxMs: 0, pollMs: 5 })).toBe(true);
  });
});
