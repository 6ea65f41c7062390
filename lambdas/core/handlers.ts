import type { ALBEvent, ALBResult, APIGatewayProxyResultV2, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { Admission } from './admission';
import { claimsFromContext } from './auth';
import { jwtSecret, tokenPolicy } from './authorizer-handler';
import { ConnectionStore } from './connection-store';
import { deliverBatch } from './delivery-worker';
import { handleEdgeRequest } from './edge';
import { routeMessage, type RouterEvent } from './message-router';
import { ChangeMessageVisibilityBatchCommand } from '@aws-sdk/client-sqs';
import { MessageHistory } from './history';
import { loggedInvocations } from './log';
import { apiGatewayPoster } from './poster';
import { PublishClaims } from './publish-claim';
import { publishPresence, type PublisherOptions } from './publisher';
import type { RetryScheduler } from './delivery-worker';
import { count, milliseconds, type MeteredRuntime, type Runtime } from './runtime';

/**
 * Builds each Lambda handler from a Runtime holding the clients it uses. `lambdas/<name>.ts`
 * calls these with the runtime made from `process.env`; the local cloud with a runtime per
 * region. The authorizer's is in ./authorizer-handler, so its bundle holds no DynamoDB code.
 */

/** The part of a WebSocket CONNECT/DISCONNECT event these handlers read. */
export interface ConnectionEvent {
  requestContext: { connectionId: string; authorizer?: unknown };
}

function connectionStore(runtime: Runtime<'dynamo'>): ConnectionStore {
  const { env } = runtime;
  return new ConnectionStore({
    dynamo: runtime.dynamo,
    region: runtime.region,
    connectionsTableName: env.CONNECTIONS_TABLE,
    subscriptionsTableName: env.SUBSCRIPTIONS_TABLE,
    presenceTableName: env.PRESENCE_TABLE,
    connectionTtlSeconds: env.CONNECTION_TTL_SECONDS,
    maxSubscriptionsPerConnection: env.MAX_SUBSCRIPTIONS_PER_CONNECTION,
  });
}

/** What the invocation line of a connection's handlers says of the event. */
const connectionOf = (event: { requestContext: { connectionId: string } }) => ({ connectionId: event.requestContext.connectionId });

export function createConnectHandler(runtime: Runtime<'dynamo'>) {
  const store = connectionStore(runtime);
  return loggedInvocations(
    runtime.log,
    async (event: ConnectionEvent): Promise<APIGatewayProxyResultV2> => {
      const claims = claimsFromContext(event.requestContext.authorizer);
      await store.register(event.requestContext.connectionId, claims.sub);
      return { statusCode: 200 };
    },
    connectionOf,
  );
}

export function createDisconnectHandler(runtime: Runtime<'dynamo' | 'sns'>) {
  const store = connectionStore(runtime);
  const publisher = { sns: runtime.sns, topicArn: runtime.env.TOPIC_ARN, region: runtime.region };
  return loggedInvocations(
    runtime.log,
    async (event: ConnectionEvent): Promise<APIGatewayProxyResultV2> => {
      const { connectionId } = event.requestContext;
      const connection = await store.remove(connectionId);
      for (const channel of connection?.presenceChannels ?? []) {
        await publishPresence(publisher, channel, 'leave', { sub: connection!.sub, connectionId, region: runtime.region });
      }
      return { statusCode: 200 };
    },
    connectionOf,
  );
}

function messageHistory(runtime: Runtime<'dynamo'>): MessageHistory {
  const { env } = runtime;
  return new MessageHistory({
    dynamo: runtime.dynamo,
    sequencesTableName: env.SEQUENCES_TABLE,
    historyTableName: env.HISTORY_TABLE,
    ttlSeconds: env.HISTORY_TTL_SECONDS,
    maxPerChannel: env.HISTORY_MAX_PER_CHANNEL,
  });
}

/** Past this a pending claim's attempt is presumed dead and a retry may take the id over. */
const PUBLISH_CLAIM_LEASE_MS = 5_000;
/** API Gateway ends a route integration at 29 s: a replay hands over within 20 s ... */
const REPLAY_BUDGET_MS = 20_000;
/** ... and workers stop holding messages back for a replay that died after 35 s. */
const REPLAY_LEASE_MS = 35_000;

function publishClaims(runtime: Runtime<'dynamo'>): PublishClaims {
  const { env } = runtime;
  return new PublishClaims({ dynamo: runtime.dynamo, dedupTableName: env.DEDUP_TABLE, windowSeconds: env.DEDUP_WINDOW_SECONDS, pendingLeaseMs: PUBLISH_CLAIM_LEASE_MS });
}

/** Shortens the visibility of failed records, so SQS brings them back within seconds. */
function visibilityRetry({ sqs }: Runtime<'sqs'>, queueUrl: string): RetryScheduler {
  return {
    async retryAfter(records, delaySeconds) {
      for (let i = 0; i < records.length; i += 10) {
        const entries = records.slice(i, i + 10).map((record, k) => ({ Id: String(k), ReceiptHandle: record.receiptHandle, VisibilityTimeout: delaySeconds }));
        await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      }
    },
  };
}

function publisherOptions(runtime: Runtime<'dynamo' | 'sns'>): PublisherOptions {
  return {
    sns: runtime.sns,
    topicArn: runtime.env.TOPIC_ARN,
    region: runtime.region,
    maxPublishDataBytes: runtime.env.MAX_PUBLISH_DATA_BYTES,
    history: messageHistory(runtime),
    claims: publishClaims(runtime),
    log: runtime.log,
  };
}

export function createMessageRouterHandler(runtime: MeteredRuntime<'dynamo' | 'sns' | 'connections'>) {
  const { env } = runtime;
  const store = connectionStore(runtime);
  const publisher = publisherOptions(runtime);
  const retention = { historySettleMs: env.HISTORY_SETTLE_SECONDS * 1000, historyMaxPerChannel: env.HISTORY_MAX_PER_CHANNEL };
  const deps = {
    store,
    publisher,
    admission: new Admission({
      dynamo: runtime.dynamo,
      region: runtime.region,
      connectionsTableName: env.CONNECTIONS_TABLE,
      requestsPerSecond: env.REQUESTS_PER_SECOND,
      requestBurst: env.REQUEST_BURST,
      maxConcurrentReplays: env.MAX_CONCURRENT_REPLAYS,
      replaySlotLeaseMs: REPLAY_LEASE_MS,
    }),
    recovery: {
      store,
      history: publisher.history,
      poster: apiGatewayPoster(runtime.connections, env.CONNECTIONS_ENDPOINT, env.POST_TIMEOUT_MS),
      regions: env.REGIONS,
      maxReplay: env.MAX_REPLAY,
      replicationWaitMs: env.REPLICATION_WAIT_MS,
      ...retention,
      replayLeaseMs: REPLAY_LEASE_MS,
      replayBudgetMs: REPLAY_BUDGET_MS,
      log: runtime.log,
      metrics: runtime.metrics,
    },
    log: runtime.log,
    history: { history: publisher.history, regions: env.REGIONS, ...retention, maxMessageBytes: env.MAX_MESSAGE_BYTES },
  };
  return loggedInvocations(runtime.log, (event: RouterEvent): Promise<APIGatewayProxyResultV2> => routeMessage(deps, event), connectionOf);
}

export function createDeliveryWorkerHandler(runtime: MeteredRuntime<'dynamo' | 'connections' | 'sqs'>) {
  const { env } = runtime;
  if (!env.EVENT_CLASS) throw new Error('Relaymesh Lambda environment is invalid: the delivery worker needs EVENT_CLASS');
  const eventClass = env.EVENT_CLASS;
  const deps = {
    region: runtime.region,
    store: connectionStore(runtime),
    poster: apiGatewayPoster(runtime.connections, env.CONNECTIONS_ENDPOINT, env.POST_TIMEOUT_MS),
    history: messageHistory(runtime),
    ttlSeconds: env.EVENT_TTL_SECONDS,
    concurrency: env.DELIVERY_CONCURRENCY,
    maxBatchFrameBytes: env.MAX_BATCH_FRAME_BYTES,
    retryDelaySeconds: env.RETRY_DELAY_SECONDS,
    ...(env.QUEUE_URL && { retry: visibilityRetry(runtime, env.QUEUE_URL) }),
    log: runtime.log,
  };
  return loggedInvocations(
    runtime.log,
    async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const { stats, publishToPostMs, batchItemFailures } = await deliverBatch(deps, event);
      const counts = Object.fromEntries(Object.entries(stats).map(([name, value]) => [name, count(value)]));
      runtime.metrics({ EventClass: eventClass }, { ...counts, publishToPost: milliseconds(publishToPostMs) });
      return { batchItemFailures };
    },
    (event) => ({ records: event.Records.length }),
  );
}

