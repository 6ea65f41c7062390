import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { CloudStatusSchema, type CloudStatus } from '../../local/status';
import { eventually, SMALL_CHANNELS, startTestCloud } from '../../test/e2e/support';
import { relaymesh, relaymeshWithoutCredentials, useShopConfig, writeStateFile } from '../cli-test-support';
import { CLEAR_SCREEN, renderRegion } from './command';

const REGIONS = ['us-east-1', 'eu-west-1'];
const CLI = resolve(import.meta.dirname, '../../bin/relaymesh-cli.mjs');

describe('GIVEN a running local cloud of two regions and its state file', () => {
  let cloud: LocalCloud;
  let dir: string;
  let stateFile: string;
  const status = async (): Promise<CloudStatus> => CloudStatusSchema.parse(JSON.parse((await relaymesh('status', '--json', '--state-file', stateFile)).join('\n')));

  beforeAll(async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    // Critical messages dead-letter after one receive, a second later: a poison message reaches the DLQ at once.
    cloud = await startTestCloud({ regions: REGIONS, eventClasses: { critical: { maxReceiveCount: 1, visibilityTimeoutSeconds: 1 } }, capacity: SMALL_CHANNELS });
    dir = await mkdtemp(join(tmpdir(), 'relaymesh-status-'));
    stateFile = await writeStateFile(join(dir, 'local.json'), cloud.description);
  });
  afterAll(async () => {
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  it('THEN status shows both regions healthy, not drained, with their queues and every alarm the stacks define', async () => {
    const { regions } = await status();
    expect(regions.map((r) => r.region)).toEqual(REGIONS);
    for (const region of regions) {
      expect(region).toMatchObject({ health: { healthy: true, detail: 'HTTP 200' }, drained: false, failed: false, connections: 0, subscriptions: 0 });
      expect(region.queues.map((q) => q.eventClass)).toEqual(['critical', 'ephemeral']);
      expect(region.alarms.map((a) => a.name)).toContain('criticalDeadLetters');
    }
  });

  it('WHEN a region is drained THEN status shows it drained and its health failing, and the other region untouched', async () => {
    await cloud.drain('eu-west-1', true);
    try {
      const { regions } = await status();
      expect(regions.find((r) => r.region === 'eu-west-1')).toMatchObject({ drained: true, health: { healthy: false } });
      expect(regions.find((r) => r.region === 'us-east-1')).toMatchObject({ drained: false, health: { healthy: true } });
    } finally {
      await cloud.drain('eu-west-1', false);
    }
  });

  it('WHEN status --watch runs THEN each refresh redraws every region, a drain made between two shows in the next, and Ctrl-C ends it with status 0', { timeout: 120_000 }, async () => {
    const watch = spawn(process.execPath, [CLI, 'status', '--watch', '--state-file', stateFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    watch.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    watch.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => watch.once('exit', (code, signal) => done({ code, signal })));
    // Each refresh clears the screen first; a frame is whole once its last line, eu-west-1's alarms, has arrived.
    const frames = () => stdout.split(CLEAR_SCREEN).slice(1).filter((frame) => /^eu-west-1 [^]*alarms[^\n]*\n/m.test(frame));
    const euDrained = (frame: string) => frame.split('\n').find((line) => line.startsWith('eu-west-1 '))!.split(/\s{2,}/)[2];
    const watching = () => {
      if (watch.exitCode !== null) throw new Error(`status --watch exited (${watch.exitCode}) before it was interrupted:\n${stderr}`);
    };
    try {
      await eventually(async () => (watching(), frames().length >= 1), 'the first refresh of status --watch');
      expect(euDrained(frames()[0]!)).toBe('no');
      await cloud.drain('eu-west-1', true);
      const drainedFrame = await eventually(async () => (watching(), frames().findIndex((frame) => euDrained(frame) === 'yes') + 1), 'a refresh showing eu-west-1 drained');
      // Not the first frame: a later refresh, read after the drain.
      expect(drainedFrame).toBeGreaterThan(1);
      watch.kill('SIGINT');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(stderr).toBe('');
      for (const frame of frames()) expect(frame).toMatch(/^status at \S+\n\nregion /);
    } finally {
      watch.kill('SIGKILL');
      await cloud.drain('eu-west-1', false);
    }
  });

  it('WHEN a poison message dead-letters THEN status shows the DLQ depth and criticalDeadLetters in ALARM; WHEN redriven THEN one is moved, and it dead-letters again, counted by the worker', { timeout: 120_000 }, async () => {
    const region = 'us-east-1';
    const sqs = new SQSClient({ region, endpoint: cloud.regions[region]!.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    await sqs.send(new SendMessageCommand({ QueueUrl: cloud.regions[region]!.queues.critical.queueUrl, MessageBody: 'not an envelope' }));
    sqs.destroy();
    const deadLetters = async () => (await status()).regions.find((r) => r.region === region)!.queues.find((q) => q.eventClass === 'critical')!.deadLetters;
    const alarmed = async () => {
      await cloud.evaluateAlarms();
      return (await status()).regions.find((r) => r.region === region)!.alarms.find((a) => a.name === 'criticalDeadLetters')!.state === 'ALARM';
    };
    // Each pass through the delivery worker counts the message invalid once (maxReceiveCount 1).
    const invalidCount = () => cloud.metrics()[`${region}/critical`]?.invalid ?? 0;
    const shown = async () => {
      const [dlq] = JSON.parse((await relaymesh('dlq', 'show', '--json', '--regions', region, '--class', 'critical', '--state-file', stateFile)).join('\n')) as Array<{
        messages: Array<{ messageId: string; body: string }>;
      }>;
      return dlq!.messages;
    };

    await eventually(async () => (await deadLetters()) === 1 && (await alarmed()), 'the poison message in the DLQ and criticalDeadLetters in ALARM');
    expect(invalidCount()).toBe(1);
    const table = (await relaymesh('status', '--state-file', stateFile)).join('\n');
    expect(table).toMatch(/alarms in ALARM:\n\s+criticalDeadLetters since \S+: Threshold crossed/);
    const [poison] = await shown();
    expect(poison).toMatchObject({ body: 'not an envelope' });

    const [redriven] = JSON.parse((await relaymesh('dlq', 'redrive', '--json', '--regions', region, '--class', 'critical', '--state-file', stateFile)).join('\n')) as Array<{
      moved: number;
      interrupted: boolean;
    }>;
    expect(redriven).toMatchObject({ moved: 1, interrupted: false });

    // Back in the queue, the worker refuses it again: a second invalid count, and a DLQ message of its own (a redrive sends a new one).
    await eventually(async () => invalidCount() === 2 && (await deadLetters()) === 1, 'the redriven message to be refused and dead-lettered again');
    await eventually(alarmed, 'criticalDeadLetters in ALARM again');
    const again = await shown();
    expect(again).toEqual([expect.objectContaining({ body: 'not an envelope' })]);
    expect(again[0]!.messageId).not.toBe(poison!.messageId);
  });
});

describe('relaymesh status --aws --dry-run', () => {
  const shop = useShopConfig();

  it('prints every queue lookup, depth read and alarm query of every region, and makes none', async () => {
    const printed = await relaymeshWithoutCredentials('status', '--aws', '--dry-run', '--config', shop.config);
    for (const region of ['us-east-1', 'eu-west-1']) {
      for (const name of ['shop-critical', 'shop-critical-dlq', 'shop-ephemeral', 'shop-ephemeral-dlq']) {
        expect(printed).toContain(`[dry run] ${region} SQS.GetQueueUrl ${JSON.stringify({ QueueName: name })}`);
      }
      expect(printed).toContain(`[dry run] ${region} CloudWatch.DescribeAlarms ${JSON.stringify({ AlarmNamePrefix: `shop-${region}-`, AlarmTypes: ['MetricAlarm'] })}`);
    }
    expect(printed.at(-1)).toBe('Dry run: the calls above were printed, none was made.');
  });
});

describe('the status table', () => {
  it('GIVEN figures AWS cannot give THEN it shows n/a and, once each, where to look instead', () => {
    const text = renderRegion({
      region: 'us-east-1',
      health: { na: 'see the accelerator' },
      drained: { na: 'flag not read' },
      failed: { na: 'flag not read' },
      connections: { na: 'see the dashboard' },
      subscriptions: { na: 'see the dashboard' },
      queues: [{ eventClass: 'critical', visible: 2, inFlight: 0, oldestAgeSeconds: { na: 'see dlq list' }, deadLetters: 1 }],
      alarms: [{ name: 'relaymesh-us-east-1-AlarmscriticalDeadLetters1-X', state: 'ALARM', reason: 'Threshold Crossed', since: '2026-01-01T00:00:00.000Z' }],
      replicationLagMs: { na: 'see the alarms' },
      deliveriesPerSecond: 3,
    });
    expect(text).toMatch(/^us-east-1\s+n\/a\s+n\/a\s+n\/a\s+n\/a\s+n\/a\s+n\/a\s+3$/m);
    expect(text).toContain('relaymesh-us-east-1-AlarmscriticalDeadLetters1-X since 2026-01-01T00:00:00.000Z: Threshold Crossed');
    expect(text.match(/n\/a: see the dashboard/g)).toHaveLength(1);
    expect(text).toContain('n/a: see the accelerator');
  });
});
