import { Command } from 'commander';
import type { Io } from './cli-support';
import { addDlqCommand } from './dlq/command';
import { addGamedayCommand } from './gameday/command';
import { addPlanCommand } from './plan/command';
import { addStatusCommand } from './status/command';

/**
 * The `relaymesh` operations CLI. Commands talk to the local cloud of `npm start` by default
 * and to a deployed stack with --aws. Errors are thrown (exitOverride), so a test can run the
 * program in-process; ops/main.ts turns them into exit statuses.
 */
export function createProgram(io: Io): Command {
  const program = new Command()
    .name('relaymesh')
    .description('Operate Relaymesh: a capacity and cost plan, the dead-letter queues, the status of every region and failover game days, on the local cloud or (--aws) a deployed stack.')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .showHelpAfterError('(relaymesh <command> --help lists the options)');
  addPlanCommand(program, io);
  addDlqCommand(program, io);
  addStatusCommand(program, io);
  addGamedayCommand(program, io);
  return program;
}
