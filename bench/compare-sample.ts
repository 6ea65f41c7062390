/**
 * `npm run bench -- --compare-sample`: the delivery worker against the baseline fan-out of
 * baseline-fanout.ts, the same batches of messages to the same live sockets through the same
 * @connections endpoint and DynamoDB, rounds interleaved (Relaymesh, baseline, Relaymesh, …).
 * Each side runs in its own process (fanout-process.ts), so the CPU it uses is its own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { envelopeFrame, type Envelope } from '../lambdas/core/protocol';
import { FanoutSide, type FanoutCost, type FanoutSideName } from './fanout-sides';
import { deliveryKey, type PhaseSummary } from './recorder';
import { formatCount, formatDecimal, ratio, type TableSection } from './stats';
import type { SubscriberPool } from './subscribers';

const POLL_INTERVAL_MS = 100;
const SIDES: readonly FanoutSideName[] = ['relaymesh', 'baseline'];

export interface CompareOptions {
  region: string;
  /** The region's Lambda environment (lambdaEnv of local/cloud.ts), critical class. */
  env: Record<string, string>;
  channel: string;
  /** Sockets subscribed to the channel in the region. */
  subscribers: number;
  messagesPerRound: number;
  /** Measured rounds per side, after one warm-up round each that is checked but not measured. */
  rounds: number;
  /** A round ends early when no delivery arrived for this long. */
  settleMs: number;
  runTag: string;
  cpuProfileDir?: string;
  log: (line: string) => void;
  checkInterrupted: () => void;
}

interface Round {
  side: FanoutSideName;
  warmUp: boolean;
  keys: string[];
  cost: FanoutCost;
}

export interface SideResult {
  side: FanoutSideName;
  rounds: number;
  /** The measured rounds' messages, as the subscribers received them. */
  summary: PhaseSummary;
  /** Every round's messages, the warm-up's included. */
  check: PhaseSummary;
  cost: Omit<FanoutCost, 'firstError'>;
  firstError?: string;
  /** CPU µs per expected delivery, lowest and highest measured round. */
  cpuMicrosPerDeliveryRange: [number, number];
}

export interface Comparison {
  sides: Record<FanoutSideName, SideResult>;
}

export async function compareWithSample(pool: SubscriberPool, options: CompareOptions): Promise<Comparison> {
  const sides: Partial<Record<FanoutSideName, FanoutSide>> = {};
  try {
    for (const name of SIDES) sides[name] = await FanoutSide.start(name, options.env, options.cpuProfileDir);
    const rounds: Round[] = [];
    let seq = 0;
    for (let round = 0; round <= options.rounds; round++) {
      for (const name of SIDES) {
        options.checkInterrupted();
        const envelopes = Array.from({ length: options.messagesPerRound }, (_, i) => benchEnvelope(options, name, round, i, ++seq));
        const expected = options.subscribers * envelopes.length;
        pool.beginPhase();
        const cost = await sides[name]!.run(envelopes.map((e) => sideInput(name, e)));
        const delivered = await awaitDeliveries(pool, expected, options.settleMs);
        options.log(
          `${name} ${round === 0 ? 'warm-up' : `round ${round}/${options.rounds}`}: ${formatCount(delivered)} / ${formatCount(expected)} delivered, ` +
            `${formatDecimal(cost.cpuMicros / 1000)} ms CPU, ${formatDecimal(cost.wallMs)} ms wall`,
        );
        rounds.push({ side: name, warmUp: round === 0, keys: envelopes.map(deliveryKey), cost });
      }
    }
    const results = {} as Record<FanoutSideName, SideResult>;
    for (const name of SIDES) {
      const own = rounds.filter((r) => r.side === name);
      const measured = own.filter((r) => !r.warmUp);
      const { summary } = await pool.summarize(measured.flatMap((r) => r.keys));
      const { summary: check } = await pool.summarize(own.flatMap((r) => r.keys));
      const perDelivery = measured.map((r) => r.cost.cpuMicros / (options.subscribers * r.keys.length));
      results[name] = {
        side: name,
        rounds: measured.length,
        summary,
        check,
        cost: sumCosts(measured.map((r) => r.cost)),
        firstError: own.find((r) => r.cost.firstError)?.cost.firstError,
        cpuMicrosPerDeliveryRange: [Math.min(...perDelivery), Math.max(...perDelivery)],
      };
    }
    return { sides: results };
  } finally {
    await Promise.all(Object.values(sides).map((side) => side.close()));
  }
}

/** A critical message as the router would have sequenced it in this region (origin = region: nothing to store first). */
function benchEnvelope(options: CompareOptions, side: FanoutSideName, round: number, index: number, seq: number): Envelope {
  return {
    v: 1,
    id: `cmp-${options.runTag}-${side}-${round}-${index}`,
    channel: options.channel,
    data: { text: `message ${index} of round ${round}` },
    origin: options.region,
    ts: Date.now(),
    class: 'critical',
    seq,
    clientId: true,
    kind: 'message',
  };
}

/** What each side's handler receives: the SQS body (the envelope) for the worker, the API Gateway event body for the baseline. */
function sideInput(side: FanoutSideName, envelope: Envelope): string {
  if (side === 'relaymesh') return JSON.stringify(envelope);
  return JSON.stringify({ action: 'sendmessage', data: JSON.stringify(envelopeFrame(envelope)) });
}

