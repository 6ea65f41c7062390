import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RelaymeshClient } from '../../client/src';
import type { LocalCloud } from '../../local/cloud';
import { writeStateFile } from '../../ops/cli-test-support';
import { addGamedayCommand, GUARANTEE_BROKEN_EXIT_CODE } from '../../ops/gameday/command';
import type { GamedayReport } from '../../ops/gameday/report';
import { eventually, startTestCloud } from './support';

const US = 'us-east-1';
const EU = 'eu-west-1';

/** The gameday command with its SDK clients wrapped, so the test sees what the drill's own figures must match. */
interface Gameday {
  printed: string[];
  /** What each client's app was handed, counted apart from the drill's own ledger. */
  handedTo: Map<number, number>;
  /** Each client's latest socket, to cut as a user's network would. */
  sockets: Map<number, WebSocket>;
  /** Clients whose app is handed nothing after its first message: a broken guarantee, staged. */
  starved: Set<number>;
  /** Called with each line the command prints, as it prints it. */
  onOutput: (line: string) => void;
  /** Runs `relaymesh gameday <args>` and reads the report it wrote. */
  run(args: string[]): Promise<{ report: GamedayReport; html: string }>;
}

/** The report one drill wrote into `out`, HTML and JSON. */
async function readReport(out: string): Promise<{ report: GamedayReport; html: string }> {
  const files = await readdir(out);
  expect(files.filter((f) => /^gameday-\d{8}T\d{6}Z\.(html|json)$/.test(f))).toHaveLength(2);
  const report = JSON.parse(await readFile(join(out, files.find((f) => f.endsWith('.json'))!), 'utf8')) as GamedayReport;
  return { report, html: await readFile(join(out, files.find((f) => f.endsWith('.html'))!), 'utf8') };
}

function instrumentedGameday(stateFile: string, out: string): Gameday {
  const gameday: Gameday = {
    printed: [],
    handedTo: new Map(),
    sockets: new Map(),
    starved: new Set(),
    onOutput: () => undefined,
    run: async (args) => {
      await program.parseAsync(['gameday', '--state-file', stateFile, '--out', out, ...args], { from: 'user' });
      return readReport(out);
    },
  };
  const program = new Command().exitOverride();
  const print = (text: string) => {
    gameday.printed.push(text);
    gameday.onOutput(text);
  };
  addGamedayCommand(program, { out: print, err: print }, {
    createClient: (options, index) => {
      const client = new RelaymeshClient({
        ...options,
        WebSocket: class extends WebSocket {
          constructor(url: string) {
            super(url);
            gameday.sockets.set(index, this);
          }
        },
      });
      const subscribe = client.subscribe.bind(client);
      client.subscribe = (channel, handler, subscribeOptions) =>
        subscribe(channel, (message) => {
          if (gameday.starved.has(index) && (gameday.handedTo.get(index) ?? 0) >= 1) return;
          gameday.handedTo.set(index, (gameday.handedTo.get(index) ?? 0) + 1);
          handler(message);
        }, subscribeOptions);
      return client;
    },
  });
  return gameday;
}

/**
 * The report's verdict and figures against what the apps were handed: nothing acknowledged lost,
 * every acknowledged message owed to each of its channel's `subscribers` and handed to each once.
 * A loaded machine may leave some of the `published` unacknowledged (timed out, reported, owed to
 * no one): the guarantees are about those acknowledged, so only some must be.
 */
function expectGuaranteesHeldAsTheAppsSawThem(report: GamedayReport, gameday: Gameday, { published, subscribers }: { published: number; subscribers: number }): void {
  expect(report.totals.published).toBe(published);
  expect(report.totals.acknowledged).toBeGreaterThan(0);
  expect(report.verdict).toMatchObject({ guaranteesHeld: true, judged: true, settled: true, violationCount: 0 });
  expect(report.totals).toMatchObject({ lost: 0, duplicates: 0, outOfOrder: 0 });
  expect(report.totals.expected).toBe(report.totals.acknowledged * subscribers);
  for (const client of report.clients) expect(client.delivered, `client ${client.index}`).toBe(gameday.handedTo.get(client.index) ?? 0);
  expect(report.totals.delivered).toBe([...gameday.handedTo.values()].reduce((a, b) => a + b, 0));
  expect(report.totals.delivered).toBe(report.totals.expected);
  expect(Object.values(report.timeline.deliveriesPerSecond).flat().reduce((a, b) => a + b, 0)).toBe(report.totals.delivered);
}

