import { z } from 'zod';
import { DELIVERY_MEMORY_KEY, workerSizingProblem } from './worker-sizing';
import { closestAwsRegion, isAwsRegion, SNS_OPT_IN_REGIONS } from './aws-regions';
import { DEFAULT_RUNBOOK_BASE_URL } from './alarm-definitions';

/**
 * The one Relaymesh configuration, read by the CDK app (from cdk.json context) and by the
 * local cloud. Every field has a default, so `{}` plus nothing else is a working config.
 */

/** A Region of the commercial partition (lib/aws-regions.ts), with a "did you mean" for a typo. */
const regionName = z.string().superRefine((name, ctx) => {
  if (isAwsRegion(name)) return;
  const guess = closestAwsRegion(name);
  ctx.addIssue({ code: 'custom', message: `must be an AWS Region such as us-east-1, not "${name}"${guess ? ` (did you mean ${guess}?)` : ''}` });
});

const eventClassSettings = (defaults: {
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  maxConcurrency: number;
  ttlSeconds: number;
  deadLetterRetentionDays: number;
  deadLetterAlarm: { threshold: number; periodMinutes: number; evaluationPeriods: number };
}) =>
  z
    .object({
      /** Receives before SQS moves a message to the class's DLQ. */
      maxReceiveCount: z.number().int().min(1).max(1000).default(defaults.maxReceiveCount),
      /**
       * The delivery worker's timeout is a sixth of it (AWS's guidance for SQS event sources), and
       * its default memory is what fits a full batch to the largest channel in that timeout (`capacity`).
       */
      visibilityTimeoutSeconds: z.number().int().min(1).max(43_200).default(defaults.visibilityTimeoutSeconds),
      batchSize: z.number().int().min(1).max(10).default(defaults.batchSize),
      maxBatchingWindowSeconds: z.number().int().min(0).max(300).default(defaults.maxBatchingWindowSeconds),
      /** Lambda's ScalingConfig.MaximumConcurrency accepts 2..1000. */
      maxConcurrency: z.number().int().min(2).max(1000).default(defaults.maxConcurrency),
      /** Events older than this are dropped (and counted) instead of delivered late. 0 = never. */
      ttlSeconds: z.number().int().min(0).max(86_400).default(defaults.ttlSeconds),
      /** How long the class's DLQ keeps a message (SQS allows 1 minute to 14 days). */
      deadLetterRetentionDays: z.number().int().min(1).max(14).default(defaults.deadLetterRetentionDays),
      /** The DLQ alarm: more than `threshold` messages in it for `evaluationPeriods` periods of `periodMinutes`. */
      deadLetterAlarm: z
        .object({
          threshold: z.number().int().min(0).default(defaults.deadLetterAlarm.threshold),
          periodMinutes: z.number().int().min(1).max(60).default(defaults.deadLetterAlarm.periodMinutes),
          evaluationPeriods: z.number().int().min(1).max(100).default(defaults.deadLetterAlarm.evaluationPeriods),
        })
        .strict()
        .prefault({}),
    })
    .strict()
    .prefault({});

const functionMemory = (defaultMb: number) => z.number().int().min(128).max(10_240).default(defaultMb);

export const EVENT_CLASSES = ['critical', 'ephemeral'] as const;
export type EventClass = (typeof EVENT_CLASSES)[number];

/** The Powertools Logger levels the functions may be set to, least severe first. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const limitsDefaults = {
  maxFrameBytes: 32 * 1024,
  maxMessageBytes: 128 * 1024,
  maxPublishDataBytes: 32 * 1024,
  idleTimeoutSeconds: 600,
  maxConnectionSeconds: 7200,
  accountRatePerSecond: 10_000,
  accountBurst: 5_000,
  newConnectionsPerSecond: 500,
  maxSubscriptionsPerConnection: 100,
  deliveryConcurrency: 32,
  requestsPerSecond: 20,
  requestBurst: 40,
  maxConcurrentReplays: 100,
};

/** Room a message frame needs besides `data` (type, channel, id, origin, ts, class, seq), rounded up. */
export const FRAME_FIELDS_BYTES = 1024;

