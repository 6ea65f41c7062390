import { z } from 'zod';
import { GLOBAL_TABLES, TABLES, type TableLayout } from '../../lambdas/core/tables';
import { EVENT_CLASSES, type EventClass, type RelaymeshConfig } from '../../lib/config';
import { DELIVERY_MEMORY_KEY, deliveryWorkerMemoryMb } from '../../lib/worker-sizing';
import { count } from '../format';
import { HOURS_PER_MONTH, PRICES, PRICES_READ_ON, SECONDS_PER_MONTH } from './prices';

/**
 * The capacity and cost model of `relaymesh plan`, the usual one for real-time systems: derive from the
 * workload what each region must carry per second (connections, frames in, messages out =
 * fan-out × rate, bytes), size it at peak against every quota with the degradation levels'
 * thresholds, and price it at the average load. Pure: no I/O, every figure from the input,
 * the config, the price table and the assumptions below.
 */

const GIB = 1024 ** 3;
const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;

/** What the model estimates rather than derives; each is a mean, and a measured figure should replace it. */
export const ASSUMPTIONS = {
  /** JSON a delivered frame carries besides `data`: type, channel, id, origin, seq, ts, class. */
  envelopeBytes: 250,
  /** A history item besides its frame: keys, TTL. */
  historyItemOverheadBytes: 100,
  /** One subscriber as the fan-out Query returns it (README: "subscribers × ~100 B"). */
  subscriptionReadBytes: 100,
  /** Stored item sizes, for storage. */
  itemBytes: { connection: 300, subscription: 200, claim: 200 },
  /** One access log line of the WebSocket stage. */
  accessLogLineBytes: 300,
  /** GET /v1/connect and its answer through the accelerator, once per (re)connect. */
  edgeExchangeBytes: 2048,
  /** ALB target health checks of the edge Lambda: every 5 s (lib/regional-edge.ts) from each of the ALB's 2 nodes. */
  healthChecksPerSecond: 0.4,
  /** Empty long polls of the Lambda SQS pollers on a queue, idle (README, idle cost: ≈0.65 M a month). */
  idleReceivesPerQueuePerSecond: 650_000 / SECONDS_PER_MONTH,
  /** Mean Lambda durations, ms. */
  durationMs: {
    authorizer: 20,
    connect: 30,
    disconnect: 50,
    ping: 5,
    subscribe: 40,
    publishCritical: 60,
    publishEphemeral: 20,
    edge: 30,
    /** A delivery invocation besides its posts: the history BatchGet and the subscriber Query. */
    workerBase: 50,
    /** One PostToConnection round (limits.deliveryConcurrency posts run at once). */
    post: 20,
  },
  /** The edge ALB's public IPv4 addresses per region: one per AZ, 2 AZs (lib/regional-edge.ts). */
  albPublicIpv4Addresses: 2,
  /** X-Ray's default sampling, which Lambda active tracing applies per function: the first request each
   * second, then 5% of the rest (oneuptime.com/blog/post/2026-02-12-xray-sampling-rules). */
  xraySampling: { reservoirPerSecond: 1, rate: 0.05 },
};

/** Default AWS quotas, per Region. */
const QUOTAS = {
  /** Lambda concurrent executions (docs: lambda/latest/dg/gettingstarted-limits). */
  lambdaConcurrency: 1000,
  /** SQS standard queue, messages in flight (docs: SQSDeveloperGuide/quotas-queues). */
  sqsInFlightPerQueue: 120_000,
  /** DynamoDB on-demand, per table: read and write request units per second (docs: amazondynamodb Limits). */
  dynamodbTableUnitsPerSecond: 40_000,
};

/** Alarms each region's stack defines (lib/region-alarms.ts): DLQ and oldest message per class, three for
 * the fan-out subscriptions, errors and throttles per function, replication per table and other region, API errors. */
export function alarmsPerRegion(regionCount: number): number {
  const functions = 5 + EVENT_CLASSES.length; // authorizer, connect, disconnect, router, edge, a worker per class
  return EVENT_CLASSES.length * 2 + 3 + functions * 2 + GLOBAL_TABLES.length * (regionCount - 1) + 1;
}

