/**
 * `npm run bench`: the Lambda bundles' sizes and init CPU (bench/bundles.ts; alone with
 * `--bundles-only`), then fan-out on the local cloud. N subscribers on one channel, spread over the
 * regions; critical messages published from every region; then an ephemeral stream. Prints
 * throughput, publish→deliver latency, losses, the delivery workers' cost per delivered event
 * and memory. Then the latency phases (alone with `--latency-only`): 1 message/s to a few
 * hundred subscribers over the regions, and to one subscriber (the floor). `--compare-sample` runs compare-sample.ts instead. It asserts one thing only:
 * every subscriber got every acked (origin, seq) exactly once, else it exits 1.
 *
 * The local cloud runs each function of each region in a worker thread of its own, every
 * invocation of that function on that one thread. Many concurrent delivery-worker invocations
 * then only time-slice it: with the config's 20 per queue, a batch of 10 events × 500
 * subscribers takes minutes, outlives the visibility timeout and SQS redelivers it while it is
 * still running (a redelivery storm of duplicates). On AWS each invocation has its own CPU. So
 * the bench defaults to 2; `--worker-concurrency 20` shows the storm.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { z } from 'zod';
import { EVENT_CLASSES, loadConfig, type EventClass, type RelaymeshConfig } from '../lib/config';
import { lambdaEnv, startLocalCloud, type LocalCloud } from '../local/cloud';
import { readConfig } from '../ops/cli-support';
import { compareWithSample, comparisonSections, CPU_METHOD, sideFigures } from './compare-sample';
import { mintToken } from '../local/dev-token';
import { bundleSection, measureBundles } from './bundles';
import { findDynamoDbLocalPid, ownMemory, processMemory } from './memory';
import { QueueWatcher, type Backlog } from './queues';
import { deliveryKey, type PhaseSummary } from './recorder';
import { BenchSocket } from './socket';
import {
  formatBytes,
  formatCount,
  formatDecimal,
  formatMs,
  formatSeconds,
  formatTable,
  ratio,
  type LatencySummary,
  type TableSection,
} from './stats';
import { SubscriberPool, type ProcessMemory, type ReadyReport } from './subscribers';
import { countersSince, perDeliveredEvent, workerCounters, type Counters, type PerDeliveredEvent } from './worker-metrics';

const DEFAULT_CONFIG = loadConfig();
const REQUEST_TIMEOUT_MS = 30_000;
const PROGRESS_LOG_INTERVAL_MS = 5_000;
const POLL_INTERVAL_MS = 200;
/** Once the queues are empty, frames the workers posted last may still be on their way. */
const IN_TRANSIT_GRACE_MS = 500;

const OptionsSchema = z.object({
  bundlesOnly: z.boolean().default(false),
  initRuns: z.coerce.number().int().min(1).max(100),
  subscribers: z.coerce.number().int().min(1).max(100_000),
  messages: z.coerce.number().int().min(1).max(100_000),
  regions: z
    .string()
    .optional()
    .transform((list) => list?.split(',').map((r) => r.trim()).filter(Boolean)),
  ephemeralRate: z.coerce.number().positive().max(10_000),
  ephemeralSeconds: z.coerce.number().positive().max(600),
  publishRate: z.coerce.number().min(0).max(100_000),
  concurrency: z.coerce.number().int().min(1).max(1_000),
  settleSeconds: z.coerce.number().positive().max(600),
  replicationLagMs: z.coerce.number().int().min(0).max(60_000),
  accountRps: z.coerce.number().int().min(1).optional(),
  accountBurst: z.coerce.number().int().min(1).optional(),
  workerConcurrency: z.coerce.number().int().min(2).max(1_000),
  json: z.boolean().default(false),
  compareSample: z.boolean().default(false),
  rounds: z.coerce.number().int().min(1).max(1_000),
  batchSize: z.coerce.number().int().min(1).max(10),
  cloudFrom: z.string().optional(),
  config: z.string(),
  cpuProfDir: z.string().optional(),
  latencyMessages: z.coerce.number().int().min(0).max(10_000),
  latencySubscribers: z.coerce.number().int().min(1).max(10_000),
  latencyOnly: z.boolean().default(false),
});
type Options = z.output<typeof OptionsSchema>;

/** The part of a publish ack the check needs: a critical message's (origin, seq). */
const AckSchema = z.object({ id: z.string(), origin: z.string().optional(), seq: z.number().int().optional() });

