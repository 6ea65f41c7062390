import type { AckedMessage, DeliveryLedger, MissingRangeAnswer } from './ledger';
import type { DrillPlan } from './plan';

/** One reconnect of a client: from its socket's loss to the next one open. */
export interface Reconnect {
  /** Seconds from the drill's start when the socket was lost. */
  at: number;
  ms: number;
  from: string;
  to: string;
}

/** Everything the drill recorded for one client. */
export interface ClientRun {
  index: number;
  channel: string;
  /** The region it plays a user near. */
  near: string;
  startRegion: string;
  endRegion: string;
  ledger: DeliveryLedger;
  reconnects: Reconnect[];
  /** Its own publishes: acknowledged, retried by the SDK (by error code), failed for good (by code). */
  publishes: { acknowledged: number; retried: Record<string, number>; failed: Record<string, number> };
  /** What the SDK reported with no caller to reject (failed reconnects, error frames), by code. */
  errors: Record<string, number>;
}

/** Per-second counts from the drill's start: deliveries to apps per region the socket was in, reconnects and errors. */
export class Timeline {
  readonly deliveries: Record<string, number[]> = {};
  readonly reconnects: number[] = [];
  readonly errors: number[] = [];

  delivery(atSeconds: number, region: string): void {
    bump((this.deliveries[region] ??= []), atSeconds);
  }

  reconnect(atSeconds: number): void {
    bump(this.reconnects, atSeconds);
  }

  error(atSeconds: number): void {
    bump(this.errors, atSeconds);
  }

  /** Every series as long as the longest, zeros where nothing happened. */
  toJSON(): TimelineFigures {
    const seconds = Math.max(0, this.reconnects.length, this.errors.length, ...Object.values(this.deliveries).map((s) => s.length));
    const full = (series: number[]) => Array.from({ length: seconds }, (_, i) => series[i] ?? 0);
    return {
      seconds,
      deliveriesPerSecond: Object.fromEntries(Object.entries(this.deliveries).map(([region, series]) => [region, full(series)])),
      reconnectsPerSecond: full(this.reconnects),
      errorsPerSecond: full(this.errors),
    };
  }
}

function bump(series: number[], atSeconds: number): void {
  // Before the start (a subscribe's first frames) counts in the first second.
  const second = Math.max(0, Math.floor(atSeconds));
  for (let i = series.length; i <= second; i++) series.push(0);
  series[second]!++;
}

export interface TimelineFigures {
  seconds: number;
  deliveriesPerSecond: Record<string, number[]>;
  reconnectsPerSecond: number[];
  errorsPerSecond: number[];
}

/** What the drill recorded, as the report model takes it. */
export interface DrillRun {
  plan: DrillPlan;
  startedAt: string;
  endedAt: string;
  /** Publishes sent. */
  published: number;
  /** Every acknowledged critical message with its channel: what the subscribers of that channel were owed. */
  acked: ReadonlyArray<AckedMessage & { channel: string }>;
  /** Acknowledged publishes of either class, and those the server answered as a repeat of an earlier attempt. */
  acknowledged: number;
  acknowledgedAsDuplicate: number;
  /** Whether every subscriber had every message it was owed before the settle time ran out. */
  settled: boolean;
  /** When the region was down, in seconds from the start: as switched, which a busy cloud makes later than planned. */
  downWindow: { from: number; to: number };
  /** Seconds from the start: the switch thrown, thrown back, publishing stopped… */
  events: Array<{ at: number; text: string }>;
  timeline: Timeline;
  clients: readonly ClientRun[];
}

export interface ClientFigures {
  index: number;
  channel: string;
  near: string;
  startRegion: string;
  endRegion: string;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  reconnects: number;
  reconnectMs: number[];
  recoveries: number;
  notRecovered: number;
  missing: MissingRangeAnswer[];
  published: number;
  publishRetries: number;
  publishFailures: number;
  violations: string[];
}

export interface GamedayReport {
  plan: DrillPlan;
  startedAt: string;
  endedAt: string;
  verdict: {
    /** False when any acknowledged critical message was lost, duplicated, out of order or misreported by a recovery. */
    guaranteesHeld: boolean;
    /** Ephemeral messages carry no guarantee: their deliveries are counted, not judged. */
    judged: boolean;
    settled: boolean;
    violationCount: number;
    /** The first violations, each naming its client. */
    violations: string[];
  };
  totals: {
    published: number;
    acknowledged: number;
    acknowledgedAsDuplicate: number;
    publishFailed: number;
    /** Publishes neither acknowledged nor failed when the drill ended: the cloud had not answered them yet. */
    unanswered: number;
    /** Deliveries owed: each acknowledged critical message times its channel's subscribers. */
    expected: number;
    delivered: number;
    lost: number;
    duplicates: number;
    outOfOrder: number;
  };
  reconnects: { count: number; clients: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null };
  recoveries: { count: number; notRecovered: number; missingRanges: number; missingSeqsByReason: Record<string, number> };
  publishErrors: { retried: Record<string, number>; failed: Record<string, number> };
  clientErrors: Record<string, number>;
  regions: Array<{ region: string; clientsAtStart: number; clientsAtEnd: number; delivered: number; reconnectedFrom: number }>;
  downWindow: { from: number; to: number };
  events: Array<{ at: number; text: string }>;
  timeline: TimelineFigures;
  clients: ClientFigures[];
}

