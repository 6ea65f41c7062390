import { readFile, stat } from 'node:fs/promises';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GlobalAcceleratorClient } from '@aws-sdk/client-global-accelerator';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { EVENT_CLASSES } from '../lib/config';
import { GLOBAL_ACCELERATOR_REGION } from '../lib/edge-names';
import { emptyDeploymentAnswer, formatCall, printCallsInstead, type AwsCall } from './aws-dry-run';
import { OpsError, readConfig, regionList, type Io } from './cli-support';
import { duration } from './format';

/** The options of every command that talks to a cloud: the local one by default, a deployed stack with --aws. */
export interface TargetOptions {
  aws?: boolean;
  dryRun?: boolean;
  regions?: string[];
  config: string;
  stateFile: string;
}

export function addTargetOptions(command: Command): Command {
  return command
    .option('--aws', 'a deployed stack (AWS SDK default credentials); default: the local cloud of `npm start`')
    .option('--dry-run', 'with --aws: print every AWS call (service, operation, input) instead of making it')
    .option('--regions <list>', 'comma-separated regions (default: every region of the local cloud, or of the config with --aws)', regionList)
    .addOption(new Option('--config <file>', 'cdk.json holding the config (context key "relaymesh"), for --aws').default('cdk.json'))
    .addOption(new Option('--state-file <file>', 'the local cloud\'s description, written by `npm start`').default('.relaymesh/local.json'));
}

const LocalQueuesSchema = z.object({ queueUrl: z.string(), queueArn: z.string(), dlqUrl: z.string(), dlqArn: z.string() });

/** The part of `.relaymesh/local.json` (LocalCloudDescription, local/cloud.ts) the commands use. */
export const LocalCloudFileSchema = z.object({
  /** The `npm start` process and its start time (files written before they were recorded lack them). */
  pid: z.number().int().positive().optional(),
  startedAt: z.string().optional(),
  regions: z.record(
    z.string(),
    z.object({
      sqsEndpoint: z.url(),
      queues: z.record(z.enum(EVENT_CLASSES), LocalQueuesSchema),
      /** The region's WebSocket API: how `relaymesh gameday` tells which region a client's socket is in. */
      websocketUrl: z.string().optional(),
    }),
  ),
  /** The edge, whose GET /status `relaymesh status` reads and where `relaymesh gameday` connects clients and throws the switches. */
  edgeUrl: z.url().optional(),
  /** The HS256 secret `relaymesh gameday` mints its clients' tokens with. */
  jwtSecret: z.string().optional(),
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }),
});
export type LocalCloudFile = z.output<typeof LocalCloudFileSchema>;

interface Clients {
  /** The regions the command covers. */
  readonly regions: readonly string[];
  sqs(region: string): SQSClient;
  close(): void;
}

export interface LocalTarget extends Clients {
  readonly kind: 'local';
  readonly stateFile: string;
  readonly cloud: LocalCloudFile;
}

export interface AwsTarget extends Clients {
  readonly kind: 'aws';
  readonly appName: string;
  readonly dryRun: boolean;
  cloudWatch(region: string): CloudWatchClient;
  ssm(region: string): SSMClient;
  /** In GLOBAL_ACCELERATOR_REGION, where the accelerator's API answers. */
  globalAccelerator(): GlobalAcceleratorClient;
}

export type Target = LocalTarget | AwsTarget;

/** One client per region and kind, made on first use, all destroyed by close(). */
function clientCache() {
  const made = new Map<string, { destroy(): void }>();
  return {
    get<C extends { destroy(): void }>(key: string, make: () => C): C {
      if (!made.has(key)) made.set(key, make());
      return made.get(key) as C;
    },
    close: () => made.forEach((client) => client.destroy()),
  };
}

export async function resolveTarget(options: TargetOptions, io: Io): Promise<Target> {
  if (options.dryRun && !options.aws) throw new OpsError('--dry-run prints the AWS calls a command would make: use it with --aws.');
  return options.aws ? awsTarget(options, io) : localTarget(options);
}

async function awsTarget(options: TargetOptions, io: Io): Promise<AwsTarget> {
  const config = await readConfig(options.config);
  const dryRun = options.dryRun === true;
  const clients = clientCache();
  const print = (call: AwsCall) => io.out(formatCall(call));
  const answer = emptyDeploymentAnswer(config);
  /** The client of `kind` in `region`, made once; with --dry-run it prints its calls instead. */
  const client = <C extends { destroy(): void; middlewareStack: object }>(kind: string, region: string, make: () => C): C =>
    clients.get(`${kind}/${region}`, () => (dryRun ? printCallsInstead(make(), region, print, answer) : make()));
  return {
    kind: 'aws',
    appName: config.appName,
    dryRun,
    regions: options.regions ?? config.regions,
    sqs: (region) => client('sqs', region, () => new SQSClient({ region })),
    cloudWatch: (region) => client('cloudwatch', region, () => new CloudWatchClient({ region })),
    ssm: (region) => client('ssm', region, () => new SSMClient({ region })),
    globalAccelerator: () => client('globalaccelerator', GLOBAL_ACCELERATOR_REGION, () => new GlobalAcceleratorClient({ region: GLOBAL_ACCELERATOR_REGION })),
    close: clients.close,
  };
}

async function localTarget(options: TargetOptions): Promise<LocalTarget> {
  const { stateFile } = options;
  let text: string;
  try {
    text = await readFile(stateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new OpsError(`No local cloud: ${stateFile} does not exist. Start one with \`npm start\` (it writes that file), or pass --aws for a deployed stack.`);
  }
  const parsed = LocalCloudFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OpsError(`${stateFile} does not describe a local cloud (${issue.path.join('.')}: ${issue.message}); restart \`npm start\` to write it again.`);
  }
  const cloud = parsed.data;
  const known = Object.keys(cloud.regions);
  const unknown = options.regions?.filter((r) => !known.includes(r)) ?? [];
  if (unknown.length > 0) throw new OpsError(`${unknown.join(', ')}: not a region of the local cloud in ${stateFile} (${known.join(', ')}).`);
  const regions = options.regions ?? known;

  // A description can outlive its cloud (a killed `npm start` leaves it): make sure it still runs and answers.
  const writtenAgo = duration((Date.now() - (await stat(stateFile)).mtimeMs) / 1000);
  if (cloud.pid !== undefined && !processRuns(cloud.pid)) {
    throw new OpsError(
      `The local cloud in ${stateFile} (pid ${cloud.pid}, started ${cloud.startedAt ?? `${writtenAgo} ago`}) no longer runs. Start it with \`npm start\`, or pass --aws for a deployed stack.`,
    );
  }
  for (const endpoint of new Set(regions.map((r) => cloud.regions[r]!.sqsEndpoint))) {
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
    } catch {
      throw new OpsError(
        `The local cloud in ${stateFile} (written ${writtenAgo} ago) does not answer at ${endpoint}: it has stopped. Start it with \`npm start\`, or pass --aws for a deployed stack.`,
      );
    }
  }

  const clients = clientCache();
  return {
    kind: 'local',
    stateFile,
    cloud,
    regions,
    sqs: (region) =>
      clients.get(`sqs/${region}`, () => new SQSClient({ region, endpoint: cloud.regions[region]!.sqsEndpoint, credentials: cloud.credentials })),
    close: clients.close,
  };
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
