import { CommanderError } from 'commander';
import { createProgram } from './cli';
import { OpsError } from './cli-support';

const io = { out: (text: string) => console.log(text), err: (text: string) => console.error(text) };

try {
  await createProgram(io).parseAsync(process.argv);
} catch (error) {
  // Commander has already printed its own errors and the help it was asked for.
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else if (error instanceof OpsError) {
    io.err(error.message);
    process.exitCode = error.exitCode;
  } else throw error;
}