export function planInputSchema(config: RelaymeshConfig) {
  const rate = z.number().min(0);
  return z
    .object({
      regions: z.array(z.string().min(1)).min(1).default(config.regions),
      /** Concurrent connections at peak, all regions together, spread evenly. */
      peakConnections: z.number().int().min(0).default(10_000),
      /** New connections: per second (all regions), or per connection and hour. */
      connectChurn: z
        .discriminatedUnion('per', [
          z.object({ per: z.literal('second'), connects: rate }).strict(),
          z.object({ per: z.literal('connection-hour'), connects: rate }).strict(),
        ])
        .default({ per: 'connection-hour', connects: 1 }),
      subscriptionsPerConnection: z
        .number()
        .min(0)
        .max(config.limits.maxSubscriptionsPerConnection, `must be at most limits.maxSubscriptionsPerConnection (${config.limits.maxSubscriptionsPerConnection})`)
        .default(2),
      /** Published messages per second at peak, all regions, by class. */
      messagesPerSecond: z.object({ critical: rate.default(100), ephemeral: rate.default(0) }).strict().prefault({}),
      /** Subscribers per message, across all regions (spread evenly). */
      meanFanout: z.number().min(0).default(50),
      /** Mean serialized `data` of a message. */
      messageBytes: z
        .number()
        .int('must be a whole number')
        .min(1)
        .max(config.limits.maxPublishDataBytes, `must be at most limits.maxPublishDataBytes (${config.limits.maxPublishDataBytes}): nobody can publish more`)
        .default(200),
      historyTtlHours: z.number().min(0).default(config.recovery.historyTtlHours),
      /** Peak load ÷ average load; costs are for the average (2 is the usual planning figure; peaks of 2-5× are common). */
      peakToAverage: z.number().min(1).default(2),
      /** The clients' ping interval (the SDK's heartbeatMs default is 25 s). */
      heartbeatSeconds: z.number().positive().default(25),
      /** Ephemeral frames posted per delivered ephemeral event: 1 without coalescing, less when events share frames. */
      ephemeralFramesPerEvent: z.number().gt(0).max(1).default(1),
    })
    .strict();
}

export type PlanInput = z.output<ReturnType<typeof planInputSchema>>;
export type PlanInputOptions = z.input<ReturnType<typeof planInputSchema>>;

type FunctionRole = keyof RelaymeshConfig['functions']['memoryMb'];

/** A function's memory: the config's, or for a delivery worker left unset, the capacity model's. */
function functionMemoryMb(config: RelaymeshConfig, role: FunctionRole): number {
  const eventClass = EVENT_CLASSES.find((c) => DELIVERY_MEMORY_KEY[c] === role);
  return eventClass ? deliveryWorkerMemoryMb(config, eventClass) : config.functions.memoryMb[role]!;
}
type TableName = TableLayout['name'];

interface WorkerUsage {
  /** Messages of the class arriving at this region's queue per second (every region receives every message). */
  arriving: number;
  messagesPerInvocation: number;
  invocations: number;
  durationSeconds: number;
  concurrency: number;
  inFlight: number;
}

interface TableUsage {
  /** Write units this region's own writes consume here. */
  writeUnits: number;
  /** Write units the other regions' writes consume here on arrival (each other region's replicated writes). */
  replicatedWriteUnits: number;
  readUnits: number;
}

/** What one region carries per second (connections: at once), at a load scale (1 = peak). */
export interface RegionUsage {
  connections: number;
  connectsPerSecond: number;
  frames: { ping: number; subscribe: number; publish: number };
  posts: Record<EventClass, number>;
  apiGatewayMessages: number;
  invocations: Record<FunctionRole, number>;
  lambdaConcurrency: number;
  gbSeconds: number;
  workers: Record<EventClass, WorkerUsage>;
  sqsRequests: number;
  snsPublishes: number;
  interRegionBytes: number;
  tables: Record<TableName, TableUsage>;
  storageBytes: number;
  accessLogBytes: number;
  /** Bytes through the accelerator (`accelerator` edge mode). */
  edgeBytes: number;
  albLcu: number;
  /** Requests to the edge's HTTP API (`regional` edge mode: /v1/connect). */
  httpApiRequests: number;
  tracesRecorded: number;
}

