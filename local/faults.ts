/**
 * Fault injection for the local cloud: the ordinary AWS faults that delivery guarantees must
 * survive, switched on through startLocalCloud's `faults` (tests, the bench) or `npm start`'s
 * options, and changed while the cloud runs.
 *
 * Faults are injected on the wire, so the real SDK deserializers and retry strategies see them:
 * a request handler for the handlers' SDK clients answers chosen DynamoDB and SNS operations
 * with synthetic service errors and fails every call of a killed Lambda invocation, and the
 * @connections API answers chosen PostToConnection calls 429 itself (see websocket-api.ts).
 * Only the handlers' runtimes get the request handler: the replicator, provisioning and the
 * event source mapping's own SQS calls stand for AWS itself and never fail on purpose.
 *
 * A fault is decided per operation, not per HTTP attempt: the SDK retries throttles and server
 * errors, so a fault drawn per attempt would almost never survive the retries. Every attempt of
 * an operation carries the same `amz-sdk-invocation-id`; the first one draws, the rest follow.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import * as DynamoDB from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { NodeHttpHandlerOptions } from '@smithy/types';
import { z } from 'zod';
import { lambdaInvocations, type LambdaInvocation } from './event-source-mapping';
import type { GlobalTableReplicator } from './global-tables';

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

/**
 * What `stats()` counts: operations failed (not HTTP attempts), invocations killed, and jumps of
 * the replication lag.
 */
const FAULT_KINDS = ['postsThrottled', 'snsPublishesFailed', 'dynamodbOperationsFailed', 'invocationsKilled', 'replicationLagJumps'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultStats = Record<FaultKind, number>;

/** Enough to cover every operation still being retried, so memory stays flat however long the cloud runs. */
const MAX_DECIDED_OPERATIONS = 10_000;
const SNS_PUBLISH_ACTIONS = new Set(['Publish', 'PublishBatch']);
/** The service in a SigV4 credential scope: Credential=KEY/DATE/REGION/SERVICE/aws4_request. */
const SIGNING_SERVICE = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/;

/** mulberry32: tiny, fast and good enough to make a fault schedule reproducible from a seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type HttpRequest = Parameters<NodeHttpHandler['handle']>[0];
type HttpResponse = Awaited<ReturnType<NodeHttpHandler['handle']>>['response'];

/** The SDK's header names are lower case today; nothing in its contract says they stay so. */
function header(headers: HttpRequest['headers'], name: string): string | undefined {
  return Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  return body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : '';
}

/** A response as NodeHttpHandler returns one: the body a stream the SDK's collector reads. */
function serviceError(statusCode: number, contentType: string, body: string): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), 'x-amzn-requestid': randomUUID() },
    body: Readable.from([Buffer.from(body)]),
  };
}

/** awsJson1_0: the SDK reads the error's name from `__type`, and retries it as a throttle. */
const dynamodbThrottle = () =>
  serviceError(
    400,
    'application/x-amz-json-1.0',
    JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
      message: 'The level of configured provisioned throughput for the table was exceeded (injected fault).',
    }),
  );

