import type { AwsCredentialIdentity, NodeHttpHandlerOptions } from '@smithy/types';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Log } from './log';
import * as z from './zod';

/**
 * The environment contract of every Relaymesh Lambda. The CDK stacks set these variables on
 * each function; the local cloud builds the same map per region and calls `runtimeFromEnv`,
 * so a handler runs the same code in both places. The AWS_ENDPOINT_URL_* names are the SDK's
 * own service-specific endpoint variables; on AWS they are unset.
 */
export const RuntimeEnvSchema = z.object({
  AWS_REGION: z.string().check(z.minLength(1)),
  CONNECTIONS_TABLE: z.string().check(z.minLength(1)),
  SUBSCRIPTIONS_TABLE: z.string().check(z.minLength(1)),
  PRESENCE_TABLE: z.string().check(z.minLength(1)),
  SEQUENCES_TABLE: z.string().check(z.minLength(1)),
  HISTORY_TABLE: z.string().check(z.minLength(1)),
  DEDUP_TABLE: z.string().check(z.minLength(1)),
  /** Every active region, comma-separated: recovery and presence read all their origins. */
  REGIONS: z.pipe(
    z.string().check(z.regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/, 'must be a comma-separated list of regions')),
    z.transform((s: string) => s.split(',')),
  ),
  HISTORY_TTL_SECONDS: z._default(z.coerce.number().check(z.int(), z.positive()), 24 * 3600),
  HISTORY_MAX_PER_CHANNEL: z._default(z.coerce.number().check(z.int(), z.positive()), 1000),
  MAX_REPLAY: z._default(z.coerce.number().check(z.int(), z.positive()), 1000),
  DEDUP_WINDOW_SECONDS: z._default(z.coerce.number().check(z.int(), z.positive()), 3600),
  REPLICATION_WAIT_MS: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 2000),
  /** Age past which a message has replicated everywhere, so a gap below it expired. */
  HISTORY_SETTLE_SECONDS: z._default(z.coerce.number().check(z.int(), z.positive()), 30),
  /** Longest one PostToConnection may take, SDK retries included. */
  POST_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive()), 3000),
  /** Largest coalesced batch frame: API Gateway's frame size. */
  MAX_BATCH_FRAME_BYTES: z._default(z.coerce.number().check(z.int(), z.minimum(1024)), 32 * 1024),
  /** Largest WebSocket message API Gateway carries: a history page is capped by it. */
  MAX_MESSAGE_BYTES: z._default(z.coerce.number().check(z.int(), z.minimum(1024)), 128 * 1024),
  /** Seconds before a record whose post failed is delivered again. */
  RETRY_DELAY_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(900)), 2),
  /** Delivery worker only: its queue, to bring failed records back within seconds. */
  QUEUE_URL: z.optional(z.url()),
  /** This region's fan-out topic. */
  TOPIC_ARN: z.string().check(z.startsWith('arn:')),
  /** The WebSocket API's management endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}). */
  CONNECTIONS_ENDPOINT: z.url(),
  /** Largest serialized publish `data`, bytes. */
  MAX_PUBLISH_DATA_BYTES: z._default(z.coerce.number().check(z.int(), z.positive()), 32 * 1024),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: z._default(z.coerce.number().check(z.int(), z.positive()), 100),
  /** Per-connection token bucket for every frame but ping: average rate and burst. */
  REQUESTS_PER_SECOND: z._default(z.coerce.number().check(z.positive()), 20),
  REQUEST_BURST: z._default(z.coerce.number().check(z.int(), z.positive()), 40),
  /** Subscribes with `since` replaying at once in one region. */
  MAX_CONCURRENT_REPLAYS: z._default(z.coerce.number().check(z.int(), z.positive()), 100),
  /** Connection items expire this long after connect (API Gateway's 2-hour cap plus slack). */
  CONNECTION_TTL_SECONDS: z._default(z.coerce.number().check(z.int(), z.positive()), 3 * 3600),
  /** PostToConnection calls in flight per delivery worker invocation. */
  DELIVERY_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.positive()), 32),
  /** Delivery worker only: the event class its queue carries, and that class's TTL (0 = none). */
  EVENT_CLASS: z.optional(z.enum(['critical', 'ephemeral'])),
  EVENT_TTL_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 0),
  /** Tokens must carry `exp`, at most this long after `iat`; clocks may differ by the tolerance. */
  TOKEN_MAX_LIFETIME_SECONDS: z._default(z.coerce.number().check(z.int(), z.positive()), 24 * 3600),
  TOKEN_CLOCK_TOLERANCE_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 30),
  /** Authorizer: the HS256 secret itself (local cloud) or the Secrets Manager secret holding it (AWS). */
  JWT_SECRET: z.optional(z.string().check(z.minLength(32))),
  JWT_SECRET_ARN: z.optional(z.string().check(z.startsWith('arn:'))),
  /** Edge only: this region's public WebSocket URL, and the SSM parameter whose value "true" drains the region. */
  WEBSOCKET_URL: z.optional(z.string().check(z.regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL'))),
  DRAIN_PARAMETER_NAME: z.optional(z.string().check(z.minLength(1))),
  /** Set by Lambda itself; the local cloud sets its own so DynamoDB Local sees one account. */
  AWS_ACCESS_KEY_ID: z.optional(z.string().check(z.minLength(1))),
  AWS_SECRET_ACCESS_KEY: z.optional(z.string().check(z.minLength(1))),
  AWS_SESSION_TOKEN: z.optional(z.string().check(z.minLength(1))),
  AWS_ENDPOINT_URL_DYNAMODB: z.optional(z.url()),
  AWS_ENDPOINT_URL_SNS: z.optional(z.url()),
  AWS_ENDPOINT_URL_SQS: z.optional(z.url()),
});

