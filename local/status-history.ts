import type { StatusHistory } from './status';

/** One region's counters at one instant: what the rates and charts are computed from. */
export interface RegionSample {
  /** Frames the delivery workers posted to connections since the cloud started (only grows). */
  posted: number;
  /** Messages in the region's class queues, visible and in flight. */
  queueDepth: number;
}

export interface StatusSample {
  /** Epoch milliseconds. */
  at: number;
  regions: Record<string, RegionSample>;
}

/**
 * The cloud's recent samples, oldest first, kept for `keepMs`. Rates are read from the samples
 * and never change them, so any number of readers (the dashboard, `relaymesh status --watch`)
 * see the same figures however often they ask.
 */
export class SampleHistory {
  private readonly samples: StatusSample[] = [];

  constructor(private readonly keepMs: number) {}

  add(sample: StatusSample): void {
    this.samples.push(sample);
    while (this.samples[0]!.at < sample.at - this.keepMs) this.samples.shift();
  }

  /**
   * Frames posted per second in `region` over the last `windowMs` (from the oldest sample in the
   * window to the newest); undefined until two samples of the region exist.
   */
  deliveriesPerSecond(region: string, windowMs: number): number | undefined {
    const newest = this.samples.at(-1);
    const base = newest && this.samples.find((s) => s.at >= newest.at - windowMs && s.at < newest.at && region in s.regions);
    if (!newest || !base || !(region in newest.regions)) return undefined;
    return ((newest.regions[region]!.posted - base.regions[region]!.posted) * 1000) / (newest.at - base.at);
  }

  /** One point per sample after the first: the rate since the previous sample, and the queue depth. */
  points(intervalMs: number): StatusHistory {
    const points = this.samples.slice(1).map((sample, i) => {
      const previous = this.samples[i]!;
      const seconds = (sample.at - previous.at) / 1000;
      const regions = Object.fromEntries(
        Object.entries(sample.regions).map(([region, { posted, queueDepth }]) => {
          const before = previous.regions[region];
          return [region, { deliveriesPerSecond: before ? (posted - before.posted) / seconds : 0, queueDepth }];
        }),
      );
      return { at: new Date(sample.at).toISOString(), regions };
    });
    return { intervalMs, points };
  }
}

export interface StatusSamplerOptions {
  /** Reads every region's counters now. */
  read: () => Promise<Record<string, RegionSample>>;
  intervalMs: number;
  keepMs: number;
  /** A failed read is reported and skipped; the next tick tries again. */
  onError: (error: unknown) => void;
  now?: () => number;
}

export interface StatusSampler {
  history: SampleHistory;
  stop(): Promise<void>;
}

/**
 * Samples on a timer, one read at a time (a tick while a read is still running is skipped).
 * The first sample is taken before it returns, so the first rate is one interval away.
 */
export async function startStatusSampler(options: StatusSamplerOptions): Promise<StatusSampler> {
  const now = options.now ?? Date.now;
  const history = new SampleHistory(options.keepMs);
  let reading: Promise<void> | undefined;
  const sample = () => {
    const at = now();
    reading ??= options
      .read()
      .then((regions) => history.add({ at, regions }), options.onError)
      .finally(() => (reading = undefined));
    return reading;
  };
  await sample();
  const timer = setInterval(() => void sample(), options.intervalMs);
  timer.unref();
  return {
    history,
    stop: async () => {
      clearInterval(timer);
      await reading;
    },
  };
}
