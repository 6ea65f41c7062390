import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelaymeshClient } from '../../client/src';
import type { LocalCloud } from '../../local/cloud';
import { writeStateFile } from '../../ops/cli-test-support';
import { addGamedayCommand } from '../../ops/gameday/command';
import type { GamedayReport } from '../../ops/gameday/report';
import { startTestCloud } from './support';

const EU = 'eu-west-1';

describe('relaymesh gameday against a two-region local cloud', () => {
  let cloud: LocalCloud;
  let dir: string;

  beforeAll(async () => {
    cloud = await startTestCloud();
    dir = await mkdtemp(join(tmpdir(), 'relaymesh-gameday-'));
    await writeStateFile(join(dir, 'local.json'), cloud.description);
  });

  afterAll(async () => {
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('GIVEN clients in both regions WHEN one region fails for 5 s THEN its clients reconnect, nothing acknowledged is lost, and the report counts what each app was handed', { timeout: 60_000 }, async () => {
    // What each client's app was handed, counted apart from the drill's own ledger.
    const handedTo = new Map<number, number>();
    const printed: string[] = [];
    const program = new Command().exitOverride();
    addGamedayCommand(
      program,
      { out: (text) => printed.push(text), err: (text) => printed.push(text) },
      {
        createClient: (options, index) => {
          const client = new RelaymeshClient(options);
          const subscribe = client.subscribe.bind(client);
          client.subscribe = (channel, handler, subscribeOptions) =>
            subscribe(channel, (message) => {
              handedTo.set(index, (handedTo.get(index) ?? 0) + 1);
              handler(message);
            }, subscribeOptions);
          return client;
        },
      },
    );
    const out = join(dir, 'reports');
    const args = ['gameday', '--state-file', join(dir, 'local.json'), '--clients', '12', '--channels', '2', '--rate', '5'];
    await program.parseAsync([...args, '--down', EU, '--mode', 'fail', '--at', '4', '--for', '5', '--duration', '15', '--settle', '20', '--out', out], { from: 'user' });

    const files = await readdir(out);
    expect(files.filter((f) => /^gameday-\d{8}T\d{6}Z\.(html|json)$/.test(f)).sort()).toHaveLength(2);
    const report = JSON.parse(await readFile(join(out, files.find((f) => f.endsWith('.json'))!), 'utf8')) as GamedayReport;
    const html = await readFile(join(out, files.find((f) => f.endsWith('.html'))!), 'utf8');

    expect(report.verdict).toMatchObject({ guaranteesHeld: true, judged: true, settled: true, violationCount: 0 });
    expect(report.totals.acknowledged).toBe(75);
    expect(report.totals.lost).toBe(0);
    // 75 acknowledged messages over 2 channels of 6 subscribers each: every one owed to 6 apps.
    expect(report.totals.expected).toBe(75 * 6);
    for (const client of report.clients) expect(client.delivered).toBe(handedTo.get(client.index) ?? 0);
    expect(report.totals.delivered).toBe([...handedTo.values()].reduce((a, b) => a + b, 0));
    expect(report.totals.delivered).toBe(report.totals.expected);

    const failedRegionClients = report.clients.filter((c) => c.startRegion === EU);
    expect(failedRegionClients).toHaveLength(6);
    expect(failedRegionClients.every((c) => c.reconnects > 0)).toBe(true);
    expect(report.reconnects.p50Ms).toBeGreaterThan(0);
    expect(report.regions.find((r) => r.region === EU)!.reconnectedFrom).toBeGreaterThanOrEqual(6);
    expect(Object.values(report.timeline.deliveriesPerSecond).flat().reduce((a, b) => a + b, 0)).toBe(report.totals.delivered);

    expect(html).toContain('<svg');
    expect(html).toContain('Guarantees held');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(printed.some((line) => line.includes(`${EU} taken down (fail)`))).toBe(true);
    expect(printed.some((line) => line.startsWith('Report: ') || line.includes('\nReport: '))).toBe(true);
  });
});