export type RuntimeEnv = z.output<typeof RuntimeEnvSchema>;

/** The AWS clients a handler may use; each function's runtime holds only those it needs. */
export interface AwsClients {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly connections: ApiGatewayManagementApiClient;
  readonly sqs: SQSClient;
}
export type ClientName = keyof AwsClients;

/**
 * What every core module receives: its configuration and the AWS clients named by `C`,
 * nothing global. A function builds only its own clients, so its bundle holds only theirs.
 */
export type Runtime<C extends ClientName = never> = {
  readonly env: RuntimeEnv;
  readonly region: string;
  /** Where the core logs (./log.ts says what each line carries). */
  readonly log: Log;
} & Pick<AwsClients, C>;

/**
 * The runtime of a function that reports metrics (the delivery worker, the message router).
 * Only those get a MetricsSink, so the other functions' bundles leave Powertools Metrics out.
 */
export type MeteredRuntime<C extends ClientName = never> = Runtime<C> & {
  readonly metrics: MetricsSink;
};

/** The CloudWatch namespace of every metric the handlers report (the dashboards read it too). */
export const METRICS_NAMESPACE = 'Relaymesh';

/** The CloudWatch units of the metrics the handlers report. */
export type MetricUnit = 'Count' | 'Milliseconds';

/** One metric of a report: its unit and its values (several, e.g. one per event, give CloudWatch their distribution; at most 100). */
export interface Measurement {
  readonly unit: MetricUnit;
  readonly values: readonly number[];
}

export const count = (value: number): Measurement => ({ unit: 'Count', values: [value] });
export const milliseconds = (values: readonly number[]): Measurement => ({ unit: 'Milliseconds', values });

/**
 * Port: where handlers report metrics. One call is one report: its measurements, by metric
 * name, under its dimensions (CloudWatch tells metrics apart by name and the whole dimension
 * set, so a name is always reported with the same dimension names). In METRICS_NAMESPACE, as
 * CloudWatch Embedded Metric Format on Lambda (lambdas/metrics.ts), written before the call
 * returns; the local cloud totals the counts. A call neither throws nor waits.
 */
export type MetricsSink = (dimensions: Readonly<Record<string, string>>, measurements: Readonly<Record<string, Measurement>>) => void;

/** Adds a report's Count metrics to running totals by name: the local stand-in for CloudWatch's Sum. */
export function addCounts(totals: Record<string, number>, measurements: Readonly<Record<string, Measurement>>): void {
  for (const [name, { unit, values }] of Object.entries(measurements)) {
    if (unit === 'Count') totals[name] = values.reduce((sum, value) => sum + value, totals[name] ?? 0);
  }
}