const units = (bytes: number, increment: number) => Math.max(1, Math.ceil(bytes / increment));
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const byClass = <T>(f: (eventClass: EventClass) => T) => Object.fromEntries(EVENT_CLASSES.map((c) => [c, f(c)])) as Record<EventClass, T>;

export function regionUsage(input: PlanInput, config: RelaymeshConfig, regionCount: number, scale: number): RegionUsage {
  const a = ASSUMPTIONS;
  const ms = a.durationMs;
  // The `accelerator` edge mode: an ALB per region probing the edge function, behind Global Accelerator;
  // `regional`: an HTTP API per region is the edge.
  const accelerated = config.edge.mode === 'accelerator';
  const healthChecksPerSecond = accelerated ? a.healthChecksPerSecond : 0;
  const connections = (input.peakConnections * scale) / regionCount;
  const requestedConnects =
    input.connectChurn.per === 'second' ? (input.connectChurn.connects * scale) / regionCount : (connections * input.connectChurn.connects) / 3600;
  // API Gateway ends every connection at its maximum duration, so clients reconnect at least that often.
  const connectsPerSecond = Math.max(requestedConnects, connections / config.limits.maxConnectionSeconds);
  const published = byClass((c) => input.messagesPerSecond[c] * scale);
  const originated = byClass((c) => published[c] / regionCount);
  const subscribersHere = input.meanFanout / regionCount;
  const frameBytes = input.messageBytes + a.envelopeBytes;
  const framesPerDelivery: Record<EventClass, number> = { critical: 1, ephemeral: input.ephemeralFramesPerEvent };
  const posts = byClass((c) => published[c] * subscribersHere * framesPerDelivery[c]);
  const frames = {
    ping: connections / input.heartbeatSeconds,
    subscribe: connectsPerSecond * input.subscriptionsPerConnection,
    publish: originated.critical + originated.ephemeral,
  };
  const inbound = frames.ping + frames.subscribe + frames.publish;

  // Billed per 32 KB: each frame in and its answer (pong, ack), each post (a coalesced frame holds 1/framesPerDelivery events).
  const frameUnits = units(frameBytes, 32 * 1024);
  const apiGatewayMessages =
    2 * (frames.ping + frames.subscribe) +
    frames.publish * (frameUnits + 1) +
    EVENT_CLASSES.reduce((sum, c) => sum + posts[c] * units(frameBytes / framesPerDelivery[c], 32 * 1024), 0);

  const workers = byClass((c): WorkerUsage => {
    const { batchSize, maxConcurrency } = config.eventClasses[c];
    const arriving = published[c];
    // Each of the class's pollers takes about a second's share of the arrivals per receive, within the batch size.
    const messagesPerInvocation = clamp(arriving / maxConcurrency, 1, batchSize);
    const invocations = arriving / messagesPerInvocation;
    const postsPerInvocation = messagesPerInvocation * subscribersHere * framesPerDelivery[c];
    const durationSeconds = (ms.workerBase + Math.ceil(postsPerInvocation / config.limits.deliveryConcurrency) * ms.post) / 1000;
    const concurrency = invocations * durationSeconds;
    return { arriving, messagesPerInvocation, invocations, durationSeconds, concurrency, inFlight: concurrency * messagesPerInvocation };
  });

  const invocations: Record<FunctionRole, number> = {
    authorizer: connectsPerSecond,
    connect: connectsPerSecond,
    disconnect: connectsPerSecond,
    messageRouter: inbound,
    edge: connectsPerSecond + healthChecksPerSecond,
    deliveryCritical: workers.critical.invocations,
    deliveryEphemeral: workers.ephemeral.invocations,
  };
  const busySeconds: Record<FunctionRole, number> = {
    authorizer: connectsPerSecond * ms.authorizer / 1000,
    connect: connectsPerSecond * ms.connect / 1000,
    disconnect: connectsPerSecond * ms.disconnect / 1000,
    messageRouter:
      (frames.ping * ms.ping + frames.subscribe * ms.subscribe + originated.critical * ms.publishCritical + originated.ephemeral * ms.publishEphemeral) / 1000,
    edge: invocations.edge * ms.edge / 1000,
    deliveryCritical: workers.critical.concurrency,
    deliveryEphemeral: workers.ephemeral.concurrency,
  };
  const roles = Object.keys(busySeconds) as FunctionRole[];
  // Little's law: executions running at once = arrivals per second × seconds each runs.
  const lambdaConcurrency = roles.reduce((sum, r) => sum + busySeconds[r], 0);
  const gbSeconds = roles.reduce((sum, r) => sum + busySeconds[r] * (functionMemoryMb(config, r) / 1024), 0);

  const sqsRequests = EVENT_CLASSES.reduce((sum, c) => {
    const w = workers[c];
    const receiveUnits = units(w.messagesPerInvocation * frameBytes, 64 * 1024);
    return sum + w.invocations * (receiveUnits + 1) + a.idleReceivesPerQueuePerSecond; // receive + DeleteMessageBatch
  }, 0);
  const snsPublishes = frames.publish * units(frameBytes, 64 * 1024);

  // README, "Delivery guarantees": write units per message (a 1 KB message's history item is 1 unit; a
  // transactional write counts twice) as [units here, units each other region's replica consumes].
  const h = Math.ceil(input.messageBytes / 1024);
  const fromOtherOrigins = published.critical - originated.critical;
  const token = frames.publish + frames.subscribe; // the per-connection token bucket: one write per frame but ping
  const s = input.subscriptionsPerConnection;
  const writes: Record<TableName, [number, number]> = {
    // the claim, put in the sequencing transaction
    dedup: [originated.critical * 2, originated.critical],
    sequences: [originated.critical * 2, originated.critical],
    // in the origin's transaction, then stored by every other region before its fan-out (SNS usually beats replication)
    history: [originated.critical * 2 * h + fromOtherOrigins * h, (originated.critical + fromOtherOrigins) * h],
    // bucket, register on connect, subscribe's transactional update, disconnect's mark and delete (regional: not replicated)
    connections: [token + connectsPerSecond * 3 + frames.subscribe * 2, 0],
    // subscribe's transactional subscription item; disconnect deletes it per channel (regional: not replicated)
    subscriptions: [frames.subscribe * 2 + connectsPerSecond * s, 0],
    // subscribe's transactional presence put (or delete); disconnect deletes it per channel; replicated as if every
    // subscription joined presence (a delete of an absent item costs a write but replicates nothing)
    presence: [frames.subscribe * 2 + connectsPerSecond * s, frames.subscribe + connectsPerSecond * s],
  };
  const reads: Record<TableName, number> = {
    dedup: 0,
    // the subscribe ack's positions: a consistent read of every region's counter
    sequences: frames.subscribe * regionCount,
    // every region's worker checks what its replica already holds (consistent BatchGet, 4 KB units)
    history: published.critical * units(frameBytes + a.historyItemOverheadBytes, 4096),
    connections: 0,
    presence: 0,
    // one consistent Query of the channel's subscribers here per message
    subscriptions: (published.critical + published.ephemeral) * units(subscribersHere * a.subscriptionReadBytes, 4096),
  };
  const tables = Object.fromEntries(
    TABLES.map(({ name }) => [name, { writeUnits: writes[name][0], replicatedWriteUnits: writes[name][1] * (regionCount - 1), readUnits: reads[name] }]),
  ) as Record<TableName, TableUsage>;
  const replicatedOut = TABLES.reduce((sum, { name }) => sum + writes[name][1], 0) * (regionCount - 1);

  // Global tables: every region stores every region's items; regional ones only its own.
  const allConnections = connections * regionCount;
  const storageBytes =
    published.critical * input.historyTtlHours * 3600 * (frameBytes + a.historyItemOverheadBytes) +
    published.critical * config.recovery.dedupWindowSeconds * a.itemBytes.claim +
    connections * a.itemBytes.connection +
    connections * s * a.itemBytes.subscription +
    allConnections * s * a.itemBytes.subscription;

  const edgeBytes = accelerated ? connectsPerSecond * a.edgeExchangeBytes : 0;
  const albLcu = accelerated
    ? Math.max((connectsPerSecond + healthChecksPerSecond) / PRICES.alb.lcuNewConnectionsPerSecond, (edgeBytes * 3600) / GIB / PRICES.alb.lcuProcessedGbPerHour)
    : 0;
  const traced = (role: FunctionRole) => (role === 'edge' ? config.functions.tracing && config.functions.traceEdge : config.functions.tracing);
  const { reservoirPerSecond, rate } = a.xraySampling;
  const tracesRecorded = roles
    .filter(traced)
    .reduce((sum, r) => sum + Math.min(invocations[r], reservoirPerSecond) + rate * Math.max(0, invocations[r] - reservoirPerSecond), 0);
  return {
    connections,
    connectsPerSecond,
    frames,
    posts,
    apiGatewayMessages,
    invocations,
    lambdaConcurrency,
    gbSeconds,
    workers,
    sqsRequests,
    snsPublishes,
    // SNS cross-region deliveries, and replication bounded by 1 KB per replicated write unit
    interRegionBytes: frames.publish * (regionCount - 1) * frameBytes + replicatedOut * 1024,
    tables,
    storageBytes,
    accessLogBytes: config.webSocketLogging.accessLogs ? (2 * connectsPerSecond + inbound) * a.accessLogLineBytes : 0,
    edgeBytes,
    albLcu,
    httpApiRequests: accelerated ? 0 : connectsPerSecond,
    tracesRecorded,
  };
}

