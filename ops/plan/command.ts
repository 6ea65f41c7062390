import { Command, Option } from 'commander';
import { loadConfig } from '../../lib/config';
import { nonNegativeNumber, OpsError, readConfig, regionList, type Io } from '../cli-support';
import { count } from '../format';
import { computePlan, planInputSchema, type PlanInputOptions } from './model';
import { renderPlan } from './render';

interface PlanOptions {
  config: string;
  regions?: string[];
  connections?: number;
  connectsPerSecond?: number;
  connectsPerConnectionHour?: number;
  subscriptions?: number;
  critical?: number;
  ephemeral?: number;
  fanout?: number;
  messageBytes?: number;
  historyTtlHours?: number;
  peakToAverage?: number;
  heartbeatSeconds?: number;
  ephemeralFramesPerEvent?: number;
  json?: boolean;
}

/** The option that sets each model input, to name it in an error. */
const FLAG_OF: Record<string, string> = {
  regions: '--regions',
  peakConnections: '--connections',
  'connectChurn.connects': '--connects-per-second / --connects-per-connection-hour',
  subscriptionsPerConnection: '--subscriptions',
  'messagesPerSecond.critical': '--critical',
  'messagesPerSecond.ephemeral': '--ephemeral',
  meanFanout: '--fanout',
  messageBytes: '--message-bytes',
  historyTtlHours: '--history-ttl-hours',
  peakToAverage: '--peak-to-average',
  heartbeatSeconds: '--heartbeat-seconds',
  ephemeralFramesPerEvent: '--ephemeral-frames-per-event',
};

export function addPlanCommand(program: Command, io: Io): void {
  // The model's own defaults (those of the default config), for the help text.
  const defaults = planInputSchema(loadConfig({})).parse({});
  const number = (flags: string, description: string) => new Option(flags, description).argParser(nonNegativeNumber);
  program
    .command('plan')
    .description('Capacity and cost of a workload: monthly cost per AWS part and region, cost per million deliveries, idle cost, headroom against each quota')
    .option('--config <file>', 'cdk.json holding the config (context key "relaymesh")', 'cdk.json')
    .option('--regions <list>', 'comma-separated regions (default: the config\'s)', regionList)
    .addOption(number('--connections <n>', `concurrent connections at peak, all regions (default ${count(defaults.peakConnections)})`))
    .addOption(number('--connects-per-second <n>', 'new connections per second at peak, all regions').conflicts('connectsPerConnectionHour'))
    .addOption(number('--connects-per-connection-hour <n>', `new connections per connection and hour (default ${defaults.connectChurn.connects})`))
    .addOption(number('--subscriptions <n>', `channels per connection (default ${defaults.subscriptionsPerConnection})`))
    .addOption(number('--critical <messages/s>', `critical messages published per second at peak, all regions (default ${count(defaults.messagesPerSecond.critical)})`))
    .addOption(number('--ephemeral <messages/s>', `ephemeral events published per second at peak, all regions (default ${count(defaults.messagesPerSecond.ephemeral)})`))
    .addOption(number('--fanout <n>', `mean subscribers per message, across all regions (default ${count(defaults.meanFanout)})`))
    .addOption(number('--message-bytes <n>', `mean serialized data per message (default ${count(defaults.messageBytes)})`))
    .addOption(number('--history-ttl-hours <n>', 'history kept (default: the config\'s recovery.historyTtlHours)'))
    .addOption(number('--peak-to-average <ratio>', `peak ÷ average load; costs are for the average (default ${defaults.peakToAverage})`))
    .addOption(number('--heartbeat-seconds <n>', `client ping interval (default ${defaults.heartbeatSeconds}, the SDK's)`))
    .addOption(number('--ephemeral-frames-per-event <0..1>', `frames posted per ephemeral delivery: 1 uncoalesced, less coalesced (default ${defaults.ephemeralFramesPerEvent})`))
    .option('--json', 'print the plan as JSON')
    .action(async (options: PlanOptions) => {
      const config = await readConfig(options.config);
      const churn = options.connectsPerSecond ?? options.connectsPerConnectionHour;
      const requested: PlanInputOptions = {
        regions: options.regions,
        peakConnections: options.connections,
        connectChurn: churn === undefined ? undefined : { per: options.connectsPerSecond === undefined ? 'connection-hour' : 'second', connects: churn },
        subscriptionsPerConnection: options.subscriptions,
        messagesPerSecond: { critical: options.critical, ephemeral: options.ephemeral },
        meanFanout: options.fanout,
        messageBytes: options.messageBytes,
        historyTtlHours: options.historyTtlHours,
        peakToAverage: options.peakToAverage,
        heartbeatSeconds: options.heartbeatSeconds,
        ephemeralFramesPerEvent: options.ephemeralFramesPerEvent,
      };
      const parsed = planInputSchema(config).safeParse(requested);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const path = issue.path.join('.');
        throw new OpsError(`${FLAG_OF[path] ?? path}: ${issue.message}`);
      }
      const plan = computePlan(parsed.data, config);
      io.out(options.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
    });
}