/** Violations listed in the report; the count covers them all. */
const VIOLATIONS_LISTED = 100;

/** The nearest-rank percentile (`p` in 0..100) of `values`; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const sumInto = (total: Record<string, number>, part: Record<string, number>) => {
  for (const [k, n] of Object.entries(part)) total[k] = (total[k] ?? 0) + n;
  return total;
};
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export function buildReport(run: DrillRun): GamedayReport {
  const judged = run.plan.eventClass === 'critical';
  const ackedByChannel = new Map<string, AckedMessage[]>();
  for (const a of run.acked) ackedByChannel.set(a.channel, [...(ackedByChannel.get(a.channel) ?? []), a]);

  const clients: ClientFigures[] = run.clients.map((c) => {
    const audit = c.ledger.audit(ackedByChannel.get(c.channel) ?? []);
    const recoveries = c.ledger.recoveries;
    return {
      index: c.index,
      channel: c.channel,
      near: c.near,
      startRegion: c.startRegion,
      endRegion: c.endRegion,
      expected: audit.expected,
      delivered: c.ledger.handed.length,
      lost: audit.lost,
      duplicates: audit.duplicates,
      outOfOrder: audit.outOfOrder,
      reconnects: c.reconnects.length,
      reconnectMs: c.reconnects.map((r) => r.ms),
      recoveries: recoveries.length,
      notRecovered: recoveries.filter((r) => !r.recovered).length,
      missing: recoveries.flatMap((r) => r.missing),
      published: c.publishes.acknowledged,
      publishRetries: sum(Object.values(c.publishes.retried)),
      publishFailures: sum(Object.values(c.publishes.failed)),
      violations: audit.violations.map((v) => `client ${c.index} (${c.channel}): ${v.text}`),
    };
  });

  const violations = clients.flatMap((c) => c.violations);
  const reconnectMs = clients.flatMap((c) => c.reconnectMs);
  const missing = clients.flatMap((c) => c.missing);
  const failedByCode = run.clients.reduce((total, c) => sumInto(total, c.publishes.failed), {} as Record<string, number>);
  const regions = run.plan.regions.map((region) => ({
    region,
    clientsAtStart: clients.filter((c) => c.startRegion === region).length,
    clientsAtEnd: clients.filter((c) => c.endRegion === region).length,
    delivered: sum(run.timeline.deliveries[region] ?? []),
    reconnectedFrom: run.clients.reduce((n, c) => n + c.reconnects.filter((r) => r.from === region).length, 0),
  }));

  return {
    plan: run.plan,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    verdict: {
      guaranteesHeld: !judged || violations.length === 0,
      judged,
      settled: run.settled,
      violationCount: violations.length,
      violations: violations.slice(0, VIOLATIONS_LISTED),
    },
    totals: {
      published: run.published,
      acknowledged: run.acknowledged,
      acknowledgedAsDuplicate: run.acknowledgedAsDuplicate,
      publishFailed: sum(Object.values(failedByCode)),
      unanswered: run.published - run.acknowledged - sum(Object.values(failedByCode)),
      expected: sum(clients.map((c) => c.expected)),
      delivered: sum(clients.map((c) => c.delivered)),
      lost: sum(clients.map((c) => c.lost)),
      duplicates: sum(clients.map((c) => c.duplicates)),
      outOfOrder: sum(clients.map((c) => c.outOfOrder)),
    },
    reconnects: {
      count: reconnectMs.length,
      clients: clients.filter((c) => c.reconnects > 0).length,
      p50Ms: percentile(reconnectMs, 50),
      p99Ms: percentile(reconnectMs, 99),
      maxMs: percentile(reconnectMs, 100),
    },
    recoveries: {
      count: sum(clients.map((c) => c.recoveries)),
      notRecovered: sum(clients.map((c) => c.notRecovered)),
      missingRanges: missing.length,
      missingSeqsByReason: missing.reduce((total, r) => sumInto(total, { [r.reason]: r.to - r.from + 1 }), {} as Record<string, number>),
    },
    publishErrors: {
      retried: run.clients.reduce((total, c) => sumInto(total, c.publishes.retried), {} as Record<string, number>),
      failed: failedByCode,
    },
    clientErrors: run.clients.reduce((total, c) => sumInto(total, c.errors), {} as Record<string, number>),
    regions,
    downWindow: run.downWindow,
    events: run.events,
    timeline: run.timeline.toJSON(),
    clients,
  };
}