const COST_PARTS = [
  'apiGatewayConnectionMinutes',
  'apiGatewayMessages',
  'lambdaRequests',
  'lambdaDuration',
  'sqsRequests',
  'snsPublishes',
  'interRegionDataTransfer',
  'dynamodbWrites',
  'dynamodbReplicatedWrites',
  'dynamodbReads',
  'dynamodbStorage',
  'globalAccelerator',
  'alb',
  'edgeHttpApi',
  'cloudWatch',
  'xray',
  'secretsManager',
] as const;
export type CostPart = (typeof COST_PARTS)[number];

export interface CostLine {
  part: CostPart;
  /** Monthly usage of one region (global parts: of the account), in `unit`. */
  quantity: number;
  unit: string;
  /** USD a month, each region. */
  perRegion: number;
  /** USD a month not tied to a region (the accelerator, dashboards beyond the free ones). */
  global: number;
}

function monthlyCosts(usage: RegionUsage, regionCount: number, edgeMode: RelaymeshConfig['edge']['mode']): CostLine[] {
  const perMonth = (perSecond: number) => perSecond * SECONDS_PER_MONTH;
  const tableSum = (field: keyof TableUsage) => Object.values(usage.tables).reduce((sum, t) => sum + t[field], 0);
  const line = (part: CostPart, quantity: number, unit: string, perRegion: number, global = 0): CostLine => ({ part, quantity, unit, perRegion, global });
  const millions = (perSecond: number) => perMonth(perSecond) / 1e6;
  const invocations = Object.values(usage.invocations).reduce((sum, n) => sum + n, 0);
  const alarms = alarmsPerRegion(regionCount);
  const dashboardsBeyondFree = Math.max(0, regionCount - PRICES.cloudWatch.freeDashboards);
  const edge =
    edgeMode === 'accelerator'
      ? [
          line(
            'globalAccelerator',
            perMonth(usage.edgeBytes * regionCount) / GIB,
            'GB, all regions',
            0,
            HOURS_PER_MONTH * PRICES.globalAccelerator.perHour + (perMonth(usage.edgeBytes * regionCount) / GIB) * PRICES.globalAccelerator.premiumPerGb,
          ),
          line(
            'alb',
            usage.albLcu * HOURS_PER_MONTH,
            'LCU-hours',
            HOURS_PER_MONTH * (PRICES.alb.perHour + usage.albLcu * PRICES.alb.perLcuHour + ASSUMPTIONS.albPublicIpv4Addresses * PRICES.vpc.publicIpv4PerHour),
          ),
        ]
      : [line('edgeHttpApi', millions(usage.httpApiRequests), 'M requests', millions(usage.httpApiRequests) * PRICES.apiGateway.perMillionHttpApiRequests)];
  return [
    line('apiGatewayConnectionMinutes', (usage.connections * MINUTES_PER_MONTH) / 1e6, 'M minutes', ((usage.connections * MINUTES_PER_MONTH) / 1e6) * PRICES.apiGateway.perMillionConnectionMinutes),
    line('apiGatewayMessages', millions(usage.apiGatewayMessages), 'M messages', millions(usage.apiGatewayMessages) * PRICES.apiGateway.perMillionMessages),
    line('lambdaRequests', millions(invocations), 'M requests', millions(invocations) * PRICES.lambda.perMillionRequests),
    line('lambdaDuration', perMonth(usage.gbSeconds) / 1e6, 'M GB-s', perMonth(usage.gbSeconds) * PRICES.lambda.perGbSecondArm),
    line('sqsRequests', millions(usage.sqsRequests), 'M requests', millions(usage.sqsRequests) * PRICES.sqs.perMillionRequests),
    line('snsPublishes', millions(usage.snsPublishes), 'M publishes', millions(usage.snsPublishes) * PRICES.sns.perMillionPublishes),
    line('interRegionDataTransfer', perMonth(usage.interRegionBytes) / GIB, 'GB', (perMonth(usage.interRegionBytes) / GIB) * PRICES.dataTransfer.interRegionPerGb),
    line('dynamodbWrites', millions(tableSum('writeUnits')), 'M WRU', millions(tableSum('writeUnits')) * PRICES.dynamodb.perMillionWriteUnits),
    line('dynamodbReplicatedWrites', millions(tableSum('replicatedWriteUnits')), 'M rWRU', millions(tableSum('replicatedWriteUnits')) * PRICES.dynamodb.perMillionReplicatedWriteUnits),
    line('dynamodbReads', millions(tableSum('readUnits')), 'M RRU', millions(tableSum('readUnits')) * PRICES.dynamodb.perMillionReadUnits),
    line('dynamodbStorage', usage.storageBytes / GIB, 'GB', (usage.storageBytes / GIB) * PRICES.dynamodb.perGbMonth),
    ...edge,
    line(
      'cloudWatch',
      alarms,
      'alarms',
      alarms * PRICES.cloudWatch.perAlarmMonth + (perMonth(usage.accessLogBytes) / GIB) * PRICES.cloudWatch.logsIngestionPerGb,
      dashboardsBeyondFree * PRICES.cloudWatch.perDashboardMonth,
    ),
    line('xray', millions(usage.tracesRecorded), 'M traces', millions(usage.tracesRecorded) * PRICES.xray.perMillionTracesRecorded),
    // The JWT secret in the primary and its replica in every other region.
    line('secretsManager', 1, 'secret', PRICES.secretsManager.perSecretMonth),
  ];
}

