import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { loadConfig, LOG_LEVELS, type LogLevel } from '../lib/config';
import { startLocalCloud, type LocalCloud, type LocalCloudDescription } from './cloud';
import { FaultSettingsSchema, type FaultSettings } from './faults';
import { keptJwtSecret, MIN_JWT_SECRET_LENGTH } from './jwt-secret';
import { assertPortsFree } from './ports';

/** `npm start`: the whole system on loopback, described in .relaymesh/local.json. */

const integerIn = (min: number, max: number, what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be ${what} (${min}-${max})`);
  return n;
};
const port = integerIn(0, 65_535, 'a port number');
const milliseconds = integerIn(0, 60_000, 'milliseconds');

/** An option parsed by a zod schema; its first issue becomes commander's one-line error. */
const parsedBy =
  <T>(schema: z.ZodType<T, string>) =>
  (value: string): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
    return parsed.data;
  };
/** The fault settings' own field schemas, so the flags accept exactly what startLocalCloud does. */
const fault = FaultSettingsSchema.shape;
const numberFor = <T>(field: z.ZodType<T, number>) => parsedBy(z.string().trim().min(1, 'must be a number').transform(Number).pipe(field));
const fraction = numberFor(fault.postThrottleRate.unwrap());
const lagRange = parsedBy(
  z
    .string()
    .regex(/^\d+-\d+$/, 'must be MIN-MAX in milliseconds, e.g. 50-800')
    .transform((range) => {
      const [min, max] = range.split('-').map(Number);
      return { min: min!, max: max! };
    })
    .pipe(fault.replicationLagMs.unwrap().unwrap()),
);

/** The handlers' log level, given as debug, info, warn or error (any case). */
const logLevel = parsedBy(
  z
    .string()
    .transform((level) => level.toUpperCase())
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.map((level) => level.toLowerCase()).join(', ')}` })),
);

const program = new Command()
  .name('relaymesh-local')
  .description('Runs every Relaymesh region of the config on loopback, with the same handler code as on AWS.')
  .option('--config <file>', 'cdk.json whose context key "relaymesh" holds the config', 'cdk.json')
  .option('--regions <list>', 'comma-separated regions, overriding the config (first = primary)')
  .option('--edge-port <port>', 'the Global Accelerator stand-in', port, 4500)
  .option('--region-port <port>', "first region's WebSocket API port; the next regions take the next ports", port, 4501)
  .option('--dynamodb-port <port>', 'DynamoDB Local', port, 4510)
  .option('--messaging-port <port>', 'SNS and SQS (fauxqs)', port, 4511)
  .option('--replication-lag-ms <ms>', 'simulated global-table replication lag', milliseconds)
  .option('--log-level <debug|info|warn|error>', "the handlers' log lines: debug adds one per invocation and per delivered batch (default: the config's functions.logLevel, INFO)", logLevel)
  .option('--post-throttle-rate <0..1>', 'fault: fraction of PostToConnection calls answered 429 LimitExceededException', fraction)
  .option('--sns-failure-rate <0..1>', 'fault: fraction of SNS Publish calls answered 500 InternalError', fraction)
  .option('--dynamodb-failure-rate <0..1>', 'fault: fraction of DynamoDB calls answered 400 ProvisionedThroughputExceededException', fraction)
  .option('--replication-lag-jitter <min-max ms>', 'fault: replication lag jumping within this range every 2 s', lagRange)
  .option('--kill-rate <0..1>', 'fault: fraction of delivery-worker invocations killed (their batch comes back)', fraction)
  .option('--kill-after-calls <n>', 'fault: AWS calls a killed invocation makes before it dies', numberFor(fault.killAfterCalls.unwrap()))
  .option('--fault-seed <n>', 'seed of the fault schedule', numberFor(z.number().int('must be a whole number')), 1)
  .option('--state-file <file>', 'where to describe the running cloud (removed when it stops)', '.relaymesh/local.json')
  .option('--persist [dir]', 'keep DynamoDB state (connections, subscriptions, counters, history) across restarts in this directory (default .relaymesh/data)')
  .option('--commands', 'read game-day commands (drain, undrain, fail, restore <region>; status) from stdin (default: when stdin is a terminal)')
  .option('--no-commands', 'ignore stdin even on a terminal')
  .option(
    '--jwt-secret <secret>',
    `HS256 secret for tokens (${MIN_JWT_SECRET_LENGTH}+ characters); default: $RELAYMESH_JWT_SECRET, else one generated once and kept in .relaymesh/jwt-secret so tokens survive restarts`,
    parsedBy(z.string().min(MIN_JWT_SECRET_LENGTH, `must be at least ${MIN_JWT_SECRET_LENGTH} characters`)),
  );