function parseOptions(argv: string[]): Options {
  const program = new Command('bench')
    .description('Fan-out benchmark on the local cloud (needs Java 17 for DynamoDB Local)')
    .option('--subscribers <n>', 'subscriber sockets, spread evenly over the regions', '1000')
    .option('--messages <n>', 'critical messages, published alternately from each region', '200')
    .option('--regions <list>', "comma-separated regions (default: the config's)")
    .option('--ephemeral-rate <n/s>', 'ephemeral events published per second', '20')
    .option('--ephemeral-seconds <s>', 'how long the ephemeral stream lasts', '5')
    .option('--publish-rate <n/s>', 'critical publish rate; 0 = as fast as acks come back (one in flight per region)', '0')
    .option('--concurrency <n>', 'sockets connecting and subscribing at once', '100')
    .option('--settle-seconds <s>', 'end a phase early when neither deliveries nor its queues moved for this long', '10')
    .option('--replication-lag-ms <ms>', 'simulated global-table replication lag', '1000')
    .option('--account-rps <n>', 'API Gateway account throttle, steady rate per region (AWS default 10,000)')
    .option('--account-burst <n>', 'API Gateway account throttle burst per region (AWS default 5,000)')
    .option(
      '--worker-concurrency <n>',
      "delivery workers' maximum concurrency per queue and region (the config's default is higher: see the note at the top of bench/fanout.ts)",
      '2',
    )
    .option('--latency-messages <n>', 'latency phases: critical messages at 1/s to --latency-subscribers, then to 1 subscriber (the floor); 0 skips them', '30')
    .option('--latency-subscribers <n>', 'latency phase subscribers, spread evenly over the regions', '200')
    .option('--latency-only', 'run the latency phases only, not the fan-out phases')
    .option('--json', 'also print a JSON summary')
    .option('--bundles-only', 'print the Lambda bundle sizes and init times only, without the fan-out')
    .option('--init-runs <n>', 'imports per bundle whose median init CPU is printed', '5')
    .option(
      '--compare-sample',
      'instead of the fan-out phases: the delivery worker against a baseline in the style of aws-samples/simple-websockets-chat-app (a Scan and one Promise.all of posts per message), the same batches to the same sockets in one region, rounds interleaved, CPU of each measured in a process of its own',
    )
    .option('--rounds <n>', 'with --compare-sample: measured rounds per side (after one warm-up round each)', '5')
    .option('--batch-size <n>', 'with --compare-sample: messages per round, the SQS batch the worker gets (1-10)', '10')
    .option(
      '--cloud-from <state file>',
      'with --compare-sample: use the running local cloud of `npm start` that this file describes (e.g. .relaymesh/local.json) instead of starting one; without it the bench starts its own cloud on free ports',
    )
    .option('--config <file>', 'with --cloud-from: the cdk.json the running cloud was started with (its table names)', 'cdk.json')
    .option('--cpu-prof-dir <dir>', 'with --compare-sample: run both sides under `node --cpu-prof` and write their profiles here')
    .parse(argv);
  const parsed = OptionsSchema.safeParse(program.opts());
  if (!parsed.success) return program.error(`bench: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (parsed.data.cloudFrom && !parsed.data.compareSample) return program.error('bench: --cloud-from works with --compare-sample only (the fan-out phases read the counters of a cloud the bench starts itself)');
  return parsed.data;
}

const started = Date.now();
const log = (line: string) => process.stderr.write(`[${formatSeconds(Date.now() - started).padStart(9)}] ${line}\n`);

interface Phase {
  eventClass: EventClass;
  ids: string[];
  /** Events per second; 0 = each region's publisher sends the next once the previous is acked. */
  ratePerSecond: number;
  /** Put the client's send time in each message's data, so latency counts from the send (recorder.ts). */
  stampSend?: boolean;
}

interface PhaseResult {
  published: number;
  /** The `deliveryKey` of every acked message: what every subscriber must get exactly once. */
  keys: string[];
  summary: PhaseSummary;
  publishStartedAt: number;
  publishEndedAt: number;
  publishErrors: number;
  firstPublishError?: string;
  /** Left in the class's queues when the phase ended (0 queued: the pipeline went quiet). */
  backlog: Backlog;
  worker: Counters;
  perEvent: PerDeliveredEvent;
  subscriberMemory: ProcessMemory;
}

/** Ctrl-C stops the run at the next step and still stops the cloud (the JVM is outside our process group). */
const interrupted = new AbortController();
const checkInterrupted = (): void => {
  if (interrupted.signal.aborted) throw new Error('interrupted');
};

class Bench {
  constructor(
    private readonly cloud: LocalCloud,
    private readonly config: RelaymeshConfig,
    private readonly pool: SubscriberPool,
    private readonly publishers: BenchSocket[],
    private readonly queues: QueueWatcher,
    private readonly channel: string,
    private readonly settleMs: number,
  ) {}

  async run(phase: Phase, expected: number): Promise<PhaseResult> {
    const before = workerCounters(this.cloud.metrics(), this.config.regions, phase.eventClass);
    this.pool.beginPhase();
    const publishStartedAt = Date.now();
    const { errors, keys } = await this.publishAll(phase);
    const publishEndedAt = Date.now();
    log(`${phase.eventClass}: published ${phase.ids.length} in ${formatSeconds(publishEndedAt - publishStartedAt)}; waiting for the queues to empty`);
    const backlog = await this.awaitQuiet(phase.eventClass, expected);
    await sleep(IN_TRANSIT_GRACE_MS);
    const { summary, memory } = await this.pool.summarize(keys);
    const worker = countersSince(workerCounters(this.cloud.metrics(), this.config.regions, phase.eventClass), before);
    return {
      published: phase.ids.length,
      keys,
      summary,
      publishStartedAt,
      publishEndedAt,
      publishErrors: errors.length,
      firstPublishError: errors[0],
      backlog,
      worker,
      perEvent: perDeliveredEvent(worker, summary.delivered),
      subscriberMemory: memory,
    };
  }

  /** Publishes every id, message i from region i mod R; returns the acked messages' keys and the errors (refusals, timeouts). */
  private async publishAll(phase: Phase): Promise<{ keys: string[]; errors: string[] }> {
    const errors: string[] = [];
    const keys: string[] = [];
    const publish = async (index: number) => {
      const publisher = this.publishers[index % this.publishers.length]!;
      const id = phase.ids[index]!;
      const frame = { action: 'publish', channel: this.channel, id, class: phase.eventClass, data: { n: index, ...(phase.stampSend && { sentAt: Date.now() }) } };
      try {
        const answer = await publisher.request(frame, REQUEST_TIMEOUT_MS);
        if (answer.type !== 'ack') errors.push(JSON.stringify(answer));
        else keys.push(deliveryKey(AckSchema.parse({ id, ...answer })));
      } catch (error) {
        errors.push((error as Error).message);
      }
    };
    const indexes = [...phase.ids.keys()];
    if (phase.ratePerSecond === 0) {
      await Promise.all(
        this.publishers.map(async (_, region) => {
          for (const index of indexes.filter((i) => i % this.publishers.length === region)) {
            checkInterrupted();
            await publish(index);
          }
        }),
      );
    } else {
      const start = Date.now();
      const inFlight: Array<Promise<void>> = [];
      for (const index of indexes) {
        checkInterrupted();
        await sleep(Math.max(0, start + (index * 1000) / phase.ratePerSecond - Date.now()));
        inFlight.push(publish(index));
      }
      await Promise.all(inFlight);
    }
    return { keys, errors };
  }

  /**
   * Until the class's queues are empty (every event posted, every redelivery done: what is
   * missing then will not come), or until neither deliveries nor the queues moved for
   * settleMs (a stuck pipeline, or redeliveries going round until the DLQ).
   */
  private async awaitQuiet(eventClass: EventClass, expected: number): Promise<Backlog> {
    let last = { delivered: -1, queued: -1 };
    let movedAt = Date.now();
    let loggedAt = Date.now();
    let emptyPolls = 0;
    for (;;) {
      checkInterrupted();
      await sleep(POLL_INTERVAL_MS);
      const backlog = await this.queues.backlog(eventClass);
      const now = { delivered: this.pool.delivered, queued: backlog.queued };
      // Twice in a row: a publish fans out to the other region's queue an instant after its ack.
      emptyPolls = backlog.queued === 0 ? emptyPolls + 1 : 0;
      if (emptyPolls === 2) return backlog;
      if (now.delivered !== last.delivered || now.queued !== last.queued) [last, movedAt] = [now, Date.now()];
      else if (Date.now() - movedAt > this.settleMs) {
        log(`${eventClass}: nothing moved for ${formatSeconds(this.settleMs)} with ${backlog.queued} messages queued; moving on`);
        return backlog;
      }
      if (Date.now() - loggedAt >= PROGRESS_LOG_INTERVAL_MS) {
        log(`${eventClass}: ${formatCount(now.delivered)} / ${formatCount(expected)} deliveries, ${formatCount(backlog.queued)} messages queued or in a worker`);
        loggedAt = Date.now();
      }
    }
  }
}

/** The cloud a run works on: its own, or the one of `npm start` (`--cloud-from`). */
interface Target {
  config: RelaymeshConfig;
  description: CloudFile;
  /** Present when the bench started the cloud: the fan-out phases read its in-process counters and queues. */
  own?: LocalCloud;
  stop(): Promise<void>;
}

/** The part of `.relaymesh/local.json` (LocalCloudDescription, local/cloud.ts) a comparison needs. */
const CloudFileSchema = z.object({
  regions: z.record(
    z.string(),
    z.object({
      websocketUrl: z.string(),
      dynamodbEndpoint: z.url(),
      sqsEndpoint: z.url(),
      connectionsEndpoint: z.url(),
      topicArn: z.string(),
    }),
  ),
  jwtSecret: z.string().min(32),
});
type CloudFile = z.output<typeof CloudFileSchema>;

async function openTarget(options: Options): Promise<Target> {
  if (options.cloudFrom) {
    const file = options.cloudFrom;
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(error.code === 'ENOENT' ? `${file} does not exist: start the local cloud with \`npm start\` (it writes that file)` : `cannot read ${file}: ${error.message}`);
    });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${file} is not JSON: restart \`npm start\` to write it again`);
    }
    const parsed = CloudFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${file} does not describe a local cloud (${issue.path.join('.')}: ${issue.message}); restart \`npm start\` to write it again`);
    }
    const config = await readConfig(options.config).catch((error: Error) => {
      throw new Error(error.message);
    });
    log(`using the local cloud of ${file}: ${Object.keys(parsed.data.regions).join(', ')}`);
    return { config, description: parsed.data, stop: async () => {} };
  }
  const config = loadConfig({
    ...(options.regions && { regions: options.regions }),
    limits: {
      // One publisher socket per region drives the whole load: the per-connection limit is not what is measured.
      requestsPerSecond: 10_000,
      requestBurst: 20_000,
      ...(options.accountRps && { accountRatePerSecond: options.accountRps }),
      ...(options.accountBurst && { accountBurst: options.accountBurst }),
    },
    local: { replicationLagMs: options.replicationLagMs },
    eventClasses: { critical: { maxConcurrency: options.workerConcurrency }, ephemeral: { maxConcurrency: options.workerConcurrency } },
  });
  log(`starting the local cloud: ${config.regions.join(', ')}`);
  const own = await startLocalCloud({ config, jwtSecret: randomBytes(32).toString('base64url') });
  return { config, description: own.description, own, stop: () => own.stop() };
}