const costTotal = (lines: readonly CostLine[], regionCount: number): number =>
  lines.reduce((sum, l) => sum + l.perRegion * regionCount + l.global, 0);

/** The degradation levels of a real-time system, by how much of a capacity the load takes. */
export type LoadLevel = 'normal' | 'warning' | 'degraded' | 'critical' | 'over';
function loadLevel(utilization: number): LoadLevel {
  if (utilization >= 1) return 'over';
  if (utilization >= 0.95) return 'critical';
  if (utilization >= 0.85) return 'degraded';
  if (utilization >= 0.7) return 'warning';
  return 'normal';
}

/** Load past which the "warning" level starts: what a suggested limit should keep the demand under. */
const TARGET_UTILIZATION = 0.7;
/** The smallest whole limit that keeps `demand` at the target (rounded first: 2.1 / 0.7 is 3.0000000000000004). */
const limitFor = (demand: number) => Math.ceil(Number((demand / TARGET_UTILIZATION).toPrecision(12)));

export interface QuotaCheck {
  key: string;
  name: string;
  /** Per region at peak. */
  demand: number;
  limit: number;
  utilization: number;
  /** With one region down and its load spread over the others (undefined for a single region). */
  utilizationOneRegionDown?: number;
  level: LoadLevel;
  /** The multiple of the planned peak at which the demand reaches the limit. */
  breaksAtLoad: number;
  suggestion: string;
}

