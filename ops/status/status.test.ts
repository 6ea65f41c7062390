import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { CloudStatusSchema, type CloudStatus } from '../../local/status';
import { SMALL_CHANNELS, startTestCloud } from '../../test/e2e/support';
import { createProgram } from '../cli';
import { renderRegion } from './command';

const REGIONS = ['us-east-1', 'eu-west-1'];

/** Runs `relaymesh <args>` in-process and returns what it printed. */
async function relaymesh(...args: string[]): Promise<string[]> {
  const printed: string[] = [];
  await createProgram({ out: (text) => printed.push(...text.split('\n')), err: (text) => printed.push(text) }).parseAsync(args, { from: 'user' });
  return printed;
}

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
    stateFile = join(dir, 'local.json');
    await writeFile(stateFile, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), ...cloud.description }));
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

  it('WHEN a poison message dead-letters THEN status shows the DLQ depth and criticalDeadLetters in ALARM, and the table names it', async () => {
    const region = 'us-east-1';
    const sqs = new SQSClient({ region, endpoint: cloud.regions[region]!.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    await sqs.send(new SendMessageCommand({ QueueUrl: cloud.regions[region]!.queues.critical.queueUrl, MessageBody: 'not an envelope' }));
    sqs.destroy();
    await vi.waitFor(
      async () => {
        await cloud.evaluateAlarms();
        const us = (await status()).regions.find((r) => r.region === region)!;
        expect(us.queues.find((q) => q.eventClass === 'critical')!.deadLetters).toBe(1);
        expect(us.alarms.find((a) => a.name === 'criticalDeadLetters')!.state).toBe('ALARM');
      },
      { timeout: 30_000, interval: 500 },
    );
    const table = (await relaymesh('status', '--state-file', stateFile)).join('\n');
    expect(table).toMatch(/alarms in ALARM:\n\s+criticalDeadLetters since \S+: Threshold crossed/);
  });
});

describe('relaymesh status --aws --dry-run', () => {
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaymesh-status-dry-run-'));
    config = join(dir, 'cdk.json');
    await writeFile(config, JSON.stringify({ context: { relaymesh: { appName: 'shop', regions: ['us-east-1', 'eu-west-1'] } } }));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints every queue lookup, depth read and alarm query of every region, and makes none', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'relaymesh-none', AWS_EC2_METADATA_DISABLED: 'true' });
    let printed: string[];
    try {
      printed = await relaymesh('status', '--aws', '--dry-run', '--config', config);
    } finally {
      process.env = saved;
    }
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
