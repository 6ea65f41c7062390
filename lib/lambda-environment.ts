import { connectionsTable, dedupTable, historyTable, physicalTableName, presenceTable, sequencesTable, subscriptionsTable } from '../lambdas/core/tables';
import type { RelaymeshConfig } from './config';

/**
 * The part of every Lambda's environment (lambdas/core/runtime.ts) that follows from the
 * config alone. The CDK region stack and the local cloud both start from it and add what
 * only they know (topic ARN, @connections endpoint, secret, local endpoints).
 */
export function configEnvironment(
  config: RelaymeshConfig,
  /** Prefix of the table names; the CDK stacks pass the deployed one (appName plus nameSuffix). */
  tablePrefix: string = config.appName,
): Record<string, string> {
  const { limits, recovery } = config;
  return {
    CONNECTIONS_TABLE: physicalTableName(tablePrefix, connectionsTable),
    SUBSCRIPTIONS_TABLE: physicalTableName(tablePrefix, subscriptionsTable),
    PRESENCE_TABLE: physicalTableName(tablePrefix, presenceTable),
    SEQUENCES_TABLE: physicalTableName(tablePrefix, sequencesTable),
    HISTORY_TABLE: physicalTableName(tablePrefix, historyTable),
    DEDUP_TABLE: physicalTableName(tablePrefix, dedupTable),
    REGIONS: config.regions.join(','),
    MAX_PUBLISH_DATA_BYTES: String(limits.maxPublishDataBytes),
    MAX_SUBSCRIPTIONS_PER_CONNECTION: String(limits.maxSubscriptionsPerConnection),
    // API Gateway closes every socket within maxConnectionSeconds; an hour of slack covers a lost $disconnect.
    CONNECTION_TTL_SECONDS: String(limits.maxConnectionSeconds + 3600),
    DELIVERY_CONCURRENCY: String(limits.deliveryConcurrency),
    REQUESTS_PER_SECOND: String(limits.requestsPerSecond),
    REQUEST_BURST: String(limits.requestBurst),
    MAX_CONCURRENT_REPLAYS: String(limits.maxConcurrentReplays),
    HISTORY_TTL_SECONDS: String(recovery.historyTtlHours * 3600),
    HISTORY_MAX_PER_CHANNEL: String(recovery.historyMaxPerChannel),
    MAX_REPLAY: String(recovery.maxReplay),
    DEDUP_WINDOW_SECONDS: String(recovery.dedupWindowSeconds),
    REPLICATION_WAIT_MS: String(recovery.replicationWaitMs),
    HISTORY_SETTLE_SECONDS: String(recovery.historySettleSeconds),
    TOKEN_MAX_LIFETIME_SECONDS: String(config.auth.maxTokenLifetimeSeconds),
    TOKEN_CLOCK_TOLERANCE_SECONDS: String(config.auth.clockToleranceSeconds),
    MAX_BATCH_FRAME_BYTES: String(limits.maxFrameBytes),
    MAX_MESSAGE_BYTES: String(limits.maxMessageBytes),
  };
}
