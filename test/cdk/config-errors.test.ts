import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const TYPO = 'Invalid Relaymesh config: regions.1: must be an AWS Region such as us-east-1, not "eu-wset-1" (did you mean eu-west-1?)';

/** Runs a TypeScript entry point the way `npx tsx` does, with the given environment and arguments. */
function run(entry: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, entry), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stderr: result.stderr.trim(), stdout: result.stdout.trim() };
}

describe('a misspelt region', () => {
  it('GIVEN cdk synth context with eu-wset-1 WHEN the CDK app runs THEN it exits 1 printing one line and no stack trace', () => {
    const { status, stderr } = run('bin/relaymesh.ts', [], {
      CDK_CONTEXT_JSON: JSON.stringify({ relaymesh: { regions: ['us-east-1', 'eu-wset-1'] } }),
      CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'relaymesh-bin-')),
    });
    expect(status).toBe(1);
    expect(stderr).toBe(TYPO);
  }, 120_000);

  it('GIVEN npm start --regions us-east-1,eu-wset-1 WHEN the local cloud starts THEN it exits 1 printing one line and no stack trace', () => {
    const { status, stderr } = run('local/main.ts', ['--regions', 'us-east-1,eu-wset-1', '--state-file', join(mkdtempSync(join(tmpdir(), 'relaymesh-start-')), 'local.json')]);
    expect(status).toBe(1);
    expect(stderr).toBe(TYPO);
  }, 120_000);
});
