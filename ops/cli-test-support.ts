import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createProgram } from './cli';

/**
 * For the tests of a file: a cdk.json of a two-region app named `shop` in a temporary folder,
 * made before them and removed after; read `dir` and `config` inside the tests.
 */
export function useShopConfig(): { readonly dir: string; readonly config: string } {
  const paths = { dir: '', config: '' };
  beforeAll(async () => {
    paths.dir = await mkdtemp(join(tmpdir(), 'relaymesh-ops-'));
    paths.config = join(paths.dir, 'cdk.json');
    await writeFile(paths.config, JSON.stringify({ context: { relaymesh: { appName: 'shop', regions: ['us-east-1', 'eu-west-1'] } } }));
  });
  afterAll(async () => {
    if (paths.dir) await rm(paths.dir, { recursive: true, force: true });
  });
  return paths;
}

/** A line `--dry-run` prints for one call. */
export const dryRunLine = (region: string, operation: string, input: object): string => `[dry run] ${region} ${operation} ${JSON.stringify(input)}`;

/** Runs `relaymesh <args>` in-process and returns what it printed, line by line. */
export async function relaymesh(...args: string[]): Promise<string[]> {
  const printed: string[] = [];
  await createProgram({ out: (text) => printed.push(...text.split('\n')), err: (text) => printed.push(text) }).parseAsync(args, { from: 'user' });
  return printed;
}

/** Runs `relaymesh <args>` in-process and returns what it printed; with no credentials anywhere, an AWS call that got out would fail the command. */
export async function relaymeshWithoutCredentials(...args: string[]): Promise<string[]> {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'relaymesh-none', AWS_EC2_METADATA_DISABLED: 'true' });
  try {
    return await relaymesh(...args);
  } finally {
    process.env = saved;
  }
}

/** Writes `file` as `npm start` writes its state file, this process standing for its process, so the CLI finds the cloud `description` describes. */
export async function writeStateFile(file: string, description: object): Promise<string> {
  await writeFile(file, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), ...description }));
  return file;
}
