import { afterEach, describe, expect, it, vi } from 'vitest';
import { StatusHistorySchema } from './status';
import { SampleHistory, startStatusSampler, type RegionSample } from './status-history';

const sample = (at: number, posted: number, queueDepth = 0) => ({ at, regions: { 'us-east-1': { posted, queueDepth } } });

describe('the status sample history', () => {
  it('computes deliveries/s from the oldest sample in the window to the newest', () => {
    const history = new SampleHistory(60_000);
    for (const [at, posted] of [[0, 0], [1000, 10], [2000, 30], [3000, 60], [4000, 100]] as const) history.add(sample(at, posted));
    // Window of 2 s: samples at 2000 and 4000 → 70 frames in 2 s.
    expect(history.deliveriesPerSecond('us-east-1', 2000)).toBe(35);
    // A window longer than the history: from the first sample → 100 frames in 4 s.
    expect(history.deliveriesPerSecond('us-east-1', 10_000)).toBe(25);
  });

  it('has no rate before two samples, nor for a region it never sampled', () => {
    const history = new SampleHistory(60_000);
    expect(history.deliveriesPerSecond('us-east-1', 5000)).toBeUndefined();
    history.add(sample(0, 5));
    expect(history.deliveriesPerSecond('us-east-1', 5000)).toBeUndefined();
    history.add(sample(1000, 7));
    expect(history.deliveriesPerSecond('us-east-1', 5000)).toBe(2);
    expect(history.deliveriesPerSecond('eu-west-1', 5000)).toBeUndefined();
  });

  it('gives one chart point per interval, the rate since the previous sample, and forgets samples older than it keeps', () => {
    const history = new SampleHistory(2000);
    for (const [at, posted, depth] of [[0, 0, 0], [1000, 4, 3], [2000, 4, 1], [3000, 10, 0]] as const) history.add(sample(at, posted, depth));
    const points = StatusHistorySchema.parse(history.points(1000)).points;
    // The sample at 0 is more than 2 s older than the newest, so the first point is at 2000.
    expect(points).toEqual([
      { at: new Date(2000).toISOString(), regions: { 'us-east-1': { deliveriesPerSecond: 0, queueDepth: 1 } } },
      { at: new Date(3000).toISOString(), regions: { 'us-east-1': { deliveriesPerSecond: 6, queueDepth: 0 } } },
    ]);
  });
});

describe('the status sampler', () => {
  afterEach(() => vi.useRealTimers());

  it('samples on its timer, so two readers asking at different moments both see the rate of the traffic, however often they ask', async () => {
    vi.useFakeTimers({ now: 0 });
    // Traffic of 50 frames/s: the counter grows with the clock, whoever reads it.
    const read = async (): Promise<Record<string, RegionSample>> => ({ 'us-east-1': { posted: Date.now() / 20, queueDepth: 0 } });
    const sampler = await startStatusSampler({ read, intervalMs: 1000, keepMs: 60_000, onError: () => undefined });
    const watch = [] as Array<number | undefined>;
    const dashboard = [] as Array<number | undefined>;
    for (let tick = 0; tick < 6; tick++) {
      await vi.advanceTimersByTimeAsync(1000);
      watch.push(sampler.history.deliveriesPerSecond('us-east-1', 5000));
      // Three times a second: a rate measured since each reader's previous call would differ between the two readers.
      for (let i = 0; i < 3; i++) dashboard.push(sampler.history.deliveriesPerSecond('us-east-1', 5000));
    }
    await sampler.stop();
    expect(watch).toEqual(Array(6).fill(50));
    expect(dashboard).toEqual(Array(18).fill(50));
  });

  it('reports a failed read and keeps sampling', async () => {
    vi.useFakeTimers({ now: 0 });
    const errors: unknown[] = [];
    let calls = 0;
    const read = async (): Promise<Record<string, RegionSample>> => {
      calls++;
      if (calls === 2) throw new Error('fauxqs is gone');
      return { 'us-east-1': { posted: calls, queueDepth: 0 } };
    };
    const sampler = await startStatusSampler({ read, intervalMs: 1000, keepMs: 60_000, onError: (e) => errors.push(e) });
    await vi.advanceTimersByTimeAsync(2000);
    await sampler.stop();
    expect(errors).toEqual([new Error('fauxqs is gone')]);
    // Samples at 0 (posted 1) and 2000 (posted 3): the failed read at 1000 left no gap in the rate.
    expect(sampler.history.deliveriesPerSecond('us-east-1', 5000)).toBe(1);
  });
});