function quotaChecks(input: PlanInput, config: RelaymeshConfig, regionCount: number): QuotaCheck[] {
  const peak = regionUsage(input, config, regionCount, 1);
  const down = regionCount > 1 ? regionUsage(input, config, regionCount - 1, 1) : undefined;
  const busiest = (usage: RegionUsage, field: 'writes' | 'readUnits') => {
    const load = (t: TableUsage) => (field === 'writes' ? t.writeUnits + t.replicatedWriteUnits : t.readUnits);
    return TABLES.map(({ name }) => ({ name, units: load(usage.tables[name]) })).reduce((a, b) => (b.units > a.units ? b : a));
  };
  /** `raiseTo`: " to at least N", the limit that keeps this peak under the warning threshold; empty while it is. */
  type Suggest = (raiseTo: string, demand: number) => string;

  const definitions: Array<{ key: string; name: string; limit: number; demand: (u: RegionUsage) => number; suggest: Suggest }> = [
    {
      key: 'apiGatewayAccountRate',
      name: 'API Gateway account throttle, requests/s (client frames + PostToConnection)',
      limit: config.limits.accountRatePerSecond,
      demand: (u) => u.frames.ping + u.frames.subscribe + u.frames.publish + u.connectsPerSecond + u.posts.critical + u.posts.ephemeral,
      suggest: (raiseTo, demand) => {
        const share = (part: number) => part / demand;
        const levers = [
          `request a higher API Gateway account throttle per Region (Service Quotas) and raise limits.accountRatePerSecond${raiseTo}`,
          `spread the clients over more regions (each has its own throttle; ${count(demand)}/s per region now)`,
        ];
        if (share(peak.posts.ephemeral) >= 0.1) levers.push(`coalesce ephemeral events into fewer frames (${input.ephemeralFramesPerEvent} frames per event now, ${Math.round(share(peak.posts.ephemeral) * 100)}% of the demand)`);
        if (share(peak.frames.ping) >= 0.1) levers.push(`a longer client heartbeat (pings are ${Math.round(share(peak.frames.ping) * 100)}% at ${input.heartbeatSeconds} s)`);
        if (share(peak.frames.publish) >= 0.1) levers.push(`a lower per-connection limit, limits.requestsPerSecond (${config.limits.requestsPerSecond})`);
        return levers.join('; or ');
      },
    },
    {
      key: 'apiGatewayNewConnections',
      name: 'API Gateway new connections/s',
      // The account's quota as the config states it (500 by default, AWS's).
      limit: config.limits.newConnectionsPerSecond,
      demand: (u) => u.connectsPerSecond,
      suggest: (raiseTo) => `request more new WebSocket connections/s per Region (Service Quotas) and raise limits.newConnectionsPerSecond${raiseTo}, or add regions`,
    },
    {
      key: 'lambdaConcurrency',
      name: 'Lambda concurrent executions',
      limit: QUOTAS.lambdaConcurrency,
      demand: (u) => u.lambdaConcurrency,
      suggest: (raiseTo) =>
        `request more concurrent executions per Region${raiseTo} (Service Quotas); a higher limits.deliveryConcurrency ` +
        `(${config.limits.deliveryConcurrency} posts at once) shortens each delivery invocation`,
    },
    ...EVENT_CLASSES.flatMap((c) => {
      const { maxConcurrency } = config.eventClasses[c];
      return [
        {
          key: `workerConcurrency.${c}`,
          name: `${c} delivery workers running (maxConcurrency)`,
          limit: maxConcurrency,
          demand: (u: RegionUsage) => u.workers[c].concurrency,
          suggest: (raiseTo: string, demand: number) =>
            limitFor(demand) <= 1000
              ? `raise eventClasses.${c}.maxConcurrency (${maxConcurrency})${raiseTo}, or limits.deliveryConcurrency (${config.limits.deliveryConcurrency}) so each invocation posts more at once`
              : `set eventClasses.${c}.maxConcurrency to 1000 (Lambda's ceiling) and raise limits.deliveryConcurrency (${config.limits.deliveryConcurrency}) so each invocation posts more at once`,
        },
        {
          key: `sqsInFlight.${c}`,
          name: `${c} queue messages in flight`,
          limit: QUOTAS.sqsInFlightPerQueue,
          demand: (u: RegionUsage) => u.workers[c].inFlight,
          suggest: () => `raise eventClasses.${c}.maxConcurrency or lower eventClasses.${c}.batchSize so batches leave the queue sooner`,
        },
      ];
    }),
    {
      key: 'dynamodbTableWrites',
      name: `DynamoDB write units/s, busiest table (${busiest(peak, 'writes').name})`,
      limit: QUOTAS.dynamodbTableUnitsPerSecond,
      demand: (u) => busiest(u, 'writes').units,
      suggest: (raiseTo) =>
        `request a higher per-table throughput quota for ${busiest(peak, 'writes').name}${raiseTo} (Service Quotas); every region writes every critical message, so regions add writes rather than spread them`,
    },
    {
      key: 'dynamodbTableReads',
      name: `DynamoDB read units/s, busiest table (${busiest(peak, 'readUnits').name})`,
      limit: QUOTAS.dynamodbTableUnitsPerSecond,
      demand: (u) => busiest(u, 'readUnits').units,
      suggest: (raiseTo) => `request a higher per-table throughput quota for ${busiest(peak, 'readUnits').name}${raiseTo} (Service Quotas), or add regions`,
    },
  ];

  return definitions.map(({ key, name, limit, demand, suggest }) => {
    const atPeak = demand(peak);
    const utilization = atPeak / limit;
    return {
      key,
      name,
      demand: atPeak,
      limit,
      utilization,
      ...(down && { utilizationOneRegionDown: demand(down) / limit }),
      level: loadLevel(utilization),
      breaksAtLoad: atPeak > 0 ? limit / atPeak : Number.POSITIVE_INFINITY,
      suggestion: suggest(utilization >= TARGET_UTILIZATION ? ` to at least ${count(limitFor(atPeak))}` : '', atPeak),
    };
  });
}

