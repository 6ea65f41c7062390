import type { AlarmDefinition, AlarmWatch } from '../lib/alarm-definitions';

/**
 * The local cloud's CloudWatch alarms: the region's alarm definitions (lib/alarm-definitions.ts,
 * the list the CDK stacks deploy) evaluated on a timer against the local cloud's own figures.
 * A period is compressed to one evaluation, so a drill sees an alarm in seconds: a gauge is read
 * at each evaluation; a counter counts what it gained over the last `periodMinutes`, as a Sum does.
 */

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmStatus {
  readonly name: string;
  readonly region: string;
  readonly state: AlarmState;
  /** Why it is in that state, with the figure read, as CloudWatch's StateReason. */
  readonly reason: string;
  /** When it entered that state (ISO 8601). */
  readonly since: string;
  readonly description: string;
  readonly runbook: string;
}

/** One reading of what an alarm watches: a number, or why the local cloud has none. */
export type AlarmReading = { readonly value: number } | { readonly unavailable: string };

export interface AlarmEvaluatorOptions {
  readonly region: string;
  readonly definitions: readonly AlarmDefinition[];
  /** Reads the figure of a watch: a gauge's current value, or a counter's running total. */
  read(watch: AlarmWatch): Promise<AlarmReading>;
  /** Called once per change of state, with the state left. */
  onChange(status: AlarmStatus, previous: AlarmState): void;
  now?: () => number;
}

export interface AlarmEvaluator {
  /** Reads every figure and updates every alarm's state. */
  evaluate(): Promise<void>;
  statuses(): AlarmStatus[];
}

interface Tracked {
  status: AlarmStatus;
  /** Consecutive breaching evaluations. */
  breaching: number;
  /** A counter's running totals with their times, the last `periodMinutes` of them. */
  samples: Array<{ at: number; total: number }>;
}

export function createAlarmEvaluator(options: AlarmEvaluatorOptions): AlarmEvaluator {
  const now = options.now ?? Date.now;
  const startedAt = new Date(now()).toISOString();
  const tracked = new Map<string, Tracked>(
    options.definitions.map((d) => [
      d.name,
      {
        status: { name: d.name, region: options.region, state: 'INSUFFICIENT_DATA', reason: 'Not evaluated yet', since: startedAt, description: d.description, runbook: d.runbook },
        breaching: 0,
        samples: [],
      },
    ]),
  );

  const datapoint = (definition: AlarmDefinition, entry: Tracked, reading: number, at: number): number => {
    if (definition.statistic !== 'Sum') return reading;
    entry.samples.push({ at, total: reading });
    const windowStart = at - definition.periodMinutes * 60_000;
    // Keep one sample at or before the window's start: the baseline the increase is counted from.
    while (entry.samples.length > 1 && entry.samples[1]!.at <= windowStart) entry.samples.shift();
    return reading - entry.samples[0]!.total;
  };

  const settle = (entry: Tracked, state: AlarmState, reason: string, at: number) => {
    const previous = entry.status.state;
    if (previous === state) {
      // Without a figure there is no threshold to report: the reason (why there is none) is news.
      if (state === 'INSUFFICIENT_DATA') entry.status = { ...entry.status, reason };
      return;
    }
    entry.status = { ...entry.status, state, reason, since: new Date(at).toISOString() };
    options.onChange(entry.status, previous);
  };

  return {
    async evaluate() {
      const readings = await Promise.all(options.definitions.map((d) => options.read(d.watches).catch((error: unknown) => ({ unavailable: `reading failed: ${String(error)}` }))));
      const at = now();
      options.definitions.forEach((definition, i) => {
        const entry = tracked.get(definition.name)!;
        const reading = readings[i]!;
        if ('unavailable' in reading) return settle(entry, 'INSUFFICIENT_DATA', reading.unavailable, at);
        const value = datapoint(definition, entry, reading.value, at);
        entry.breaching = value > definition.threshold ? entry.breaching + 1 : 0;
        const figure = `${definition.statistic} ${round(value)} (threshold ${definition.threshold})`;
        if (entry.breaching >= definition.evaluationPeriods) {
          settle(entry, 'ALARM', `Threshold crossed: ${entry.breaching} evaluation(s) above the threshold, last ${figure}`, at);
        } else if (entry.breaching === 0) {
          settle(entry, 'OK', `Threshold not crossed: ${figure}`, at);
        }
      });
    },
    statuses: () => [...tracked.values()].map((t) => t.status),
  };
}

const round = (value: number) => Math.round(value * 100) / 100;
