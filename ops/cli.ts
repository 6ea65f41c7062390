import { Command } from 'commander';
import type { Io } from './cli-support';
import { addPlanCommand } from './plan/command';

/**
 * The `relaymesh` operations CLI. Errors are thrown (exitOverride), so a test can run the
 * program in-process; ops/main.ts turns them into exit statuses.
 */
export function createProgram(io: Io): Command {
  const program = new Command()
    .name('relaymesh')
    .description('Operate Relaymesh: a capacity and cost plan.')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .showHelpAfterError('(relaymesh <command> --help lists the options)');
  addPlanCommand(program, io);
  return program;
}