/** Until every expected delivery arrived, or none arrived for settleMs; returns the count. */
async function awaitDeliveries(pool: SubscriberPool, expected: number, settleMs: number): Promise<number> {
  let last = -1;
  let movedAt = Date.now();
  while (pool.delivered < expected) {
    await sleep(POLL_INTERVAL_MS);
    if (pool.delivered !== last) [last, movedAt] = [pool.delivered, Date.now()];
    else if (Date.now() - movedAt > settleMs) break;
  }
  return pool.delivered;
}

function sumCosts(costs: FanoutCost[]): SideResult['cost'] {
  const sum = (pick: (c: FanoutCost) => number) => costs.reduce((n, c) => n + pick(c), 0);
  return {
    cpuMicros: sum((c) => c.cpuMicros),
    systemCpuMicros: sum((c) => c.systemCpuMicros),
    wallMs: sum((c) => c.wallMs),
    invocations: sum((c) => c.invocations),
    failedInvocations: sum((c) => c.failedInvocations),
    posted: sum((c) => c.posted),
    itemsRead: sum((c) => c.itemsRead),
    gone: sum((c) => c.gone),
    truncated: sum((c) => c.truncated),
  };
}

/** The figures of one side: rates per delivered message, from the subscribers' count of distinct deliveries. */
export function sideFigures(result: SideResult) {
  const { cost, summary } = result;
  const delivered = summary.delivered;
  return {
    delivered,
    deliveriesPerSecond: ratio(delivered * 1000, cost.wallMs),
    cpuMicrosPerDelivery: ratio(cost.cpuMicros, delivered),
    deliveriesPerCpuSecond: ratio(delivered * 1e6, cost.cpuMicros),
    cpuMicrosPerPost: ratio(cost.cpuMicros, cost.posted),
    postsPerDelivery: ratio(cost.posted, delivered),
    itemsReadPerDelivery: ratio(cost.itemsRead, delivered),
  };
}

export const CPU_METHOD =
  "each side runs in a process of its own holding only its handler and SDK clients; CPU = that process's user + system time (process.cpuUsage) from handing it a round to the round's return; the @connections emulator, DynamoDB Local and the subscribers run in other processes";

export function comparisonSections(comparison: Comparison, options: Pick<CompareOptions, 'subscribers' | 'messagesPerRound' | 'rounds' | 'region'>): TableSection[] {
  const ours = comparison.sides.relaymesh;
  const baseline = comparison.sides.baseline;
  const [o, b] = [sideFigures(ours), sideFigures(baseline)];
  const both = (pick: (f: ReturnType<typeof sideFigures>) => number | undefined, format: (n: number | undefined) => string) =>
    `${format(pick(o)).padStart(10)}   ${format(pick(b)).padStart(10)}`;
  const costBoth = (pick: (r: SideResult) => string) => `${pick(ours).padStart(10)}   ${pick(baseline).padStart(10)}`;
  const range = (r: SideResult) => r.cpuMicrosPerDeliveryRange.map((n) => formatDecimal(n)).join('–');
  return [
    {
      title: `Compare with the sample: ${formatCount(options.subscribers)} subscribers × ${options.messagesPerRound}-message batches, ${options.rounds} rounds each, interleaved (${options.region})`,
      rows: [
        ['', `${'Relaymesh'.padStart(10)}   ${'baseline'.padStart(10)}`],
        ['delivered (received / expected)', costBoth((r) => `${formatCount(r.summary.delivered)}/${formatCount(r.summary.expected)}`)],
        ['deliveries / s (during invocations)', both((f) => f.deliveriesPerSecond, formatCount)],
        ['CPU µs / delivered message', both((f) => f.cpuMicrosPerDelivery, formatDecimal)],
        ['  lowest–highest round', costBoth(range)],
        ['  of which system (kernel) time', costBoth((r) => `${formatCount(ratio(100 * r.cost.systemCpuMicros, r.cost.cpuMicros))} %`)],
        ['delivered messages / CPU-second', both((f) => f.deliveriesPerCpuSecond, formatCount)],
        ['CPU µs / PostToConnection', both((f) => f.cpuMicrosPerPost, formatDecimal)],
        ['PostToConnection calls / delivered message', both((f) => f.postsPerDelivery, formatDecimal)],
        ['DynamoDB items read / delivered message', both((f) => f.itemsReadPerDelivery, formatDecimal)],
        ['invocations (failed)', costBoth((r) => `${formatCount(r.cost.invocations)} (${formatCount(r.cost.failedInvocations)})`)],
        ['410 gone / one-page Scans that had more', costBoth((r) => `${formatCount(r.cost.gone)} / ${formatCount(r.cost.truncated)}`)],
        ...(ours.firstError || baseline.firstError
          ? ([['first failure', `Relaymesh: ${ours.firstError ?? 'none'}; baseline: ${baseline.firstError ?? 'none'}`]] as const)
          : []),
        ['ratio: delivered messages / CPU-second', `${formatDecimal(ratio(o.deliveriesPerCpuSecond ?? 0, b.deliveriesPerCpuSecond ?? 0))} × the baseline's`],
        ['ratio: deliveries / s', `${formatDecimal(ratio(o.deliveriesPerSecond ?? 0, b.deliveriesPerSecond ?? 0))} × the baseline's`],
        ['CPU method', CPU_METHOD],
        ['baseline', 'per message: one Scan page of the connections table, one Promise.all of PostToConnection to every connection (bench/baseline-fanout.ts)'],
      ],
    },
  ];
}
