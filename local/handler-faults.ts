/**
 * The faults a function's own AWS calls get (faults.ts says which faults there are and why):
 * a request handler for its SDK clients answers chosen DynamoDB and SNS operations with
 * synthetic service errors and fails every call of a killed invocation. It runs where the
 * function runs, in the function's thread (function-sandbox.ts), and holds only the schedule:
 * the cloud's FaultInjector checks the settings, hands them to every function and sums the counts.
 *
 * A fault is decided per operation, not per HTTP attempt: the SDK retries throttles and server
 * errors, so a fault drawn per attempt would almost never survive the retries. Every attempt of
 * an operation carries the same `amz-sdk-invocation-id`; the first one draws, the rest follow.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { NodeHttpHandlerOptions } from '@smithy/types';
import { currentInvocation, type LambdaInvocation } from './lambda-function';

/**
 * What `stats()` counts: operations failed (not HTTP attempts), invocations killed, and jumps of
 * the replication lag.
 */
export const FAULT_KINDS = ['postsThrottled', 'snsPublishesFailed', 'dynamodbOperationsFailed', 'invocationsKilled', 'replicationLagJumps'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultStats = Record<FaultKind, number>;
export const noFaultsInjected = (): FaultStats => Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as FaultStats;

/** The settings (faults.ts FaultSettingsSchema) of the faults a function's own calls get. */
export interface HandlerFaultSettings {
  readonly snsFailureRate: number;
  readonly dynamodbFailureRate: number;
  /** Empty means every operation. */
  readonly dynamodbOperations: readonly string[];
  readonly killRate: number;
  readonly killAfterCalls: number;
}

/** Enough to cover every operation still being retried, so memory stays flat however long the cloud runs. */
const MAX_DECIDED_OPERATIONS = 10_000;
const SNS_PUBLISH_ACTIONS = new Set(['Publish', 'PublishBatch']);
/** The service in a SigV4 credential scope: Credential=KEY/DATE/REGION/SERVICE/aws4_request. */
const SIGNING_SERVICE = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/;

/** mulberry32: tiny, fast and good enough to make a fault schedule (or a fuzz run) reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seed of one scope (a function of a region) of a cloud's fault schedule: FNV-1a of the scope, mixed with the seed. */
export function scopedSeed(seed: number, scope: string): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < scope.length; i += 1) hash = Math.imul(hash ^ scope.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** A fault schedule from a seed: what is drawn, and what was injected. */
export class FaultDraws {
  /** One stream per kind, so turning one fault on does not reshuffle another's schedule. */
  private readonly streams: Record<FaultKind, () => number>;
  private readonly counts: FaultStats;
  /** Operation id → whether it fails; insertion order makes the oldest the first to forget. */
  private readonly decided = new Map<string, boolean>();

  constructor(seed: number) {
    this.streams = Object.fromEntries(FAULT_KINDS.map((kind, i) => [kind, seededRandom(seed + (i + 1) * 0x9e3779b9)])) as Record<FaultKind, () => number>;
    this.counts = noFaultsInjected();
  }

  /** The next number in [0, 1) of the kind's stream. */
  random(kind: FaultKind): number {
    return this.streams[kind]();
  }

  count(kind: FaultKind): void {
    this.counts[kind] += 1;
  }

  stats(): FaultStats {
    return { ...this.counts };
  }

  /**
   * Whether the operation fails: drawn at its first attempt, remembered for its retries. Without
   * an operation id (a caller that is not the SDK) each attempt draws. Rate 0 is off at once,
   * even for an operation drawn to fail before.
   */
  decide(kind: FaultKind, rate: number, operationId: string | undefined): boolean {
    if (rate === 0) return false;
    let fails = operationId === undefined ? undefined : this.decided.get(operationId);
    if (fails === undefined) {
      fails = this.random(kind) < rate;
      if (fails) this.count(kind);
      if (operationId !== undefined) this.decided.set(operationId, fails);
      if (this.decided.size > MAX_DECIDED_OPERATIONS) this.decided.delete(this.decided.keys().next().value!);
    }
    return fails;
  }
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

/** Until the cloud's FaultInjector attaches a function's faults and hands it the settings. */
const NO_FAULTS: HandlerFaultSettings = { snsFailureRate: 0, dynamodbFailureRate: 0, dynamodbOperations: [], killRate: 0, killAfterCalls: 0 };

/** A function's fault injection (faults.ts HandlerFaultsTarget): off until the cloud's FaultInjector sets it. */
export class HandlerFaults {
  private current = NO_FAULTS;
  private readonly draws: FaultDraws;
  private readonly invocations = new WeakMap<LambdaInvocation, InvocationState>();

  constructor(seed: number) {
    this.draws = new FaultDraws(seed);
  }

  /** Takes effect for the next operation. */
  set(settings: HandlerFaultSettings): void {
    this.current = settings;
  }

  stats(): FaultStats {
    return this.draws.stats();
  }

  /** A request handler for one SDK client of a handler runtime, with the HTTP options it would get on Lambda. */
  requestHandler(options?: NodeHttpHandlerOptions): NodeHttpHandler {
    return new InterceptingHttpHandler((request) => this.intercept(request), options);
  }

  private intercept(request: HttpRequest): HttpResponse | undefined {
    const operationId = header(request.headers, 'amz-sdk-invocation-id');
    this.enforceKill(operationId);
    const service = SIGNING_SERVICE.exec(header(request.headers, 'authorization') ?? '')?.[1];
    if (service === 'dynamodb') {
      const { dynamodbFailureRate, dynamodbOperations } = this.current;
      const operation = header(request.headers, 'x-amz-target')?.split('.')[1] ?? '';
      const listed = dynamodbOperations.length === 0 || dynamodbOperations.includes(operation);
      if (listed && this.draws.decide('dynamodbOperationsFailed', dynamodbFailureRate, operationId)) return dynamodbThrottle();
    }
    if (service === 'sns' && this.current.snsFailureRate > 0) {
      const publishes = SNS_PUBLISH_ACTIONS.has(new URLSearchParams(bodyText(request.body)).get('Action') ?? '');
      if (publishes && this.draws.decide('snsPublishesFailed', this.current.snsFailureRate, operationId)) return snsInternalError();
    }
    return undefined;
  }

  /**
   * Inside a killable invocation: whether it is killed is drawn at its first call; a doomed one
   * is killed when it starts its (killAfterCalls + 1)th operation, and from then on every attempt
   * of every call throws, so nothing the invocation does after that point reaches AWS.
   */
  private enforceKill(operationId: string | undefined): void {
    const invocation = currentInvocation();
    if (!invocation?.killable) return;
    if (invocation.killedBy) throw invocation.killedBy;
    const { killRate, killAfterCalls } = this.current;
    let state = this.invocations.get(invocation);
    if (!state) {
      state = { doomed: killRate > 0 && this.draws.random('invocationsKilled') < killRate, operations: new Set() };
      this.invocations.set(invocation, state);
    }
    const id = operationId ?? randomUUID();
    if (!state.doomed || state.operations.has(id)) return;
    state.operations.add(id);
    if (state.operations.size <= killAfterCalls) return;
    this.draws.count('invocationsKilled');
    invocation.kill(new InvocationKilledError(`Lambda invocation killed by fault injection after ${killAfterCalls} AWS SDK call(s)`));
    throw invocation.killedBy;
  }
}