export function parseRuntimeEnv(env: Record<string, string | undefined>): RuntimeEnv {
  const parsed = RuntimeEnvSchema.safeParse(env);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Relaymesh Lambda environment is invalid: ${fields}`);
  }
  return parsed.data;
}

/** What every client of a runtime shares; the client's factory adds its endpoint and sockets. */
export interface ClientContext {
  readonly env: RuntimeEnv;
  /** The SDK client configuration for `endpoint` (undefined: AWS's own) and `maxSockets` sockets. */
  config(endpoint: string | undefined, maxSockets?: number): SharedClientConfig;
}

export interface SharedClientConfig {
  readonly region: string;
  readonly credentials?: AwsCredentialIdentity;
  readonly endpoint?: string;
  readonly requestHandler: DynamoDBClientConfig['requestHandler'];
}

/** Builds one AWS client of a runtime (lambdas/core/aws-clients.ts). */
export type ClientFactory<T> = (context: ClientContext) => T;

export interface RuntimeOptions {
  /** The function's own logger: lambdas/powertools.ts on Lambda and in the local cloud. */
  readonly log: Log;
  /** For a function that reports metrics: Powertools Metrics on Lambda (lambdas/metrics.ts), counters in the local cloud. */
  readonly metrics?: MetricsSink;
  /**
   * Local cloud only: turns the HTTP options of a client into its request handler (the fault
   * injector's); on AWS the client gets the options themselves.
   */
  readonly requestHandler?: (options: NodeHttpHandlerOptions) => DynamoDBClientConfig['requestHandler'];
}

/**
 * A connection attempt fails after 1 s and a request after 3 s (the SDK then retries it): a
 * frozen dependency fails the call instead of holding a publish until API Gateway's 29 s limit.
 */
export const CONNECTION_TIMEOUT_MS = 1000;
export const REQUEST_TIMEOUT_MS = 3000;
/** The SDK's own default; the @connections client gets the delivery concurrency instead. */
export const DEFAULT_MAX_SOCKETS = 50;

/** The HTTP options of every Lambda SDK client: the timeouts above and keep-alive sockets. */
export function httpHandlerOptions(maxSockets: number): NodeHttpHandlerOptions {
  const agent = { keepAlive: true, maxSockets };
  return {
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
    httpAgent: agent,
    httpsAgent: agent,
  };
}

/**
 * The runtime of one function: its env parsed, and one client per factory given, e.g.
 * `runtimeFromEnv(process.env, { dynamo: dynamoClient }, options)`; metered when the options
 * carry metrics. The local cloud passes every factory.
 */
export function runtimeFromEnv<C extends ClientName>(
  rawEnv: Record<string, string | undefined>,
  factories: { readonly [K in C]: ClientFactory<AwsClients[K]> },
  options: RuntimeOptions & { readonly metrics: MetricsSink },
): MeteredRuntime<C>;
export function runtimeFromEnv<C extends ClientName>(
  rawEnv: Record<string, string | undefined>,
  factories: { readonly [K in C]: ClientFactory<AwsClients[K]> },
  options: RuntimeOptions,
): Runtime<C>;
export function runtimeFromEnv<C extends ClientName>(
  rawEnv: Record<string, string | undefined>,
  factories: { readonly [K in C]: ClientFactory<AwsClients[K]> },
  options: RuntimeOptions,
): Runtime<C> | MeteredRuntime<C> {
  const env = parseRuntimeEnv(rawEnv);
  const region = env.AWS_REGION;
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN }
      : undefined;
  const toHandler = options.requestHandler ?? ((httpOptions) => httpOptions);
  const context: ClientContext = {
    env,
    config: (endpoint, maxSockets = DEFAULT_MAX_SOCKETS) => ({ region, credentials, endpoint, requestHandler: toHandler(httpHandlerOptions(maxSockets)) }),
  };
  const clients = Object.fromEntries(
    Object.entries<ClientFactory<unknown>>(factories).map(([name, factory]) => [name, factory(context)]),
  ) as Pick<AwsClients, C>;
  return { env, region, log: options.log, ...(options.metrics && { metrics: options.metrics }), ...clients };
}