/**
 * The HTTP edge. On AWS the drain switch is an SSM parameter (cached 5 s so a health-check
 * storm does not become an SSM storm); the local cloud passes its own switch.
 */
export function createEdgeHandler(runtime: Runtime<'dynamo' | 'sns'>, isDrained?: () => Promise<boolean>) {
  const { env } = runtime;
  if (!env.WEBSOCKET_URL) throw new Error('Relaymesh Lambda environment is invalid: the edge needs WEBSOCKET_URL');
  const drainParameter = env.DRAIN_PARAMETER_NAME;
  const deps = {
    region: runtime.region,
    websocketUrl: env.WEBSOCKET_URL,
    dynamo: runtime.dynamo,
    connectionsTableName: env.CONNECTIONS_TABLE,
    sns: runtime.sns,
    publisher: publisherOptions(runtime),
    secret: jwtSecret(runtime),
    tokenPolicy: tokenPolicy(runtime),
    isDrained:
      isDrained ?? (async () => (drainParameter ? (await getParameter(drainParameter, { maxAge: 5 })) === 'true' : false)),
    log: runtime.log,
  };
  return loggedInvocations(runtime.log, (event: ALBEvent): Promise<ALBResult> => handleEdgeRequest(deps, event), (event) => ({ route: `${event.httpMethod} ${event.path}` }));
}