/** awsQuery XML: the SDK maps Code InternalError to InternalErrorException, a server fault it retries. */
const snsInternalError = () =>
  serviceError(
    500,
    'text/xml',
    '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>InternalError</Code>' +
      `<Message>Internal Error (injected fault)</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );

/** What a call of a killed invocation fails with; not a network or service error, so the SDK does not retry it. */
export class InvocationKilledError extends Error {
  override readonly name = 'InvocationKilledError';
}

/** NodeHttpHandler behind a gate that may answer a request itself or throw before anything is sent. */
class InterceptingHttpHandler extends NodeHttpHandler {
  constructor(
    private readonly intercept: (request: HttpRequest) => HttpResponse | undefined,
    options?: NodeHttpHandlerOptions,
  ) {
    super(options);
  }

  override async handle(...[request, options]: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const response = this.intercept(request);
    return response ? { response } : super.handle(request, options);
  }
}

interface InvocationState {
  readonly doomed: boolean;
  /** Operations started so far (a retry is the same operation). */
  readonly operations: Set<string>;
}

export class FaultInjector {
  private current: ResolvedFaultSettings;
  /** One stream per kind, so turning one fault on does not reshuffle another's schedule. */
  private readonly random: Record<FaultKind, () => number>;
  private readonly counts: FaultStats;
  /** Operation id → whether it fails; insertion order makes the oldest the first to forget. */
  private readonly decided = new Map<string, boolean>();
  private readonly invocations = new WeakMap<LambdaInvocation, InvocationState>();
  private replication?: { target: Pick<GlobalTableReplicator, 'setLag'>; baseLagMs: number; timer?: NodeJS.Timeout };

  constructor(
    settings: FaultSettings = {},
    readonly seed = 1,
  ) {
    this.current = FaultInjector.parse(settings);
    this.random = Object.fromEntries(FAULT_KINDS.map((kind, i) => [kind, seededRandom(seed + (i + 1) * 0x9e3779b9)])) as Record<FaultKind, () => number>;
    this.counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as FaultStats;
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
    if ('replicationLagMs' in changes || 'lagJumpEveryMs' in changes) this.applyReplicationLag();
  }

  stats(): FaultStats {
    return { ...this.counts };
  }

  /** A request handler for one SDK client of a handler runtime, with the HTTP options it would get on Lambda. */
  requestHandler(options?: NodeHttpHandlerOptions): NodeHttpHandler {
    return new InterceptingHttpHandler((request) => this.intercept(request), options);
  }

  /** The @connections API's hook: whether to answer this PostToConnection attempt 429. */
  readonly throttlePost = (operationId: string | undefined): boolean =>
    this.decide('postsThrottled', this.current.postThrottleRate, operationId);

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
      replication.target.setLag(range.min + Math.floor(this.random.replicationLagJumps() * (range.max - range.min + 1)));
      this.counts.replicationLagJumps += 1;
    };
    jump();
    replication.timer = setInterval(jump, this.current.lagJumpEveryMs).unref();
  }

  /**
   * Whether the operation fails: drawn at its first attempt, remembered for its retries. Without
   * an operation id (a caller that is not the SDK) each attempt draws. Rate 0 is off at once,
   * even for an operation drawn to fail before.
   */
  private decide(kind: FaultKind, rate: number, operationId: string | undefined): boolean {
    if (rate === 0) return false;
    let fails = operationId === undefined ? undefined : this.decided.get(operationId);
    if (fails === undefined) {
      fails = this.random[kind]() < rate;
      if (fails) this.counts[kind] += 1;
      if (operationId !== undefined) this.decided.set(operationId, fails);
      if (this.decided.size > MAX_DECIDED_OPERATIONS) this.decided.delete(this.decided.keys().next().value!);
    }
    return fails;
  }

  private intercept(request: HttpRequest): HttpResponse | undefined {
    const operationId = header(request.headers, 'amz-sdk-invocation-id');
    this.enforceKill(operationId);
    const service = SIGNING_SERVICE.exec(header(request.headers, 'authorization') ?? '')?.[1];
    if (service === 'dynamodb') {
      const { dynamodbFailureRate, dynamodbOperations } = this.current;
      const operation = header(request.headers, 'x-amz-target')?.split('.')[1] ?? '';
      const listed = dynamodbOperations.length === 0 || dynamodbOperations.includes(operation);
      if (listed && this.decide('dynamodbOperationsFailed', dynamodbFailureRate, operationId)) return dynamodbThrottle();
    }
    if (service === 'sns' && this.current.snsFailureRate > 0) {
      const publishes = SNS_PUBLISH_ACTIONS.has(new URLSearchParams(bodyText(request.body)).get('Action') ?? '');
      if (publishes && this.decide('snsPublishesFailed', this.current.snsFailureRate, operationId)) return snsInternalError();
    }
    return undefined;
  }

  /**
   * Inside an event-source-mapping invocation: whether it is killed is drawn at its first call;
   * a doomed one is killed when it starts its (killAfterCalls + 1)th operation, and from then on
   * every attempt of every call throws, so nothing the invocation does after that point reaches AWS.
   */
  private enforceKill(operationId: string | undefined): void {
    const invocation = lambdaInvocations.getStore();
    if (!invocation) return;
    if (invocation.killedBy) throw invocation.killedBy;
    const { killRate, killAfterCalls } = this.current;
    let state = this.invocations.get(invocation);
    if (!state) {
      state = { doomed: killRate > 0 && this.random.invocationsKilled() < killRate, operations: new Set() };
      this.invocations.set(invocation, state);
    }
    const id = operationId ?? randomUUID();
    if (!state.doomed || state.operations.has(id)) return;
    state.operations.add(id);
    if (state.operations.size <= killAfterCalls) return;
    this.counts.invocationsKilled += 1;
    invocation.kill(new InvocationKilledError(`Lambda invocation killed by fault injection after ${killAfterCalls} AWS SDK call(s)`));
    throw invocation.killedBy;
  }
}