export const RelaymeshConfigSchema = z
  .object({
    /** Prefix of every resource name. */
    appName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,30}$/, 'must be 2-31 lowercase letters, digits or dashes, starting with a letter')
      .default('relaymesh'),
    /** Active-active regions; the first is the primary (it owns the global tables' definition). */
    regions: z
      .array(regionName)
      .min(2, 'needs at least 2 regions for active-active')
      .refine((r) => new Set(r).size === r.length, 'must not repeat a region')
      // SNS Developer Guide, cross-Region delivery: "cross-region forwarding of SNS messages from
      // opt-in regions to other opt-in regions is not supported", and every region fans out to every other.
      .refine((r) => r.filter((region) => SNS_OPT_IN_REGIONS.has(region)).length <= 1, {
        error: (issue) =>
          `lists ${(issue.input as string[]).filter((region) => SNS_OPT_IN_REGIONS.has(region)).join(' and ')}: SNS does not deliver between two opt-in Regions, so at most one may be listed`,
      })
      .default(['us-east-1', 'eu-west-1']),
    /** AWS account to deploy into; default: the CLI's current account. */
    account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').optional(),
    /** WebSocket API stage name. */
    stageName: z.string().regex(/^[A-Za-z0-9_]{1,64}$/).default('live'),
    /** Optional custom domain: with hostedZoneId, creates ws.<domain> latency records. */
    domainName: z.string().regex(/^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'must be a lowercase DNS name').optional(),
    hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, 'must be a Route 53 hosted zone id').optional(),
    /** ACM certificate per region for the custom domain; default: one is created per region. */
    certificateArns: z.record(regionName, z.string().startsWith('arn:aws:acm:')).optional(),
    /** E-mail subscribed to every region's alarm topic; default: none. */
    alarmEmail: z.email().optional(),
    /**
     * Where every alarm's runbook link points (`<runbookBaseUrl>#runbook-<kind>`): e.g. the README's
     * URL in your repository host. Default: README.md, which names the section without knowing the repository's URL.
     */
    runbookBaseUrl: z.string().min(1).default(DEFAULT_RUNBOOK_BASE_URL),
    /** Keep global tables when the stack is deleted; default true. */
    deletionProtection: z.boolean().default(true),
    /**
     * Appended (as `<appName>-<nameSuffix>`) to the names of what outlives `cdk destroy --all`: the
     * global tables deletion protection retains and the JWT secret in its recovery window. Set a new
     * one to deploy again, fresh, after a destroy (README, Tear down). Default: none.
     */
    nameSuffix: z.string().regex(/^[a-z0-9]{1,8}$/, 'must be 1-8 lowercase letters or digits').optional(),
    /** The Lambda functions of every region. */
    functions: z
      .object({
        /**
         * Memory per function, MB (Lambda: 128-10,240; CPU grows with it, one vCPU at 1,769 MB). The
         * delivery workers are CPU-bound on their posts and sized by `capacity`; the router replays history.
         */
        memoryMb: z
          .object({
            authorizer: functionMemory(256),
            connect: functionMemory(256),
            disconnect: functionMemory(256),
            messageRouter: functionMemory(512),
            edge: functionMemory(256),
            /** Default: derived from `capacity` (lib/worker-sizing.ts), 1088 MB with the defaults. */
            deliveryCritical: z.number().int().min(128).max(10_240).optional(),
            /** Default: derived from `capacity`, 1600 MB with the defaults. */
            deliveryEphemeral: z.number().int().min(128).max(10_240).optional(),
          })
          .strict()
          .prefault({}),
        /** X-Ray active tracing on every function but the edge (Powertools Tracer in the handlers). */
        tracing: z.boolean().default(true),
        /**
         * Trace the edge function too. Off by default: the ALB probes its /health about a million
         * times a month per region, every probe within X-Ray's sampling reservoir of one request
         * per second, so tracing it costs about $5 a month per region ($5 per million traces).
         */
        traceEdge: z.boolean().default(false),
        /**
         * Apply the bundles' source maps to stack traces (NODE_OPTIONS=--enable-source-maps). The
         * maps are deployed beside the code either way; applying them costs every cold start
         * about 20-35 ms of init CPU, so it is for debugging a deployment, not the default.
         */
        sourceMaps: z.boolean().default(false),
        /**
         * The least severe log line every function writes (POWERTOOLS_LOG_LEVEL): DEBUG adds a line per
         * invocation and per delivered batch, which costs CloudWatch Logs ingestion on every request.
         */
        logLevel: z.enum(LOG_LEVELS).default('INFO'),
      })
      .strict()
      .prefault({}),
    /** How clients reach the HTTP edge (/health, /v1/connect, /v1/publish); README, Deploy. */
    edge: z
      .object({
        /**
         * `accelerator` (default): Global Accelerator's anycast IPs in front of an ALB per region,
         * failing over on the ALBs' target health. `regional`: no accelerator and no ALBs; each
         * region's HTTPS API is the edge, latency-routed as edge.<domain> with a hosted zone.
         */
        mode: z.enum(['accelerator', 'regional']).default('accelerator'),
      })
      .strict()
      .prefault({}),
    /** Logging of each region's WebSocket API stage. */
    webSocketLogging: z
      .object({
        /**
         * Stage access logs. API Gateway writes them with the region's account-wide CloudWatch Logs
         * role, which must be set (README, Deploy) or set by `manageAccountRole`.
         */
        accessLogs: z.boolean().default(true),
        /**
         * Set that account-wide role (AWS::ApiGateway::Account) from this app. It replaces the role
         * every REST and WebSocket API of the account in the region logs with, so it is off by default.
         */
        manageAccountRole: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    eventClasses: z
      .object({
        critical: eventClassSettings({
          maxReceiveCount: 5,
          visibilityTimeoutSeconds: 180,
          batchSize: 10,
          maxBatchingWindowSeconds: 0,
          maxConcurrency: 20,
          ttlSeconds: 0,
          deadLetterRetentionDays: 14,
          // A kept message that could not be delivered: page at once.
          deadLetterAlarm: { threshold: 0, periodMinutes: 1, evaluationPeriods: 1 },
        }),
        ephemeral: eventClassSettings({
          // A throttled event comes back every ~2 s (RETRY_DELAY_SECONDS) and is dropped, counted, once
          // older than its 10 s TTL: 10 receives outlast the TTL, so throttling never dead-letters it.
          maxReceiveCount: 10,
          visibilityTimeoutSeconds: 120,
          batchSize: 10,
          maxBatchingWindowSeconds: 0,
          maxConcurrency: 10,
          ttlSeconds: 10,
          // A 20 s timeout fits a full batch to the largest channel (`capacity`) on less than one vCPU.
          // What still lands here is a poison event; stale within seconds, so kept a day, and a trickle does not page.
          deadLetterRetentionDays: 1,
          deadLetterAlarm: { threshold: 10, periodMinutes: 5, evaluationPeriods: 3 },
        }),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /** API Gateway WebSocket frame quota. */
        maxFrameBytes: z.number().int().min(1024).default(limitsDefaults.maxFrameBytes),
        /** API Gateway WebSocket message quota; beyond it the socket closes with 1009. */
        maxMessageBytes: z.number().int().min(1024).default(limitsDefaults.maxMessageBytes),
        /** Largest serialized `data` a publish may carry; beyond it the client gets an error frame. */
        maxPublishDataBytes: z.number().int().min(16).max(200_000).default(limitsDefaults.maxPublishDataBytes),
        idleTimeoutSeconds: z.number().int().min(1).default(limitsDefaults.idleTimeoutSeconds),
        maxConnectionSeconds: z.number().int().min(1).default(limitsDefaults.maxConnectionSeconds),
        /** API Gateway account throttle (steady rate and burst). */
        accountRatePerSecond: z.number().int().min(1).default(limitsDefaults.accountRatePerSecond),
        accountBurst: z.number().int().min(1).default(limitsDefaults.accountBurst),
        /**
         * API Gateway's quota of new WebSocket connections per second per account and Region
         * (500 unless raised): upgrades past it are refused 429. Not a stack setting; set it to
         * the account's quota so the local cloud and `relaymesh plan` refuse where AWS would.
         */
        newConnectionsPerSecond: z.number().int().min(1).default(limitsDefaults.newConnectionsPerSecond),
        maxSubscriptionsPerConnection: z.number().int().min(1).max(1000).default(limitsDefaults.maxSubscriptionsPerConnection),
        /** PostToConnection calls in flight per delivery worker invocation. */
        deliveryConcurrency: z.number().int().min(1).max(500).default(limitsDefaults.deliveryConcurrency),
        /** Per-connection token bucket for every frame but ping (error 4290 with retryAfterMs beyond it). */
        requestsPerSecond: z.number().positive().max(10_000).default(limitsDefaults.requestsPerSecond),
        requestBurst: z.number().int().min(1).max(100_000).default(limitsDefaults.requestBurst),
        /** Subscribes with `since` replaying at once per region (error 4291 beyond it). */
        maxConcurrentReplays: z.number().int().min(1).max(10_000).default(limitsDefaults.maxConcurrentReplays),
      })
      .strict()
      .prefault({}),
    /**
     * The delivery workers' capacity model (lib/worker-sizing.ts, README "Sizing the delivery
     * workers"): a full batch to the largest channel must fit each worker's timeout with headroom.
     */
    capacity: z
      .object({
        /** Subscribers per region of the largest channel the workers are sized for; a larger one risks timeouts. */
        largestChannelSubscribers: z.number().int().min(1).max(1_000_000).default(1000),
        /**
         * CPU per PostToConnection at one vCPU, ms: `npm run bench -- --compare-sample` prints it
         * ("CPU µs / PostToConnection", 1,124 µs on the README's machine); put your own figure here.
         */
        cpuMsPerPost: z.number().positive().max(100).default(1.2),
        /** The full batch's CPU time × headroom must fit the timeout. */
        headroom: z.number().min(1).max(10).default(1.5),
      })
      .strict()
      .prefault({}),
    /** Client tokens (HS256 JWTs). */
    auth: z
      .object({
        /** Every token must expire, at most this long after it was issued. */
        maxTokenLifetimeSeconds: z.number().int().min(60).max(30 * 86_400).default(86_400),
        /** Allowed clock difference between the token issuer and AWS for exp, nbf and iat. */
        clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
      })
      .strict()
      .prefault({}),
    /** Message history for recovery, and the idempotency window of client-supplied ids. */
    recovery: z
      .object({
        /** How long history items live (DynamoDB TTL). */
        historyTtlHours: z.number().int().min(1).max(24 * 30).default(24),
        /** History kept per channel and origin region; older items are deleted as new ones arrive. */
        historyMaxPerChannel: z.number().int().min(1).max(100_000).default(1000),
        /** Most messages one subscribe replays. */
        maxReplay: z.number().int().min(1).max(100_000).default(1000),
        /** A client id seen again within this window is acknowledged, not delivered again. */
        dedupWindowSeconds: z.number().int().min(60).max(7 * 86_400).default(3600),
        /** How long a subscribe waits for history still replicating from other regions. */
        replicationWaitMs: z.number().int().min(0).max(10_000).default(2000),
        /**
         * Age past which a message has replicated to every region: a gap in history below a
         * message this old is reported expired, not waited for. Must exceed the worst replication lag.
         */
        historySettleSeconds: z.number().int().min(1).max(3600).default(30),
      })
      .strict()
      .prefault({}),
    /** Local cloud only: simulated global-table replication lag. */
    local: z
      .object({
        replicationLagMs: z.number().int().min(0).max(60_000).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => c.limits.maxPublishDataBytes + FRAME_FIELDS_BYTES <= c.limits.maxMessageBytes, {
    message: `maxPublishDataBytes plus ${FRAME_FIELDS_BYTES} bytes of message frame fields must fit within maxMessageBytes: a larger publish could never be delivered`,
    path: ['limits', 'maxPublishDataBytes'],
  })
  .superRefine((c, ctx) => {
    for (const eventClass of EVENT_CLASSES) {
      const memoryKey = DELIVERY_MEMORY_KEY[eventClass];
      const problem = workerSizingProblem(c.eventClasses[eventClass], c.capacity, c.functions.memoryMb[memoryKey]);
      if (!problem) continue;
      const path = problem.setting === 'memoryMb' ? ['functions', 'memoryMb', memoryKey] : ['eventClasses', eventClass, 'visibilityTimeoutSeconds'];
      ctx.addIssue({ code: 'custom', path, message: problem.message });
    }
  })
  .refine((c) => !c.hostedZoneId || c.domainName, {
    message: 'hostedZoneId needs domainName',
    path: ['domainName'],
  })
  .refine((c) => !c.certificateArns || Object.keys(c.certificateArns).every((r) => c.regions.includes(r)), {
    message: 'certificateArns names a region that is not in regions',
    path: ['certificateArns'],
  });

export type RelaymeshConfig = z.output<typeof RelaymeshConfigSchema>;
export type RelaymeshConfigInput = z.input<typeof RelaymeshConfigSchema>;
export type EventClassSettings = RelaymeshConfig['eventClasses'][EventClass];
export type CapacitySettings = RelaymeshConfig['capacity'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses and defaults a config; the error names every offending field by its path. */
export function loadConfig(input: unknown = {}): RelaymeshConfig {
  const parsed = RelaymeshConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`);
    // One problem, one line (what `npm start` and `cdk synth` print); several, one line each.
    throw new ConfigError(
      problems.length === 1 ? `Invalid Relaymesh config: ${problems[0]}` : `Invalid Relaymesh config:\n  - ${problems.join('\n  - ')}`,
    );
  }
  return parsed.data;
}
