import { vi } from 'vitest';
import type { Log, LogFields } from './log';

/** Test doubles of the core's ports, for the tests beside the core; no handler imports this. */

export interface LogLine {
  level: keyof Log;
  message: string;
  fields: LogFields;
}

/** A Log that keeps its lines for the test to read and writes nothing. */
export function recordingLog(): Log & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const writer = (level: keyof Log) => (message: string, fields: LogFields = {}) => void lines.push({ level, message, fields });
  return { lines, debug: writer('debug'), info: writer('info'), warn: writer('warn'), error: writer('error') };
}

/** The JSON lines written to stdout and stderr while `run` runs (what a Powertools Logger prints), parsed. */
export async function jsonLinesWritten(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array) => (written.push(Buffer.from(chunk).toString()), true);
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    await run();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return written.join('').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}
