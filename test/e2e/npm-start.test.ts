import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mintToken } from '../../local/dev-token';
import { portTaken } from '../../local/ports';
import { eventually } from './support';

const ROOT = resolve(import.meta.dirname, '../..');

/** Five consecutive free ports: edge, the two regions' WebSocket APIs, DynamoDB Local, SNS/SQS. */
async function freePortRange(): Promise<number> {
  for (;;) {
    // Below Linux's ephemeral range (32768 up): there the kernel hands ports to other processes'
    // outgoing connections, which took one between this check and npm start's listen (EADDRINUSE).
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const taken = await Promise.all([0, 1, 2, 3, 4].map((i) => portTaken(base + i)));
    if (!taken.includes(true)) return base;
  }
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stateFile: string;
  base: number;
}

const running: ChildProcess[] = [];
// A test that failed midway leaves its cloud up: SIGTERM stops it as Ctrl-C does (SIGKILL
// would leave its DynamoDB Local JVM, which lives in a process group of its own).
afterEach(async () => {
  await Promise.all(
    running.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }),
  );
});

/**
 * `npm start`'s program, as npm runs it (through tsx), on its own ports and state directory;
 * `extra` flags come last, so they win. With `input`, its stdin is a pipe the test writes to.
 */
function npmStart(base: number, dir: string, extra: string[] = [], options: { env?: NodeJS.ProcessEnv; input?: boolean } = {}): Started {
  const stateFile = join(dir, 'local.json');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'local/main.ts', '--edge-port', String(base), '--region-port', String(base + 1), '--dynamodb-port', String(base + 3),
      '--messaging-port', String(base + 4), '--state-file', stateFile, '--no-commands', ...extra],
    { cwd: ROOT, stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: options.env ?? process.env },
  );
  running.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return { child, output: () => output, exited, stateFile, base };
}

const jvmsOnPort = (port: number) =>
  execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes('DynamoDBLocal') && line.includes(`-port ${port}`));

async function leftBehind(base: number): Promise<string[]> {
  const ports = await Promise.all([0, 1, 2, 3, 4].map(async (i) => ((await portTaken(base + i)) ? [`port ${base + i}`] : [])));
  return [...ports.flat(), ...jvmsOnPort(base + 3)];
}

/** Waits until the cloud is up: its state file is written whole. */
const described = (started: Started) =>
  eventually(async () => {
    if (started.child.exitCode !== null) throw new Error(`npm start exited ${started.child.exitCode}:\n${started.output()}`);
    try {
      return JSON.parse(readFileSync(started.stateFile, 'utf8')) as { edgeUrl: string; devToken: string; pid: number };
    } catch {
      return undefined;
    }
  }, 'the state file of the started cloud');

/** Publishes through the edge's HTTP endpoint; answers the status and the ack or error. */
async function tryPublish(edgeUrl: string, token: string, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${edgeUrl}/v1/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'room:persist', data: id, id }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function publish(edgeUrl: string, token: string, id: string): Promise<{ seq: number }> {
  const { status, body } = await tryPublish(edgeUrl, token, id);
  expect(status).toBe(202);
  return body as { seq: number };
}