async function main(): Promise<void> {
  const opts = program.parse().opts<{
    config: string;
    regions?: string;
    edgePort: number;
    regionPort: number;
    dynamodbPort: number;
    messagingPort: number;
    replicationLagMs?: number;
    logLevel?: LogLevel;
    stateFile: string;
    persist?: true | string;
    commands?: boolean;
    postThrottleRate?: number;
    snsFailureRate?: number;
    dynamodbFailureRate?: number;
    replicationLagJitter?: { min: number; max: number };
    killRate?: number;
    killAfterCalls?: number;
    faultSeed: number;
    jwtSecret?: string;
  }>();
  const input = await readConfigContext(opts.config);
  const config = loadConfig({
    ...input,
    ...(opts.regions && { regions: opts.regions.split(',').map((r) => r.trim()) }),
    ...(opts.replicationLagMs !== undefined && { local: { ...(input.local as object), replicationLagMs: opts.replicationLagMs } }),
  });

  await assertPortsFree([
    { port: opts.edgePort, component: 'the edge (Global Accelerator stand-in)', flag: '--edge-port' },
    ...config.regions.map((region, i) => ({ port: opts.regionPort + i, component: `${region}'s WebSocket API`, flag: '--region-port' })),
    { port: opts.dynamodbPort, component: 'DynamoDB Local', flag: '--dynamodb-port' },
    { port: opts.messagingPort, component: 'SNS/SQS (fauxqs)', flag: '--messaging-port' },
  ]);
  // Until the cloud is up, Ctrl-C exits at once; exiting runs the 'exit' hook that kills the
  // DynamoDB Local JVM (in its own process group, the terminal's SIGINT never reaches it).
  const abortStartup = () => process.exit(130);
  process.once('SIGINT', abortStartup);
  process.once('SIGTERM', abortStartup);

  const started = Date.now();
  console.log(`Starting Relaymesh locally: ${config.regions.join(', ')} ...`);
  const cloud = await startLocalCloud({
    config,
    jwtSecret: opts.jwtSecret ?? (await keptJwtSecret(resolve(dirname(opts.stateFile), 'jwt-secret'))),
    ports: {
      edge: opts.edgePort,
      dynamodb: opts.dynamodbPort,
      messaging: opts.messagingPort,
      regions: config.regions.map((_, i) => opts.regionPort + i),
    },
    faults: {
      postThrottleRate: opts.postThrottleRate,
      snsFailureRate: opts.snsFailureRate,
      dynamodbFailureRate: opts.dynamodbFailureRate,
      replicationLagMs: opts.replicationLagJitter,
      killRate: opts.killRate,
      killAfterCalls: opts.killAfterCalls,
    } satisfies FaultSettings,
    faultSeed: opts.faultSeed,
    logLevel: opts.logLevel ?? config.functions.logLevel,
    ...(opts.persist !== undefined && { persistDir: opts.persist === true ? resolve(dirname(opts.stateFile), 'data') : opts.persist }),
  });
  const stateFile = resolve(opts.stateFile);
  await mkdir(dirname(stateFile), { recursive: true });
  // pid and start time tell a reader whether the file describes a cloud that still runs.
  await writeFile(stateFile, `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), ...cloud.description }, null, 2)}\n`);
  console.log(describe(cloud.description, stateFile, Date.now() - started));

  process.off('SIGINT', abortStartup);
  process.off('SIGTERM', abortStartup);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping every region ...`);
    await cloud.stop();
    await rm(stateFile, { force: true });
    console.log('Stopped.');
    process.exit(0);
  };
  // Last line of defence: a bug in a handler path is logged, and every other client keeps being served.
  process.on('unhandledRejection', (reason) => console.error('[relaymesh] unhandled rejection (a bug; the cloud keeps serving):', reason));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (opts.commands ?? process.stdin.isTTY === true) acceptCommands(cloud);
}

async function readConfigContext(file: string): Promise<Record<string, unknown>> {
  try {
    const cdkJson = JSON.parse(await readFile(file, 'utf8')) as { context?: { relaymesh?: Record<string, unknown> } };
    return cdkJson.context?.relaymesh ?? {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`Cannot read the config from ${file}: ${(error as Error).message}`);
  }
}

/** Game-day commands typed while the cloud runs. */
function acceptCommands(cloud: LocalCloud): void {
  const commands: Record<string, (region: string) => Promise<void>> = {
    fail: (r) => cloud.fail(r),
    restore: (r) => cloud.restore(r),
    drain: (r) => cloud.drain(r, true),
    undrain: (r) => cloud.drain(r, false),
  };
  const help = `Commands: ${Object.keys(commands).map((c) => `${c} <region>`).join(', ')}, status`;
  console.log(help);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, region] = line.trim().split(/\s+/);
    if (!command) return;
    if (command === 'status') {
      console.log(`healthy regions: ${cloud.edge.healthyRegions().join(', ') || 'none'}`);
      console.log(`faults injected so far: ${JSON.stringify(cloud.faults.stats())}`);
      const firing = cloud.alarms().filter((a) => a.state === 'ALARM');
      console.log(`alarms in ALARM: ${firing.map((a) => `${a.name} (${a.region}) since ${a.since}`).join(', ') || 'none'}`);
      // The terminal keeps to one screen; the CLI has every figure of every region.
      return void console.log(`every figure of every region: npx relaymesh status [--watch], or ${cloud.description.edgeUrl}/dashboard`);
    }
    const run = commands[command];
    if (!run || !region) return void console.log(help);
    run(region).then(
      () => console.log(`${command} ${region}: done; healthy regions: ${cloud.edge.healthyRegions().join(', ') || 'none'}`),
      (error: unknown) => console.log(`${command} ${region}: ${(error as Error).message}`),
    );
  });
}

function describe(d: LocalCloudDescription, stateFile: string, elapsedMs: number): string {
  const [first, second] = Object.keys(d.regions);
  const lines = [
    `Relaymesh local cloud is up in ${(elapsedMs / 1000).toFixed(1)} s. Described in ${stateFile}.`,
    '',
    `Edge (Global Accelerator stand-in): ${d.edgeUrl}   GET /health, GET /v1/connect, POST /v1/publish`,
    `Dashboard (live figures, drain/fail buttons): ${d.edgeUrl}/dashboard`,
  ];
  const faults = describeFaults(d.faults);
  if (faults) lines.push('', faults);
  for (const [name, r] of Object.entries(d.regions)) {
    lines.push(
      '',
      `Region ${name}`,
      `  WebSocket API        ${r.websocketUrl}`,
      `  @connections API     ${r.connectionsEndpoint}`,
      `  DynamoDB             ${r.dynamodbEndpoint}`,
      `  SNS / SQS            ${r.snsEndpoint}`,
    );
  }
  lines.push(
    '',
    `Dev token (subscribe and publish anywhere, 12 h):`,
    `  ${d.devToken}`,
    '',
    'Try it: subscribe in one region, publish from another',
    `  npx wscat -c "${d.regions[first!]!.websocketUrl}?token=${d.devToken}" -x '{"action":"subscribe","channel":"room:1"}' -w 600`,
    `  npx wscat -c "${d.regions[second!]!.websocketUrl}?token=${d.devToken}" -x '{"action":"publish","channel":"room:1","data":{"text":"hello"}}'`,
    '',
    'AWS CLI against a region (DynamoDB Local keeps one database per access key and region):',
    `  export AWS_ACCESS_KEY_ID=${d.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${d.credentials.secretAccessKey}`,
    `  aws dynamodb list-tables --region ${first} --endpoint-url ${d.regions[first!]!.dynamodbEndpoint}`,
    `  aws sqs list-queues --region ${first} --endpoint-url ${d.regions[first!]!.sqsEndpoint}`,
    `  aws apigatewaymanagementapi post-to-connection --region ${first} --endpoint-url ${d.regions[first!]!.connectionsEndpoint} --connection-id <id> --data '{"hello":1}'`,
    '',
    'Ctrl-C stops every region.',
  );
  return lines.join('\n');
}

function describeFaults(f: LocalCloudDescription['faults']): string | undefined {
  const percent = (rate: number) => `${Math.round(rate * 1000) / 10}%`;
  const on = [
    f.postThrottleRate > 0 && `${percent(f.postThrottleRate)} of PostToConnection calls throttled`,
    f.snsFailureRate > 0 && `${percent(f.snsFailureRate)} of SNS publishes failing`,
    f.dynamodbFailureRate > 0 && `${percent(f.dynamodbFailureRate)} of DynamoDB calls throttled`,
    f.replicationLagMs && `replication lag jumping within ${f.replicationLagMs.min}-${f.replicationLagMs.max} ms`,
    f.killRate > 0 && `${percent(f.killRate)} of delivery workers killed after ${f.killAfterCalls} AWS call(s)`,
  ].filter((fault) => typeof fault === 'string');
  return on.length > 0 ? `Faults injected (seed ${f.seed}): ${on.join('; ')}` : undefined;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
