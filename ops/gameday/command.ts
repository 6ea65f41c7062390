import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import WebSocket from 'ws';
import { RelaymeshClient, type RelaymeshClientOptions } from '../../client/src';
import { mintToken } from '../../local/dev-token';
import { nonNegativeNumber, OpsError, positiveInteger, positiveNumber, type Io } from '../cli-support';
import { addTargetOptions, resolveTarget, type AwsTarget, type LocalTarget, type TargetOptions } from '../target';
import { runDrill, type DrillPorts } from './drill';
import { DOWN_MODES, drillPlan, drillSchedule, PUBLISH_CLASSES, type DownMode, type DrillPlan } from './plan';
import { renderHtml, renderSummary } from './render';
import { buildReport, type GamedayReport } from './report';
import { awsSwitch, findEndpointGroupArn, localSwitch, type RegionSwitch } from './switches';

/** A broken guarantee: distinct from the 1 of a drill that could not run. */
export const GUARANTEE_BROKEN_EXIT_CODE = 2;

interface GamedayOptions extends TargetOptions {
  clients: number;
  channels?: number;
  rate: number;
  class: DrillPlan['eventClass'];
  down: string;
  mode: DownMode;
  at: number;
  for: number;
  duration: number;
  settle: number;
  out: string;
  edgeUrl?: string;
  token?: string;
  endpointGroupArn?: string;
}

/**
 * Subscribers per channel by default: enough for every channel to have some in each region,
 * few enough that 200 clients at 50 messages/s (10,000 deliveries/s at one channel) stay
 * within what the one-thread local cloud delivers (README, Benchmark).
 */
const CLIENTS_PER_CHANNEL = 4;

/** How the command makes SDK clients: tests wrap them to count what each app was handed. */
export interface GamedayDeps {
  createClient(options: RelaymeshClientOptions, index: number): RelaymeshClient;
}

const DEFAULT_DEPS: GamedayDeps = { createClient: (options) => new RelaymeshClient(options) };

/** `20250501T120000Z`: an ISO 8601 time that is also a portable file name. */
const fileTime = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/** Writes `gameday-<time>.html` and `.json` into `dir`; returns their paths. */
export async function writeReport(report: GamedayReport, dir: string): Promise<{ html: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const base = join(resolve(dir), `gameday-${fileTime(report.startedAt)}`);
  const paths = { html: `${base}.html`, json: `${base}.json` };
  await writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(paths.html, renderHtml(report));
  return paths;
}

/** Which region a regional WebSocket URL belongs to: the local cloud's own list, else the region its host names (execute-api URLs do). */
function regionResolver(regions: readonly string[], known: Record<string, string>) {
  return (url: string | undefined) => (url === undefined ? 'not connected' : (known[url] ?? regions.find((r) => url.includes(r)) ?? 'unknown'));
}

function localPorts(target: LocalTarget, plan: DrillPlan, deps: GamedayDeps, io: Io): Omit<DrillPorts, keyof RegionSwitch> & RegionSwitch {
  const { cloud, stateFile } = target;
  const { edgeUrl, jwtSecret } = cloud;
  if (!edgeUrl || !jwtSecret) throw new OpsError(`${stateFile} names no edge URL or JWT secret: it was written by an older \`npm start\`; restart it.`);
  const known = Object.fromEntries(Object.entries(cloud.regions).flatMap(([region, r]) => (r.websocketUrl ? [[r.websocketUrl, region]] : [])));
  return {
    client: (index, near) =>
      deps.createClient(
        // The near hint as a path prefix: the SDK asks <edge>/near/<region>/v1/connect, so the client plays a user near that region.
        { edgeUrl: `${edgeUrl}/near/${near}`, getToken: () => mintToken(jwtSecret, { sub: `gameday-${index}`, subscribe: ['*'], publish: ['*'] }), WebSocket },
        index,
      ),
    regionOf: regionResolver(plan.regions, known),
    ...localSwitch(edgeUrl, plan.down, plan.mode),
    progress: (line) => io.out(line),
  };
}

function awsSwitchFor(target: AwsTarget, plan: DrillPlan, endpointGroupArn: string | undefined): RegionSwitch {
  let found: Promise<string> | undefined;
  return awsSwitch(target, target.appName, plan.down, plan.mode, () => (found ??= endpointGroupArn ? Promise.resolve(endpointGroupArn) : findEndpointGroupArn(target.globalAccelerator(), target.appName, plan.down)));
}

