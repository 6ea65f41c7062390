/**
 * Fault injection for the local cloud: the ordinary AWS faults that delivery guarantees must
 * survive, switched on through startLocalCloud's `faults` (tests, the bench) or `npm start`'s
 * options, and changed while the cloud runs.
 *
 * Faults are injected on the wire, so the real SDK deserializers and retry strategies see them:
 * each function's SDK clients get a request handler (handler-faults.ts, in the function's own
 * thread) that answers chosen DynamoDB and SNS operations with synthetic service errors and
 * fails every call of a killed Lambda invocation, and the @connections API answers chosen
 * PostToConnection calls 429 itself (see websocket-api.ts). Only the handlers' runtimes get the
 * request handler: the replicator, provisioning and the event source mapping's own SQS calls
 * stand for AWS itself and never fail on purpose. The FaultInjector here holds the settings,
 * hands them to every function and sums what each injected.
 */
import * as DynamoDB from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type { GlobalTableReplicator } from './global-tables';
import { FaultDraws, FAULT_KINDS, type FaultStats, type HandlerFaultSettings } from './handler-faults';

export { InvocationKilledError, type FaultStats } from './handler-faults';

/** Every operation name the DynamoDB client knows, so a misspelt `dynamodbOperations` entry is refused rather than never matching. */
const DYNAMODB_OPERATIONS = Object.keys(DynamoDB)
  .filter((name) => /^[A-Z]\w+Command$/.test(name))
  .map((name) => name.slice(0, -'Command'.length));

const rate = z.number({ error: 'must be a number' }).min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1').default(0);
const lagMs = z.number({ error: 'must be a number' }).int('must be whole milliseconds').min(0, 'must not be negative').max(60_000, 'must be at most 60000 ms');

export const FaultSettingsSchema = z.strictObject({
  /** Fraction of @connections PostToConnection operations answered 429 LimitExceededException. */
  postThrottleRate: rate,
  /** Fraction of SNS Publish (and PublishBatch) operations answered 500 InternalError. */
  snsFailureRate: rate,
  /** Fraction of DynamoDB operations answered 400 ProvisionedThroughputExceededException. */
  dynamodbFailureRate: rate,
  /** The DynamoDB operations `dynamodbFailureRate` applies to; empty means all of them. */
  dynamodbOperations: z
    .array(z.string().refine((name) => DYNAMODB_OPERATIONS.includes(name), 'must be a DynamoDB operation name such as PutItem'))
    .default([]),
  /** Global-table replication lag jumping to a random value in [min, max] every `lagJumpEveryMs`; null keeps the config's lag. */
  replicationLagMs: z
    .object({ min: lagMs, max: lagMs })
    .refine(({ min, max }) => min <= max, 'min must not exceed max')
    .nullable()
    .default(null),
  /** How often the jittered replication lag jumps. */
  lagJumpEveryMs: z.number().int().min(10, 'must be at least 10 ms').default(2000),
  /** Fraction of delivery-worker invocations killed: their calls after the first `killAfterCalls` fail, and the batch is not deleted. */
  killRate: rate,
  /** AWS SDK operations a killed invocation completes before it dies (0: it dies at its first). */
  killAfterCalls: z.number({ error: 'must be a number' }).int('must be a whole number').min(0, 'must not be negative').default(0),
});

/** What callers give: every field optional, each defaulting to off. */
export type FaultSettings = z.input<typeof FaultSettingsSchema>;
export type ResolvedFaultSettings = z.output<typeof FaultSettingsSchema>;

/** A function's fault injection as the injector sees it: in its thread (function-thread.ts), or in-process in tests. */
export interface HandlerFaultsTarget {
  /** Takes effect for the function's next operation. */
  set(settings: HandlerFaultSettings): void;
  /** What the function injected so far. */
  stats(): FaultStats;
}

export class FaultInjector {
  private current: ResolvedFaultSettings;
  private readonly draws: FaultDraws;
  private readonly handlers: HandlerFaultsTarget[] = [];
  private replication?: { target: Pick<GlobalTableReplicator, 'setLag'>; baseLagMs: number; timer?: NodeJS.Timeout };

  constructor(
    settings: FaultSettings = {},
    readonly seed = 1,
  ) {
    this.current = FaultInjector.parse(settings);
    this.draws = new FaultDraws(seed);
  }

  private static parse(settings: FaultSettings): ResolvedFaultSettings {
    const parsed = FaultSettingsSchema.safeParse(settings);
    if (!parsed.success) throw new Error(`Invalid fault settings: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  }

  settings(): ResolvedFaultSettings {
    return structuredClone(this.current);
  }

  /** Changes the given settings, keeping the others; takes effect for the next operation. */
  set(changes: FaultSettings): void {
    this.current = FaultInjector.parse({ ...this.current, ...changes });
    for (const handler of this.handlers) handler.set(this.handlerSettings());
    if ('replicationLagMs' in changes || 'lagJumpEveryMs' in changes) this.applyReplicationLag();
  }

  /** Every fault injected so far: here, and by every function attached. */
  stats(): FaultStats {
    const totals = this.draws.stats();
    for (const handler of this.handlers) {
      const counted = handler.stats();
      for (const kind of FAULT_KINDS) totals[kind] += counted[kind];
    }
    return totals;
  }

  /** Hands a function's fault injection the current settings, and every later change. */
  attach(handler: HandlerFaultsTarget): void {
    this.handlers.push(handler);
    handler.set(this.handlerSettings());
  }

  private handlerSettings(): HandlerFaultSettings {
    const { snsFailureRate, dynamodbFailureRate, dynamodbOperations, killRate, killAfterCalls } = this.current;
    return { snsFailureRate, dynamodbFailureRate, dynamodbOperations: [...dynamodbOperations], killRate, killAfterCalls };
  }

  /** The @connections API's hook: whether to answer this PostToConnection attempt 429. */
  readonly throttlePost = (operationId: string | undefined): boolean =>
    this.draws.decide('postsThrottled', this.current.postThrottleRate, operationId);

  /** Lets `replicationLagMs` drive the replicator's lag; `baseLagMs` is restored when it is turned off. */
  driveReplicationLag(target: Pick<GlobalTableReplicator, 'setLag'>, baseLagMs: number): void {
    this.stop();
    this.replication = { target, baseLagMs };
    this.applyReplicationLag();
  }

  /** Stops the lag jumps (the lag stays where it was). */
  stop(): void {
    clearInterval(this.replication?.timer);
  }

  private applyReplicationLag(): void {
    const replication = this.replication;
    if (!replication) return;
    clearInterval(replication.timer);
    const range = this.current.replicationLagMs;
    if (!range) return replication.target.setLag(replication.baseLagMs);
    const jump = () => {
      replication.target.setLag(range.min + Math.floor(this.draws.random('replicationLagJumps') * (range.max - range.min + 1)));
      this.draws.count('replicationLagJumps');
    };
    jump();
    replication.timer = setInterval(jump, this.current.lagJumpEveryMs).unref();
  }
}