describe('npm start as a process', () => {
  for (const afterMs of [500, 1000, 2000]) {
    it(`Ctrl-C ${afterMs} ms into startup leaves no process and no port behind`, async () => {
      const base = await freePortRange();
      const started = npmStart(base, mkdtempSync(join(tmpdir(), 'relaymesh-start-')));
      await new Promise((r) => setTimeout(r, afterMs));
      started.child.kill('SIGINT');
      await started.exited;
      await eventually(async () => (await leftBehind(base)).length === 0, 'every process it started to exit');
      expect(existsSync(started.stateFile)).toBe(false);
    });
  }

  it('Ctrl-C while DynamoDB Local is starting leaves no JVM and no port behind', async () => {
    const base = await freePortRange();
    const started = npmStart(base, mkdtempSync(join(tmpdir(), 'relaymesh-start-')));
    await eventually(async () => jvmsOnPort(base + 3).length > 0 || started.child.exitCode !== null, 'DynamoDB Local to listen, or npm start to exit', 20);
    started.child.kill('SIGINT');
    await started.exited;
    await eventually(async () => (await leftBehind(base)).length === 0, 'every process it started to exit');
  }, 120_000);

  it('a second cloud on the same ports fails fast naming the flag of each taken port; Ctrl-C stops the first and removes its state file', async () => {
    const base = await freePortRange();
    const first = npmStart(base, mkdtempSync(join(tmpdir(), 'relaymesh-start-')));
    await described(first);
    const second = npmStart(base, mkdtempSync(join(tmpdir(), 'relaymesh-start-')));
    expect(await second.exited).not.toBe(0);
    for (const flag of ['--edge-port', '--region-port', '--dynamodb-port', '--messaging-port']) expect(second.output()).toContain(flag);
    expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(existsSync(first.stateFile)).toBe(false);
    await eventually(async () => (await leftBehind(base)).length === 0, 'every process it started to exit');
  }, 240_000);

  it('--persist keeps the state across a restart: the next message of a channel takes the next seq', async () => {
    const base = await freePortRange();
    const dir = mkdtempSync(join(tmpdir(), 'relaymesh-persist-'));
    const first = npmStart(base, dir, ['--persist']);
    const { edgeUrl, devToken } = await described(first);
    expect(await publish(edgeUrl, devToken, 'before-restart')).toMatchObject({ seq: 1 });
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(existsSync(join(dir, 'data'))).toBe(true);

    const second = npmStart(base, dir, ['--persist']);
    // The JWT secret is kept beside the state file, so the old token still works.
    expect(await publish((await described(second)).edgeUrl, devToken, 'after-restart')).toMatchObject({ seq: 2 });
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 240_000);

  it('--jwt-secret signs and checks tokens (over $RELAYMESH_JWT_SECRET), --commands reads game-day commands from stdin, and the state file names its process, free of SDK internals', async () => {
    const base = await freePortRange();
    const dir = mkdtempSync(join(tmpdir(), 'relaymesh-flags-'));
    const flagSecret = 'a-secret-given-with-the-flag-0123456789';
    const envSecret = 'a-secret-given-in-the-environment-0123456789';
    const started = npmStart(base, dir, ['--jwt-secret', flagSecret, '--commands'], { env: { ...process.env, RELAYMESH_JWT_SECRET: envSecret }, input: true });
    const state = await described(started);

    const tokenSignedWith = (secret: string) => mintToken(secret, { sub: 'ops', subscribe: ['*'], publish: ['*'] });
    expect(await publish(state.edgeUrl, await tokenSignedWith(flagSecret), 'flag-signed')).toMatchObject({ seq: 1 });
    expect((await tryPublish(state.edgeUrl, await tokenSignedWith(envSecret), 'env-signed')).status).toBe(401);
    expect(await publish(state.edgeUrl, state.devToken, 'dev-token')).toMatchObject({ seq: 2 });
    // The flag's secret is used, not kept: the next start without it must not inherit it.
    expect(existsSync(join(dir, 'jwt-secret'))).toBe(false);

    const stateText = readFileSync(started.stateFile, 'utf8');
    expect(state.pid).toBe(started.child.pid);
    expect(stateText).not.toContain('$source');

    started.child.stdin!.write('drain eu-west-1\nstatus\n');
    await eventually(async () => started.output().includes('drain eu-west-1: done; healthy regions: us-east-1\n'), 'the drain command to be answered');
    await eventually(async () => started.output().includes('faults injected so far: '), 'the status command to be answered');
    started.child.kill('SIGINT');
    expect(await started.exited).toBe(0);
  }, 240_000);
});