export function addGamedayCommand(program: Command, io: Io, deps: GamedayDeps = DEFAULT_DEPS): void {
  addTargetOptions(
    program
      .command('gameday')
      .description('a scripted failover drill: clients through the edge publish and subscribe while a region is taken down and brought back; reports every acknowledged critical message lost, duplicated or out of order'),
  )
    .option('--clients <n>', 'SDK clients, each subscribed to one channel and publishing in turn; spread over the regions (local cloud)', positiveInteger, 20)
    .option('--channels <n>', `channels the clients are spread over (default: one for every ${CLIENTS_PER_CHANNEL} clients)`, positiveInteger)
    .option('--rate <messages/s>', 'publishes a second, all channels together', positiveNumber, 10)
    .addOption(new Option('--class <class>', 'event class of the publishes').choices(PUBLISH_CLASSES).default('critical'))
    .requiredOption('--down <region>', 'the region to take down')
    .addOption(new Option('--mode <how>', 'drain: its health fails on purpose (existing sockets stay); fail: it stops serving').choices(DOWN_MODES).default('fail'))
    .option('--at <seconds>', 'when to take it down, from the first publish', nonNegativeNumber, 30)
    .option('--for <seconds>', 'how long it stays down', positiveNumber, 30)
    .option('--duration <seconds>', 'how long to publish', positiveNumber, 90)
    .option('--settle <seconds>', 'after the last publish: wait for every subscriber to have every acknowledged message until nothing has arrived for this long (at most 10 times this in all)', nonNegativeNumber, 60)
    .option('--out <dir>', 'where to write gameday-<time>.html and .json', '.')
    .option('--edge-url <url>', 'with --aws: the edge clients ask where to connect (the accelerator\'s DNS name, the EdgeUrl output)')
    .option('--token <jwt>', 'with --aws: the token every client connects with (default: $RELAYMESH_TOKEN)')
    .option('--endpoint-group-arn <arn>', 'with --aws --mode fail: the down region\'s endpoint group (default: looked up in the accelerator the edge stack names)')
    .action(async (options: GamedayOptions) => {
      const schedule = drillSchedule({
        clients: options.clients,
        channels: options.channels ?? Math.ceil(options.clients / CLIENTS_PER_CHANNEL),
        rate: options.rate,
        eventClass: options.class,
        mode: options.mode,
        atSeconds: options.at,
        forSeconds: options.for,
        durationSeconds: options.duration,
        settleSeconds: options.settle,
      });
      const target = await resolveTarget(options, io);
      try {
        const plan = drillPlan(schedule, target.regions, options.down);
        let ports: DrillPorts;
        if (target.kind === 'local') ports = localPorts(target, plan, deps, io);
        else {
          const regionSwitch = awsSwitchFor(target, plan, options.endpointGroupArn);
          if (target.dryRun) return await printAwsPlan(plan, regionSwitch, io);
          const edgeUrl = options.edgeUrl;
          const token = options.token ?? process.env.RELAYMESH_TOKEN;
          if (!edgeUrl) throw new OpsError('--aws: pass --edge-url, the accelerator\'s edge URL (the edge stack\'s EdgeUrl output), for the clients to connect through.');
          if (!token) throw new OpsError('--aws: pass --token (or set RELAYMESH_TOKEN): a token your auth service issued that may subscribe and publish on gameday-* channels.');
          ports = {
            client: (index) => deps.createClient({ edgeUrl, token, WebSocket }, index),
            regionOf: regionResolver(plan.regions, {}),
            ...regionSwitch,
            progress: (line) => io.out(line),
          };
        }
        const run = await runDrill(plan, ports, randomBytes(4).toString('hex'));
        const report = buildReport(run);
        const paths = await writeReport(report, options.out);
        io.out(`\n${renderSummary(report)}\n\nReport: ${paths.html}\nFigures: ${paths.json}`);
        if (!report.verdict.guaranteesHeld) throw new OpsError(`Guarantee broken (${report.verdict.violationCount} violations): see ${paths.html}`, GUARANTEE_BROKEN_EXIT_CODE);
      } finally {
        target.close();
      }
    });
}

/** --aws --dry-run: the schedule, and every AWS call the drill would make, printed as it goes. */
async function printAwsPlan(plan: DrillPlan, regionSwitch: RegionSwitch, io: Io): Promise<void> {
  io.out(`At ${plan.atSeconds} s: take ${plan.down} down (${plan.mode})`);
  await regionSwitch.takeDown();
  io.out(`At ${plan.atSeconds + plan.forSeconds} s: bring ${plan.down} back`);
  await regionSwitch.bringBack();
  io.out(`Dry run: the calls above were printed, none was made; no client was started.`);
}