describe('relaymesh gameday against a two-region local cloud', () => {
  let cloud: LocalCloud;
  let dir: string;
  let stateFile: string;

  beforeAll(async () => {
    cloud = await startTestCloud();
    dir = await mkdtemp(join(tmpdir(), 'relaymesh-gameday-'));
    stateFile = await writeStateFile(join(dir, 'local.json'), cloud.description);
  });

  afterAll(async () => {
    await cloud?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('GIVEN clients in both regions WHEN one region fails for 5 s THEN its clients reconnect, nothing acknowledged is lost, and the report counts what each app was handed', { timeout: 120_000 }, async () => {
    const gameday = instrumentedGameday(stateFile, join(dir, 'fail'));
    const { report, html } = await gameday.run(['--clients', '12', '--channels', '2', '--rate', '5', '--down', EU, '--mode', 'fail', '--at', '4', '--for', '5', '--duration', '15', '--settle', '20']);

    // 5/s for 15 s over 2 channels of 6 subscribers each: every acknowledged message owed to 6 apps.
    expectGuaranteesHeldAsTheAppsSawThem(report, gameday, { published: 75, subscribers: 6 });

    const failedRegionClients = report.clients.filter((c) => c.startRegion === EU);
    expect(failedRegionClients).toHaveLength(6);
    expect(failedRegionClients.every((c) => c.reconnects > 0)).toBe(true);
    expect(report.reconnects.p50Ms).toBeGreaterThan(0);
    expect(report.regions.find((r) => r.region === EU)!.reconnectedFrom).toBeGreaterThanOrEqual(6);

    expect(html).toContain('<svg');
    expect(html).toContain('Guarantees held');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(gameday.printed.some((line) => line.includes(`${EU} taken down (fail)`))).toBe(true);
    expect(gameday.printed.some((line) => line.startsWith('Report: ') || line.includes('\nReport: '))).toBe(true);
  });

  it('GIVEN clients in both regions WHEN one region is drained and some of its users\' networks drop THEN those reconnect to the other region, open sockets stay, nothing acknowledged is lost, and the report counts what each app was handed', { timeout: 120_000 }, async () => {
    const gameday = instrumentedGameday(stateFile, join(dir, 'drain'));
    // 8 clients on 2 channels: 0, 1, 4, 5 near us-east-1 and 2, 3, 6, 7 near eu-west-1, each channel with two in each.
    const cut = [2, 3];
    let cutting: Promise<void> | undefined;
    gameday.onOutput = (line) => {
      if (!line.includes(`${EU} taken down (drain)`)) return;
      cutting = (async () => {
        await eventually(async () => !cloud.edge.healthyRegions().includes(EU), 'the edge to route around drained eu-west-1');
        for (const index of cut) gameday.sockets.get(index)!.terminate();
      })();
    };
    const { report } = await gameday.run(['--clients', '8', '--channels', '2', '--rate', '4', '--down', EU, '--mode', 'drain', '--at', '3', '--for', '12', '--duration', '18', '--settle', '20']);
    await cutting;

    expectGuaranteesHeldAsTheAppsSawThem(report, gameday, { published: 72, subscribers: 4 });

    const client = (index: number) => report.clients.find((c) => c.index === index)!;
    // A drain steers new connects only: the cut clients left eu-west-1 and recovered what they missed meanwhile…
    for (const index of cut) expect(client(index)).toMatchObject({ startRegion: EU, endRegion: US, reconnects: 1, recoveries: 1, notRecovered: 0 });
    // …while every other socket stayed where it was, eu-west-1's open ones included.
    for (const other of report.clients.filter((c) => !cut.includes(c.index))) expect(other).toMatchObject({ reconnects: 0, endRegion: other.startRegion });
    expect(report.regions).toEqual([
      expect.objectContaining({ region: US, clientsAtStart: 4, clientsAtEnd: 6, reconnectedFrom: 0 }),
      expect.objectContaining({ region: EU, clientsAtStart: 4, clientsAtEnd: 2, reconnectedFrom: 2 }),
    ]);
    expect(gameday.printed.some((line) => line.includes(`${EU} brought back`))).toBe(true);
  });

  it('GIVEN a client whose app is handed nothing after its first message WHEN the drill ends THEN the report counts the rest lost and names the client, and the command fails with exit status 2', { timeout: 120_000 }, async () => {
    const out = join(dir, 'broken');
    const gameday = instrumentedGameday(stateFile, out);
    gameday.starved.add(1);
    await expect(
      gameday.run(['--clients', '4', '--channels', '2', '--rate', '4', '--down', EU, '--mode', 'drain', '--at', '2', '--for', '2', '--duration', '6', '--settle', '3']),
    ).rejects.toMatchObject({ exitCode: GUARANTEE_BROKEN_EXIT_CODE, message: expect.stringMatching(/^Guarantee broken \(\d+ violations\): see .*\.html$/) });

    const { report, html } = await readReport(out);
    const starved = report.clients.find((c) => c.index === 1)!;
    // Every acknowledged message of its channel was owed to it; its app was handed the first only.
    expect(starved.expected).toBeGreaterThan(1);
    expect(starved).toMatchObject({ delivered: 1, lost: starved.expected - 1 });
    expect(report.totals.lost).toBe(starved.expected - 1);
    // The other three were handed everything: only the starved client is named.
    for (const other of report.clients.filter((c) => c.index !== 1)) expect(other).toMatchObject({ lost: 0, violations: [] });
    expect(report.verdict).toMatchObject({ guaranteesHeld: false, violationCount: starved.expected - 1 });
    expect(report.verdict.violations.every((v) => v.startsWith('client 1 '))).toBe(true);
    expect(html).toContain('Guarantee broken');
  });
});
