import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Figure, RegionStatus } from '../../local/status';
import type { Io } from '../cli-support';
import { count, duration, renderTable } from '../format';
import { addTargetOptions, resolveTarget, type TargetOptions } from '../target';
import { readStatus } from './sources';

/** How often --watch refreshes. */
export const WATCH_INTERVAL_MS = 2000;
/** Clears the terminal and puts the cursor home, so each refresh replaces the last. */
export const CLEAR_SCREEN = '\x1b[2J\x1b[H';

interface StatusOptions extends TargetOptions {
  json?: boolean;
  watch?: boolean;
}

const figure = (value: Figure, show: (n: number) => string = count): string => (typeof value === 'number' ? show(value) : 'n/a');
const flag = (value: boolean | { na: string }): string => (typeof value === 'boolean' ? (value ? 'yes' : 'no') : 'n/a');

/** One region's figures as the terminal shows them: a summary line, its queues, and its alarms not OK. */
export function renderRegion(status: RegionStatus): string {
  const summary = renderTable(
    ['region', 'health', 'drained', 'failed', 'connections', 'subscriptions', 'replication lag', 'deliveries/s'],
    [
      [
        status.region,
        'na' in status.health ? 'n/a' : `${status.health.healthy ? 'healthy' : 'unhealthy'} (${status.health.detail})`,
        flag(status.drained),
        flag(status.failed),
        figure(status.connections),
        figure(status.subscriptions),
        figure(status.replicationLagMs, (ms) => `${count(ms)} ms`),
        figure(status.deliveriesPerSecond),
      ],
    ],
  );
  const queues = renderTable(
    ['  queue', 'visible', 'in flight', 'oldest', 'DLQ'],
    status.queues.map((q) => [`  ${q.eventClass}`, figure(q.visible), figure(q.inFlight), figure(q.oldestAgeSeconds, duration), figure(q.deadLetters)]),
    ['left', 'right', 'right', 'right', 'right'],
  );
  const firing = status.alarms.filter((a) => a.state === 'ALARM');
  const alarms =
    firing.length === 0
      ? `  alarms: ${status.alarms.length} defined, none in ALARM`
      : ['  alarms in ALARM:', ...firing.map((a) => `    ${a.name} since ${a.since}: ${a.reason}`)].join('\n');
  const notAvailable = [...new Set(figuresNotAvailable(status))].map((reason) => `  n/a: ${reason}`);
  return [summary, queues, alarms, ...notAvailable].join('\n');
}

function figuresNotAvailable(status: RegionStatus): string[] {
  const values: Array<Figure | boolean | RegionStatus['health']> = [
    status.health,
    status.drained,
    status.connections,
    status.replicationLagMs,
    status.deliveriesPerSecond,
    ...status.queues.map((q) => q.oldestAgeSeconds),
  ];
  return values.flatMap((v) => (typeof v === 'object' && 'na' in v ? [v.na] : []));
}

export function addStatusCommand(program: Command, io: Io): void {
  addTargetOptions(program.command('status').description('per region: health, drained/failed, connections, subscriptions, queues, DLQs, alarms, replication lag, deliveries/s'))
    .option('--json', 'print JSON')
    .option('--watch', `refresh every ${WATCH_INTERVAL_MS / 1000} s until interrupted`)
    .action(async (options: StatusOptions) => {
      const target = await resolveTarget(options, io);
      const stop = new AbortController();
      const onInterrupt = () => stop.abort();
      // Only a watch is stopped by Ctrl-C on purpose (ending cleanly); a single status keeps the default.
      if (options.watch) process.once('SIGINT', onInterrupt);
      try {
        do {
          const status = await readStatus(target);
          if (target.kind === 'aws' && target.dryRun) {
            io.out('Dry run: the calls above were printed, none was made.');
            return;
          }
          const text = options.json ? JSON.stringify(status, null, 2) : [`status at ${status.at}`, ...status.regions.map(renderRegion)].join('\n\n');
          io.out(options.watch ? `${CLEAR_SCREEN}${text}` : text);
          if (options.watch) await sleep(WATCH_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
        } while (options.watch && !stop.signal.aborted);
      } finally {
        process.off('SIGINT', onInterrupt);
        target.close();
      }
    });
}