/** `count` sockets (default --subscribers) spread over the URLs; `regions` (the URLs' regions) splits their latency by route. */
async function subscribe(
  options: Options,
  websocketUrls: string[],
  token: string,
  channel: string,
  { count = options.subscribers, regions }: { count?: number; regions?: string[] } = {},
): Promise<{ pool: SubscriberPool; ready: ReadyReport }> {
  log(`connecting and subscribing ${formatCount(count)} sockets, ${options.concurrency} at a time`);
  let loggedAt = Date.now();
  const subscribing = await SubscriberPool.start(
    { websocketUrls, regions, token, count, channel, concurrency: options.concurrency, timeoutMs: REQUEST_TIMEOUT_MS },
    (subscribed, failed) => {
      if (Date.now() - loggedAt < PROGRESS_LOG_INTERVAL_MS) return;
      loggedAt = Date.now();
      log(`subscribed ${formatCount(subscribed)}${failed ? `, failed ${failed}` : ''}`);
    },
  );
  const { ready } = subscribing;
  log(`${formatCount(ready.subscribed)} subscribed in ${formatSeconds(ready.elapsedMs)}${ready.failed ? `; ${ready.failed} failed: ${ready.firstError}` : ''}`);
  if (ready.subscribed === 0) {
    await subscribing.pool.close();
    throw new Error(`no socket could subscribe: ${ready.firstError}`);
  }
  return subscribing;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  await printBundles(options.initRuns);
  if (options.bundlesOnly) return;
  process.on('SIGINT', () => {
    if (interrupted.signal.aborted) process.exit(130); // a second Ctrl-C: no clean stop (the JVM still dies with us)
    log('interrupted: stopping cleanly (Ctrl-C again to exit at once)');
    interrupted.abort();
  });
  const runTag = randomBytes(4).toString('hex');
  const channel = `bench:${runTag}`;
  const target = await openTarget(options);
  let pool: SubscriberPool | undefined;
  const publishers: BenchSocket[] = [];
  const queues = target.own && new QueueWatcher(target.own, target.config.regions);
  try {
    checkInterrupted();
    const token = await mintToken(target.description.jwtSecret, { sub: 'bench', subscribe: ['*'], publish: ['*'] });
    let sections: TableSection[];
    let json: unknown;
    let checks: DeliveryCheck[];
    if (options.compareSample) {
      const region = options.regions?.[0] ?? Object.keys(target.description.regions)[0]!;
      const described = target.description.regions[region];
      if (!described) throw new Error(`${region}: not a region of the cloud (${Object.keys(target.description.regions).join(', ')})`);
      // Every socket in the one region both sides deliver in.
      const subscribing = await subscribe(options, [described.websocketUrl], token, channel);
      pool = subscribing.pool;
      const env = {
        ...lambdaEnv(target.config, region, { ...described, messagingEndpoint: described.sqsEndpoint, jwtSecret: target.description.jwtSecret }),
        EVENT_CLASS: 'critical',
        EVENT_TTL_SECONDS: String(target.config.eventClasses.critical.ttlSeconds),
      };
      const compare = {
        region,
        env,
        channel,
        subscribers: subscribing.ready.subscribed,
        messagesPerRound: options.batchSize,
        rounds: options.rounds,
        settleMs: options.settleSeconds * 1000,
        runTag,
        cpuProfileDir: options.cpuProfDir,
        log,
        checkInterrupted,
      };
      const comparison = await compareWithSample(pool, compare);
      sections = [machineSection(), ...comparisonSections(comparison, compare)];
      json = { machine: machine(), compareSample: { ...comparison, figures: { relaymesh: sideFigures(comparison.sides.relaymesh), baseline: sideFigures(comparison.sides.baseline) }, cpuMethod: CPU_METHOD } };
      // The baseline's losses are the sample's (a failed post is never retried): reported, not ours to fail on.
      checks = Object.values(comparison.sides).map((side) => ({ label: `${side.side} rounds (warm-up included)`, summary: side.check, enforced: side.side === 'relaymesh' }));
    } else {
      const cloud = target.own;
      if (!cloud || !queues) throw new Error('the fan-out phases need a cloud the bench started');
      const { config } = target;
      const websocketUrls = config.regions.map((region) => cloud.regions[region]!.websocketUrl);
      publishers.push(...(await Promise.all(websocketUrls.map((url) => BenchSocket.open(url, token, REQUEST_TIMEOUT_MS)))));
      const ids = (prefix: string, count: number) => messageIds(prefix, runTag, count);
      sections = [];
      checks = [];
      let result: Record<string, unknown> = {};
      if (!options.latencyOnly) {
        const subscribing = await subscribe(options, websocketUrls, token, channel);
        pool = subscribing.pool;
        const { ready } = subscribing;
        const bench = new Bench(cloud, config, pool, publishers, queues, channel, options.settleSeconds * 1000);
        const criticalIds = ids('c', options.messages);
        const critical = await bench.run({ eventClass: 'critical', ids: criticalIds, ratePerSecond: options.publishRate }, ready.subscribed * criticalIds.length);
        const ephemeralIds = ids('e', Math.max(1, Math.round(options.ephemeralRate * options.ephemeralSeconds)));
        const ephemeral = await bench.run(
          { eventClass: 'ephemeral', ids: ephemeralIds, ratePerSecond: options.ephemeralRate },
          ready.subscribed * ephemeralIds.length,
        );
        // Again at the end: a duplicate of a critical message may have come after its phase.
        const { summary: criticalCheck } = await pool.summarize(critical.keys);

        const dynamoDbPort = Number(new URL(cloud.regions[config.regions[0]!]!.dynamodbEndpoint).port);
        const jvmPid = findDynamoDbLocalPid(dynamoDbPort);
        const report = buildReport({
          options,
          config,
          ready,
          critical,
          ephemeral,
          memory: { bench: ownMemory(), subscribers: ephemeral.subscriberMemory, jvm: jvmPid === undefined ? undefined : processMemory(jvmPid) },
        });
        sections.push(...report.sections);
        result = report.json;
        checks.push({ label: 'critical messages', summary: criticalCheck, enforced: true });
      }
      if (options.latencyMessages > 0) {
        const latency = await measureLatency(options, { cloud, config, queues, publishers, websocketUrls, token, runTag });
        sections.push(latencySection(latency, options.latencyMessages));
        result = { ...(options.latencyOnly && { machine: machine() }), ...result, latency };
        checks.push(...latency.map(({ label, summary }) => ({ label: `latency, ${label}`, summary, enforced: true })));
      }
      // The load and date as the measuring ended (the fan-out report has its own in Setup).
      if (options.latencyOnly) sections.unshift(machineSection());
      json = result;
    }
    sections.push(deliveryCheckSection(checks));
    process.stdout.write(`\n${formatTable(sections)}\n`);
    if (options.json) process.stdout.write(`\n${JSON.stringify(json, null, 2)}\n`);
    const failing = checks.filter((c) => c.enforced && !checkPassed(c));
    if (failing.length > 0) {
      log(`CHECK FAILED: ${failing.map((c) => `${c.label}: ${formatCount(c.summary.missing)} lost, ${formatCount(c.summary.duplicates)} duplicated`).join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    log('stopping');
    await Promise.all([pool?.close(), ...publishers.map((p) => p.close())]);
    queues?.close();
    await target.stop();
    log('stopped');
  }
}

/** A phase's message ids, unique to the run. */
const messageIds = (prefix: string, runTag: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${runTag}-${i}`);

/** Messages published before each latency phase's measured ones, not reported: the first publishes of a channel pay cold paths (a counter read, a first Query). */
const LATENCY_WARM_UP_MESSAGES = 3;

interface LatencyRun {
  label: string;
  subscribed: number;
  summary: PhaseSummary;
}

/**
 * The latency phases, on channels of their own: critical messages at 1/s, published alternately
 * from every region, to --latency-subscribers spread over the regions (same-region and
 * cross-region deliveries told apart); then from the first region to one subscriber there, the
 * floor. Latency counts from the publisher's send to the subscriber's receive.
 */
async function measureLatency(
  options: Options,
  target: { cloud: LocalCloud; config: RelaymeshConfig; queues: QueueWatcher; publishers: BenchSocket[]; websocketUrls: string[]; token: string; runTag: string },
): Promise<LatencyRun[]> {
  const { cloud, config, queues, publishers, websocketUrls, token, runTag } = target;
  const setups = [
    { label: `${formatCount(options.latencySubscribers)} subscribers over ${config.regions.join(', ')}`, count: options.latencySubscribers, regions: config.regions.length, name: 'spread' },
    { label: `1 subscriber in ${config.regions[0]}, published there (the floor)`, count: 1, regions: 1, name: 'floor' },
  ];
  const runs: LatencyRun[] = [];
  for (const setup of setups) {
    const channel = `bench-latency:${runTag}:${setup.name}`;
    const { pool, ready } = await subscribe(options, websocketUrls.slice(0, setup.regions), token, channel, { count: setup.count, regions: config.regions.slice(0, setup.regions) });
    try {
      const bench = new Bench(cloud, config, pool, publishers.slice(0, setup.regions), queues, channel, options.settleSeconds * 1000);
      const phase = (prefix: string, count: number) => ({
        eventClass: 'critical' as const,
        ids: messageIds(prefix, runTag, count),
        ratePerSecond: 1,
        stampSend: true,
      });
      log(`latency, ${setup.label}: ${LATENCY_WARM_UP_MESSAGES} warm-up messages, then ${options.latencyMessages} at 1/s`);
      await bench.run(phase(`lw-${setup.name}`, LATENCY_WARM_UP_MESSAGES), ready.subscribed * LATENCY_WARM_UP_MESSAGES);
      const { summary } = await bench.run(phase(`l-${setup.name}`, options.latencyMessages), ready.subscribed * options.latencyMessages);
      runs.push({ label: setup.label, subscribed: ready.subscribed, summary });
    } finally {
      await pool.close();
    }
  }
  return runs;
}

function latencySection(runs: LatencyRun[], messages: number): TableSection {
  const percentiles = (summary?: LatencySummary) => `${[summary?.p50, summary?.p90, summary?.p99].map(formatMs).join(' / ')}  (max ${formatMs(summary?.max)}, ${formatCount(summary?.count)} deliveries)`;
  // Where a tail comes from: a late first delivery, or the burst to the region's subscribers (PhaseSummary.sameRegionBurst).
  const burstFigures = (summary?: LatencySummary) => `${[summary?.p50, summary?.p90].map(formatMs).join(' / ')}  (max ${formatMs(summary?.max)}, ${formatCount(summary?.count)} messages)`;
  return {
    title: `Latency: ${formatCount(messages)} critical messages at 1/s, publisher's send → subscriber's receive, p50 / p90 / p99`,
    rows: runs.flatMap(({ label, subscribed, summary }) => {
      const byRoute = summary.latencyByRoute;
      return [
        [label, `${formatCount(summary.delivered)} / ${formatCount(summary.expected)} delivered`],
        ...(byRoute && byRoute.crossRegion
          ? ([
              ['  same region', percentiles(byRoute.sameRegion)],
              ['  cross region', percentiles(byRoute.crossRegion)],
            ] as const)
          : ([['  same region', percentiles(summary.latencyMs)]] as const)),
        ...(subscribed > 1 ? ([['  per message, same region: first delivery, p50 / p90', burstFigures(summary.sameRegionBurst?.firstMs)], ['  per message, same region: first → last, p50 / p90', burstFigures(summary.sameRegionBurst?.spreadMs)]] as const) : []),
      ] as const;
    }),
  };
}

/** Sequenced messages every subscriber must have received exactly once, by (origin, seq). */
interface DeliveryCheck {
  label: string;
  summary: PhaseSummary;
  /** Whether a loss or duplicate fails the run (Relaymesh's deliveries), or is only reported (the baseline's). */
  enforced: boolean;
}

const checkPassed = ({ summary }: DeliveryCheck): boolean => summary.missing === 0 && summary.duplicates === 0;

function deliveryCheckSection(checks: DeliveryCheck[]): TableSection {
  return {
    title: "Delivery check: every (origin, seq) × every subscriber, exactly once (a Relaymesh failure exits 1)",
    rows: checks.map((check) => {
      const { label, summary } = check;
      const verdict = checkPassed(check) ? 'OK' : check.enforced ? 'FAILED' : 'reported only: the sample never retries a failed post';
      return [label, `${formatCount(summary.expected)} expected: ${formatCount(summary.missing)} lost, ${formatCount(summary.duplicates)} duplicated  ${verdict}`] as const;
    }),
  };
}

interface ReportInput {
  options: Options;
  config: RelaymeshConfig;
  ready: ReadyReport;
  critical: PhaseResult;
  ephemeral: PhaseResult;
  memory: { bench: ProcessMemory; subscribers: ProcessMemory; jvm?: ProcessMemory };
}

function machine() {
  const cpuList = cpus();
  return { cpus: cpuList.length, cpuModel: cpuList[0]?.model, node: process.version, platform: `${process.platform}/${process.arch}`, totalMemoryBytes: totalmem(), date: new Date().toISOString() };
}

function machineSection(): TableSection {
  const m = machine();
  return {
    title: 'Machine',
    rows: [
      ['machine', `${m.cpus} × ${m.cpuModel ?? 'cpu'}, ${formatBytes(m.totalMemoryBytes)} RAM, ${m.platform}, load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`],
      ['node', m.node],
      ['date', m.date],
    ],
  };
}

function buildReport({ options, config, ready, critical, ephemeral, memory }: ReportInput) {
  const throttleRaised = options.accountRps !== undefined || options.accountBurst !== undefined;
  const c = critical.summary;
  const e = ephemeral.summary;
  const deliverySpanMs = c.lastReceivedAt === undefined ? undefined : c.lastReceivedAt - critical.publishStartedAt;
  const deliveriesPerSecond = deliverySpanMs ? ratio(c.delivered * 1000, deliverySpanMs) : undefined;

  const json = {
    machine: machine(),
    setup: {
      regions: config.regions,
      subscribersRequested: options.subscribers,
      subscribed: ready.subscribed,
      subscribeFailures: ready.failed,
      connectSubscribeMs: ready.elapsedMs,
      accountThrottle: { ratePerSecond: config.limits.accountRatePerSecond, burst: config.limits.accountBurst, raised: throttleRaised },
      replicationLagMs: config.local.replicationLagMs,
      workerMaxConcurrency: options.workerConcurrency,
    },
    critical: {
      messages: options.messages,
      publishMode: options.publishRate === 0 ? 'ack-paced' : `${options.publishRate}/s`,
      publishMs: critical.publishEndedAt - critical.publishStartedAt,
      publishErrors: critical.publishErrors,
      ...c,
      deliverySpanMs,
      deliveriesPerSecond,
      worker: critical.worker,
      perDeliveredEvent: critical.perEvent,
    },
    ephemeral: {
      eventsPublished: ephemeral.published,
      ratePerSecond: options.ephemeralRate,
      publishErrors: ephemeral.publishErrors,
      ...e,
      dropped: e.missing,
      framesPerDeliveredEvent: ratio(e.frames, e.delivered),
      worker: ephemeral.worker,
      perDeliveredEvent: ephemeral.perEvent,
    },
    memory,
  };

  const latencyRows = (summary: PhaseSummary) =>
    [
      ['latency p50 / p90 / p99', [summary.latencyMs?.p50, summary.latencyMs?.p90, summary.latencyMs?.p99].map(formatMs).join(' / ')],
      ['latency max', formatMs(summary.latencyMs?.max)],
    ] as const;
  const workerRows = (result: PhaseResult) => {
    const w = result.worker;
    return [
      ['SQS records processed (all regions)', formatCount(w.records ?? 0)],
      ['DynamoDB items read / delivered event', `${formatDecimal(result.perEvent.itemsReadPerEvent)}  (from ${result.perEvent.itemsReadSource})`],
      ['PostToConnection calls / delivered event', `${formatDecimal(result.perEvent.postsPerEvent)}  (delivered: ${result.perEvent.deliveredSource})`],
      ...(result.perEvent.framesPerEvent === undefined
        ? []
        : ([['frames sent / delivered event (worker "frames")', formatDecimal(result.perEvent.framesPerEvent)]] as const)),
      ['410 gone / failed batch items / expired / dedup-dropped', [w.gone, w.failed, w.expired, w.duplicates].map((n) => formatCount(n)).join(' / ')],
      ['left queued / dead-lettered at the end', `${formatCount(result.backlog.queued)} / ${formatCount(result.backlog.deadLettered)}`],
    ] as const;
  };
  const lateRows = (summary: PhaseSummary) =>
    summary.unexpected ? ([['deliveries of messages whose publish got no ack', formatCount(summary.unexpected)]] as const) : [];
  const publishErrorsRow = (result: PhaseResult) =>
    ['publish errors', result.publishErrors ? `${result.publishErrors} (first: ${result.firstPublishError})` : '0'] as const;

  const sections: TableSection[] = [
    {
      title: 'Setup',
      rows: [
        ...machineSection().rows,
        ['regions', config.regions.join(', ')],
        ['subscribers (subscribed / requested)', `${formatCount(ready.subscribed)} / ${formatCount(options.subscribers)}${ready.failed ? `  (${ready.failed} failed: ${ready.firstError})` : ''}`],
        ['connect + subscribe', `${formatSeconds(ready.elapsedMs)}  (${formatDecimal(ratio(ready.subscribed * 1000, ready.elapsedMs))} sockets/s, ${options.concurrency} at a time)`],
        [
          'API Gateway account throttle (per region)',
          `${formatCount(config.limits.accountRatePerSecond)} rps, burst ${formatCount(config.limits.accountBurst)}  (${throttleRaised ? 'RAISED for this run' : 'AWS default'})`,
        ],
        [
          'delivery worker max concurrency',
          `${options.workerConcurrency} per queue and region  (config default: ${EVENT_CLASSES.map((k) => `${DEFAULT_CONFIG.eventClasses[k].maxConcurrency} ${k}`).join(', ')})`,
        ],
        ['replication lag (simulated)', formatMs(config.local.replicationLagMs)],
      ],
    },
    {
      title: `Critical fan-out: ${formatCount(options.messages)} messages × ${formatCount(ready.subscribed)} subscribers`,
      rows: [
        ['publish', `${formatSeconds(json.critical.publishMs)}  (${json.critical.publishMode}, alternating ${config.regions.length} regions)`],
        publishErrorsRow(critical),
        ['deliveries (received / expected)', `${formatCount(c.delivered)} / ${formatCount(c.expected)}`],
        ['missing', formatCount(c.missing)],
        ['duplicates', formatCount(c.duplicates)],
        ...lateRows(c),
        ['deliveries / s (first publish → last receive)', `${formatCount(deliveriesPerSecond)}  (over ${formatSeconds(deliverySpanMs)})`],
        ...latencyRows(c),
        ...workerRows(critical),
      ],
    },
    {
      title: `Ephemeral: ${formatCount(json.ephemeral.eventsPublished)} events at ${options.ephemeralRate}/s × ${formatCount(ready.subscribed)} subscribers`,
      rows: [
        publishErrorsRow(ephemeral),
        ['events delivered / expected', `${formatCount(e.delivered)} / ${formatCount(e.expected)}`],
        ['dropped (expected − delivered)', formatCount(e.missing)],
        ['duplicates', formatCount(e.duplicates)],
        ...lateRows(e),
        ['WebSocket frames received', `${formatCount(e.frames)}  (${formatDecimal(ratio(e.frames, ready.subscribed))} per subscriber)`],
        ['frames / delivered event', formatDecimal(json.ephemeral.framesPerDeliveredEvent)],
        ...latencyRows(e),
        ...workerRows(ephemeral),
      ],
    },
    {
      title: 'Memory (RSS now / peak)',
      rows: [
        ['bench process (the whole local cloud)', memoryRow(memory.bench)],
        ['subscriber process (client sockets)', memoryRow(memory.subscribers)],
        ['DynamoDB Local JVM', memoryRow(memory.jvm)],
      ],
    },
  ];
  return { sections, json };
}

/** The Lambda bundles (bench/bundles.ts), untraced and traced: what a cold start loads. */
async function printBundles(runs: number): Promise<void> {
  const outDir = mkdtempSync(join(tmpdir(), 'relaymesh-bundles-'));
  try {
    const sections: TableSection[] = [];
    for (const tracing of [false, true]) {
      log(`building and timing the Lambda bundles, tracing ${tracing ? 'on' : 'off'}`);
      sections.push(bundleSection(await measureBundles(join(outDir, String(tracing)), { tracing, runs }), { tracing, runs }));
    }
    console.log(`\n${formatTable(sections)}\n`);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

const memoryRow = (memory: ProcessMemory | undefined) =>
  memory ? `${formatBytes(memory.rssBytes)} / ${formatBytes(memory.peakRssBytes)}` : 'n/a';

main().then(
  () => log(`done in ${formatSeconds(Date.now() - started)}`),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = interrupted.signal.aborted ? 130 : 1;
  },
);
