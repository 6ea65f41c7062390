import { readdirSync, readFileSync } from 'node:fs';
import type { ProcessMemory } from './subscribers';

/** This process's resident set now and at its peak. */
export function ownMemory(): ProcessMemory {
  return { rssBytes: process.memoryUsage.rss(), peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/** Another process's resident set from /proc (VmRSS, VmHWM); undefined where there is no /proc. */
export function processMemory(pid: number): ProcessMemory | undefined {
  const status = readProc(`/proc/${pid}/status`);
  const kilobytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status ?? '')?.[1]);
  const rss = kilobytes('VmRSS');
  const peak = kilobytes('VmHWM');
  return Number.isFinite(rss) && Number.isFinite(peak) ? { rssBytes: rss * 1024, peakRssBytes: peak * 1024 } : undefined;
}

/**
 * The pid of the DynamoDB Local JVM listening on `port`, found by its command line
 * (`java … -jar …/DynamoDBLocal.jar … -port <port>`): local/dynamodb-local.ts keeps its pid private.
 */
export function findDynamoDbLocalPid(port: number): number | undefined {
  const pids = readProcDir().filter((name) => /^\d+$/.test(name));
  return pids.map(Number).find((pid) => {
    const args = readProc(`/proc/${pid}/cmdline`)?.split('\0') ?? [];
    const portIndex = args.indexOf('-port');
    return args.some((arg) => arg.endsWith('DynamoDBLocal.jar')) && portIndex >= 0 && args[portIndex + 1] === String(port);
  });
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // no /proc (macOS) or the process is gone
  }
}

function readProcDir(): string[] {
  try {
    return readdirSync('/proc');
  } catch {
    return [];
  }
}