export interface Plan {
  input: PlanInput;
  pricesReadOn: string;
  /** Per region, per second, at peak and at the average load the costs are for. */
  peak: RegionUsage;
  average: RegionUsage;
  costs: CostLine[];
  totalPerRegion: number;
  total: number;
  /** The month with no connection and no message: what the deployment costs standing. */
  idle: { perRegion: number; total: number };
  deliveredPerMonth: number;
  /** USD per million messages delivered to subscribers; undefined when nothing is delivered. */
  costPerMillionDelivered?: number;
  /** Every quota, most used first. */
  quotas: QuotaCheck[];
  /** The quota that breaks first as the load grows (the most used one). */
  firstToBreak?: QuotaCheck;
  notes: string[];
}

export function computePlan(input: PlanInput, config: RelaymeshConfig): Plan {
  const regionCount = input.regions.length;
  const peak = regionUsage(input, config, regionCount, 1);
  const average = regionUsage(input, config, regionCount, 1 / input.peakToAverage);
  const costs = monthlyCosts(average, regionCount, config.edge.mode);
  const idleInput: PlanInput = { ...input, peakConnections: 0, connectChurn: { per: 'second', connects: 0 }, messagesPerSecond: { critical: 0, ephemeral: 0 } };
  const idleCosts = monthlyCosts(regionUsage(idleInput, config, regionCount, 1), regionCount, config.edge.mode);
  const total = costTotal(costs, regionCount);
  const deliveredPerMonth = (input.messagesPerSecond.critical + input.messagesPerSecond.ephemeral) / input.peakToAverage * input.meanFanout * SECONDS_PER_MONTH;
  const quotas = quotaChecks(input, config, regionCount).sort((a, b) => b.utilization - a.utilization);

  const notes: string[] = [];
  const requested = input.connectChurn.per === 'second' ? input.connectChurn.connects / regionCount : (peak.connections * input.connectChurn.connects) / 3600;
  if (peak.connectsPerSecond > requested) {
    notes.push(
      `connect churn raised to ${peak.connectsPerSecond.toFixed(2)}/s per region: API Gateway ends every connection after limits.maxConnectionSeconds (${config.limits.maxConnectionSeconds} s)`,
    );
  }
  return {
    input,
    pricesReadOn: PRICES_READ_ON,
    peak,
    average,
    costs,
    totalPerRegion: costs.reduce((sum, l) => sum + l.perRegion, 0),
    total,
    idle: { perRegion: idleCosts.reduce((sum, l) => sum + l.perRegion, 0), total: costTotal(idleCosts, regionCount) },
    deliveredPerMonth,
    ...(deliveredPerMonth > 0 && { costPerMillionDelivered: total / (deliveredPerMonth / 1e6) }),
    quotas,
    ...(quotas[0] && quotas[0].demand > 0 && { firstToBreak: quotas[0] }),
    notes,
  };
}
