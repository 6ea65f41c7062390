import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from './ledger';
import type { DrillPlan } from './plan';
import { renderHtml, renderSummary } from './render';
import { buildReport, percentile, Timeline, type ClientRun, type DrillRun } from './report';

const US = 'us-east-1';
const EU = 'eu-west-1';
const PLAN: DrillPlan = {
  clients: 3,
  channels: 1,
  rate: 1,
  eventClass: 'critical',
  regions: [US, EU],
  down: EU,
  mode: 'fail',
  atSeconds: 1,
  forSeconds: 1,
  durationSeconds: 3,
  settleSeconds: 5,
};
const acked = [1, 2, 3].map((seq) => ({ id: `m${seq}`, origin: US, seq, channel: 'c' }));

function client(index: number, handedSeqs: number[], extra: Partial<ClientRun> = {}): ClientRun {
  const ledger = new DeliveryLedger();
  for (const seq of handedSeqs) ledger.hand({ id: `m${seq}`, origin: US, seq });
  return {
    index,
    channel: 'c',
    near: index === 0 ? US : EU,
    startRegion: index === 0 ? US : EU,
    endRegion: US,
    ledger,
    reconnects: [],
    publishes: { acknowledged: 1, retried: {}, failed: {} },
    errors: {},
    ...extra,
  };
}

function run(clients: ClientRun[], timeline = new Timeline()): DrillRun {
  return {
    plan: PLAN,
    startedAt: '2025-05-01T12:00:00.000Z',
    endedAt: '2025-05-01T12:00:05.000Z',
    published: 4,
    acked,
    acknowledged: 3,
    acknowledgedAsDuplicate: 1,
    settled: true,
    downWindow: { from: 1, to: 2 },
    events: [{ at: 1, text: `${EU} taken down (fail)` }],
    timeline,
    clients,
  };
}

describe('percentile', () => {
  it('takes the nearest rank: p50 of 1..10 is 5, p99 is 10, and nothing has none', () => {
    const values = [7, 3, 10, 1, 5, 2, 9, 4, 8, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('buildReport', () => {
  it('GIVEN every subscriber handed every message once THEN the guarantees held and the figures add up', () => {
    const report = buildReport(
      run([
        client(0, [1, 2, 3]),
        client(1, [1, 2, 3], { reconnects: [{ at: 1, ms: 300, from: EU, to: US }] }),
        client(2, [1, 2, 3], {
          reconnects: [
            { at: 1, ms: 100, from: EU, to: US },
            { at: 2, ms: 900, from: US, to: US },
          ],
          publishes: { acknowledged: 1, retried: { disconnected: 2 }, failed: { timeout: 1 } },
        }),
      ]),
    );
    expect(report.verdict).toEqual({ guaranteesHeld: true, judged: true, settled: true, violationCount: 0, violations: [] });
    expect(report.totals).toEqual({ published: 4, acknowledged: 3, acknowledgedAsDuplicate: 1, publishFailed: 1, unanswered: 0, expected: 9, delivered: 9, lost: 0, duplicates: 0, outOfOrder: 0 });
    expect(report.reconnects).toEqual({ count: 3, clients: 2, p50Ms: 300, p99Ms: 900, maxMs: 900 });
    expect(report.publishErrors).toEqual({ retried: { disconnected: 2 }, failed: { timeout: 1 } });
    expect(report.regions).toEqual([
      { region: US, clientsAtStart: 1, clientsAtEnd: 3, delivered: 0, reconnectedFrom: 1 },
      { region: EU, clientsAtStart: 2, clientsAtEnd: 0, delivered: 0, reconnectedFrom: 2 },
    ]);
  });

  it('GIVEN one subscriber missing a message and another handed one twice THEN the verdict is broken and names them', () => {
    const report = buildReport(run([client(0, [1, 2, 3]), client(1, [1, 3]), client(2, [1, 2, 2, 3])]));
    expect(report.verdict.guaranteesHeld).toBe(false);
    expect(report.totals).toMatchObject({ expected: 9, delivered: 9, lost: 1, duplicates: 1 });
    expect(report.verdict.violations).toEqual([
      `client 1 (c): acknowledged m2 (${US}/2) handed 0 times`,
      `client 2 (c): acknowledged m2 (${US}/2) handed 2 times`,
      `client 2 (c): ${US}/2 handed after ${US}/2`,
    ]);
    expect(report.clients.map((c) => c.lost)).toEqual([0, 1, 0]);
  });

  it('GIVEN recovery answers THEN they are counted with their missing seqs by reason', () => {
    const recovering = client(1, [1, 2, 3]);
    recovering.ledger.recover({ recovered: false, missing: [{ origin: US, from: 2, to: 3, reason: 'not-replicated' }] });
    recovering.ledger.recover({ recovered: true, missing: [] });
    const report = buildReport(run([client(0, [1, 2, 3]), recovering]));
    expect(report.recoveries).toEqual({ count: 2, notRecovered: 1, missingRanges: 1, missingSeqsByReason: { 'not-replicated': 2 } });
    expect(report.clients[1]!.missing).toEqual([{ origin: US, from: 2, to: 3, reason: 'not-replicated' }]);
    expect(report.verdict.guaranteesHeld).toBe(true);
  });

  it('GIVEN ephemeral publishes THEN deliveries are counted but not judged', () => {
    const report = buildReport({ ...run([client(0, [])]), plan: { ...PLAN, eventClass: 'ephemeral' }, acked: [] });
    expect(report.verdict).toMatchObject({ guaranteesHeld: true, judged: false });
  });

  it('lays the timeline out per second with every series as long as the longest', () => {
    const timeline = new Timeline();
    timeline.delivery(0.2, US);
    timeline.delivery(0.9, US);
    timeline.delivery(2.5, EU);
    timeline.reconnect(1.1);
    timeline.error(3.7);
    const report = buildReport(run([client(0, [1, 2, 3])], timeline));
    expect(report.timeline).toEqual({
      seconds: 4,
      deliveriesPerSecond: { [US]: [2, 0, 0, 0], [EU]: [0, 0, 1, 0] },
      reconnectsPerSecond: [0, 1, 0, 0],
      errorsPerSecond: [0, 0, 0, 1],
    });
    expect(report.regions.map((r) => r.delivered)).toEqual([2, 1]);
  });
});

describe('rendering', () => {
  it('writes a self-contained page with the chart and the figures, and a terminal summary with the verdict and what it does not cover', () => {
    const report = buildReport(run([client(0, [1, 2, 3]), client(1, [1, 3])]));
    const html = renderHtml(report);
    expect(html).toContain('<svg');
    expect(html).toContain('Guarantee broken: 1 violations');
    expect(html).toContain(`client 1 (c): acknowledged m2 (${US}/2) handed 0 times`);
    expect(html).not.toMatch(/<script|<link|src=/);
    const summary = renderSummary(report);
    expect(summary).toMatch(/lost\s+1/);
    expect(summary).toContain('GUARANTEE BROKEN: 1 violations');
    expect(summary).toContain('1 of 4 publishes were not acknowledged (0 failed, 1 unanswered): the verdict covers the 3 that were.');
  });
});
