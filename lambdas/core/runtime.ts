import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';

/**
 * The environment contract of every Relaymesh Lambda. The CDK stacks set these variables on
 * each function; the local cloud builds the same map per region and calls `runtimeFromEnv`,
 * so a handler runs the same code in both places. The AWS_ENDPOINT_URL_* names are the SDK's
 * own service-specific endpoint variables; on AWS they are unset.
 */
export const RuntimeEnvSchema = z.object({
  AWS_REGION: z.string().min(1),
  CONNECTIONS_TABLE: z.string().min(1),
  SUBSCRIPTIONS_TABLE: z.string().min(1),
  SEQUENCES_TABLE: z.string().min(1),
  HISTORY_TABLE: z.string().min(1),
  DEDUP_TABLE: z.string().min(1),
  /** Every active region, comma-separated: recovery and presence read all their origins. */
  REGIONS: z.string().regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/, 'must be a comma-separated list of regions').transform((s) => s.split(',')),
  HISTORY_TTL_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
  HISTORY_MAX_PER_CHANNEL: z.coerce.number().int().positive().default(1000),
  MAX_REPLAY: z.coerce.number().int().positive().default(1000),
  DEDUP_WINDOW_SECONDS: z.coerce.number().int().positive().default(3600),
  REPLICATION_WAIT_MS: z.coerce.number().int().min(0).default(2000),
  /** Age past which a message has replicated everywhere, so a gap below it expired. */
  HISTORY_SETTLE_SECONDS: z.coerce.number().int().positive().default(30),
  /** Longest one PostToConnection may take, SDK retries included. */
  POST_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  /** Largest coalesced batch frame: API Gateway's frame size. */
  MAX_BATCH_FRAME_BYTES: z.coerce.number().int().min(1024).default(32 * 1024),
  /** Seconds before a record whose post failed is delivered again. */
  RETRY_DELAY_SECONDS: z.coerce.number().int().min(0).max(900).default(2),
  /** Delivery worker only: its queue, to bring failed records back within seconds. */
  QUEUE_URL: z.url().optional(),
  /** This region's fan-out topic. */
  TOPIC_ARN: z.string().startsWith('arn:'),
  /** The WebSocket API's management endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}). */
  CONNECTIONS_ENDPOINT: z.url(),
  /** Largest serialized publish `data`, bytes. */
  MAX_PUBLISH_DATA_BYTES: z.coerce.number().int().positive().default(32 * 1024),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().positive().default(100),
  /** Per-connection token bucket for every frame but ping: average rate and burst. */
  REQUESTS_PER_SECOND: z.coerce.number().positive().default(20),
  REQUEST_BURST: z.coerce.number().int().positive().default(40),
  /** Subscribes with `since` replaying at once in one region. */
  MAX_CONCURRENT_REPLAYS: z.coerce.number().int().positive().default(100),
  /** Connection items expire this long after connect (API Gateway's 2-hour cap plus slack). */
  CONNECTION_TTL_SECONDS: z.coerce.number().int().positive().default(3 * 3600),
  /** PostToConnection calls in flight per delivery worker invocation. */
  DELIVERY_CONCURRENCY: z.coerce.number().int().positive().default(32),
  /** Delivery worker only: the event class its queue carries, and that class's TTL (0 = none). */
  EVENT_CLASS: z.enum(['critical', 'ephemeral']).optional(),
  EVENT_TTL_SECONDS: z.coerce.number().int().min(0).default(0),
  /** Tokens must carry `exp`, at most this long after `iat`; clocks may differ by the tolerance. */
  TOKEN_MAX_LIFETIME_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
  TOKEN_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).default(30),
  /** Authorizer: the HS256 secret itself (local cloud) or the Secrets Manager secret holding it (AWS). */
  JWT_SECRET: z.string().min(32).optional(),
  JWT_SECRET_ARN: z.string().startsWith('arn:').optional(),
  /** Edge only: this region's public WebSocket URL, and the SSM parameter whose value "true" drains the region. */
  WEBSOCKET_URL: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional(),
  DRAIN_PARAMETER_NAME: z.string().min(1).optional(),
  /** Set by Lambda itself; the local cloud sets its own so DynamoDB Local sees one account. */
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  AWS_ENDPOINT_URL_DYNAMODB: z.url().optional(),
  AWS_ENDPOINT_URL_SNS: z.url().optional(),
  AWS_ENDPOINT_URL_SQS: z.url().optional(),
});

export type RuntimeEnv = z.output<typeof RuntimeEnvSchema>;

/** What every core module receives: its configuration and its AWS clients, nothing global. */
export interface Runtime {
  readonly env: RuntimeEnv;
  readonly region: string;
  readonly dynamo: DynamoDBDocumentClient;
  readonly sns: SNSClient;
  readonly connections: ApiGatewayManagementApiClient;
  /** Where handlers report counters: CloudWatch Embedded Metric Format on Lambda. */
  readonly metrics: MetricsSink;
}

export type MetricsSink = (dimensions: Record<string, string>, values: Record<string, number>) => void;

/** CloudWatch Embedded Metric Format: a log line that becomes metrics without an API call. */
export const embeddedMetricFormat: MetricsSink = (dimensions, values) => {
  console.log(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          { Namespace: 'Relaymesh', Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Count' })) },
        ],
      },
      ...dimensions,
      ...values,
    }),
  );
};

export function parseRuntimeEnv(env: Record<string, string | undefined>): RuntimeEnv {
  const parsed = RuntimeEnvSchema.safeParse(env);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Relaymesh Lambda environment is invalid: ${fields}`);
  }
  return parsed.data;
}

/**
 * `clientConfig` is for the local cloud only (its fault-injecting request handler, shared by the
 * three clients); on AWS it is absent and each client keeps the SDK's default.
 */
export function runtimeFromEnv(
  rawEnv: Record<string, string | undefined>,
  metrics: MetricsSink = embeddedMetricFormat,
  clientConfig?: { requestHandler?: DynamoDBClientConfig['requestHandler'] },
): Runtime {
  const env = parseRuntimeEnv(rawEnv);
  const region = env.AWS_REGION;
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN }
      : undefined;
  return {
    env,
    region,
    dynamo: DynamoDBDocumentClient.from(
      new DynamoDBClient({ region, credentials, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, ...clientConfig }),
      { marshallOptions: { removeUndefinedValues: true } },
    ),
    sns: new SNSClient({ region, credentials, endpoint: env.AWS_ENDPOINT_URL_SNS, ...clientConfig }),
    connections: new ApiGatewayManagementApiClient({ region, credentials, endpoint: env.CONNECTIONS_ENDPOINT, ...clientConfig }),
    metrics,
  };
}
