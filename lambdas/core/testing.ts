import { vi } from 'vitest';
import type { Log, LogFields } from './log';
import type { Measurement, MetricsSink } from './runtime';

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

export interface MetricsReport {
  dimensions: Readonly<Record<string, string>>;
  measurements: Readonly<Record<string, Measurement>>;
}

/** A MetricsSink that keeps its reports for the test to read and writes nothing. */
export function recordingMetrics(): MetricsSink & { readonly reports: MetricsReport[] } {
  const reports: MetricsReport[] = [];
  return Object.assign((dimensions: MetricsReport['dimensions'], measurements: MetricsReport['measurements']) => void reports.push({ dimensions, measurements }), { reports });
}

/** A runtime's log and metrics for a test: both only record. */
export const recordingPorts = () => ({ log: recordingLog(), metrics: recordingMetrics() });

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

/** Every table variable of the runtime environment, with short names, for tests that never reach a table by them. */
export const TABLE_ENV = {
  CONNECTIONS_TABLE: 'c',
  SUBSCRIPTIONS_TABLE: 's',
  PRESENCE_TABLE: 'p',
  SEQUENCES_TABLE: 'q',
  HISTORY_TABLE: 'h',
  DEDUP_TABLE: 'd',
} as const;
