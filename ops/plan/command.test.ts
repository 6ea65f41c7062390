import { describe, expect, it } from 'vitest';
import { relaymeshWithoutCredentials, useShopConfig } from '../cli-test-support';
import { count, usd } from '../format';
import type { Plan } from './model';

const shop = useShopConfig();

/**
 * A workload small enough to compute by hand, two regions (the shop config): 20,000 connections
 * at peak, 10,000 per region, pinging every 50 s; 2 critical messages/s of 32,600 bytes to 10
 * subscribers each; no subscribes, no churn asked for; peak twice the average.
 */
const WORKLOAD = ['--connections', '20000', '--peak-to-average', '2', '--connects-per-second', '0', '--subscriptions', '0', '--heartbeat-seconds', '50'];
const MESSAGES = ['--critical', '2', '--ephemeral', '0', '--fanout', '10', '--message-bytes', '32600'];
const planArgs = () => ['plan', '--config', shop.config, ...WORKLOAD, ...MESSAGES];

/** The row of a printed table whose first column is `name`, split into its cells. */
function row(printed: readonly string[], name: string): string[] {
  const line = printed.find((l) => l.startsWith(`${name}  `));
  if (!line) throw new Error(`no row "${name}" in:\n${printed.join('\n')}`);
  return line.slice(name.length).trim().split(/\s{2,}/);
}

describe('relaymesh plan, the command', () => {
  it('GIVEN a hand-computed workload WHEN run THEN its table prints the costs, the cost per delivery, the idle month and the quotas worked out by hand', async () => {
    const printed = await relaymeshWithoutCredentials(...planArgs());

    // 2 messages/s × 10 subscribers; churn raised from 0 to 10,000 ÷ 7,200 s = 1.389 connects/s per region, 2.78 in all.
    expect(printed[1]).toBe('Peak: 20,000 connections, 2 critical + 0 ephemeral messages/s, fan-out 10 → 20 deliveries/s; 2.8 connects/s.');
    // Average 5,000 connections per region × 43,800 min = 219 M minutes × $0.25/M.
    expect(row(printed, 'API Gateway connection minutes')).toEqual(['219 M minutes', '$54.75', '$54.75', '$109.50']);
    // Per region and second at the average: 100 pings and their 100 pongs; 0.5 publishes of 2 units (32,850 bytes
    // with the envelope) and their acks: 1.5; 5 posts of 2 units: 10. 211.5 × 2,628,000 s = 555.822 M × $1/M.
    expect(row(printed, 'API Gateway messages (32 KB units)')).toEqual(['556 M messages', '$555.82', '$555.82', '$1,111.64']);
    expect(row(printed, 'Secrets Manager')).toEqual(['1 secret', '$0.40', '$0.40', '$0.80']);
    // 1 message/s at the average × 10 subscribers × 2,628,000 s = 26.28 M deliveries; the total ÷ 26.28.
    const total = row(printed, 'total');
    expect(total).toHaveLength(3);
    const totalUsd = Number(total[2]!.replace(/[$,]/g, ''));
    expect(printed).toContain(`Cost per million delivered messages: $${(totalUsd / 26.28).toFixed(2)} (26.3 million delivered a month)`);
    // Per region: ALB 16.425 + LCUs 0.0934 + IPv4 7.30 + 26 alarms 2.60 + secret 0.40 + idle polls 0.52
    // + edge health checks 0.3154 = 27.654; two regions and the accelerator's 18.25 = 73.56.
    expect(printed).toContain('Idle (no connections, no messages): $73.56 a month ($27.65 per region + the accelerator)');

    // The account throttle per region at peak: 10,000 ÷ 50 = 200 pings, 1 publish, 10 posts and 1.389
    // connects = 212.4 of 10,000; one region down doubles every term: 424.8.
    expect(row(printed, 'API Gateway account throttle, requests/s (client frames + PostToConnection)')).toEqual(['212', '10,000', '2.1%', '4.2%', 'normal']);
    // 1.389 of 500 new connections/s; 2.778 with one region down.
    expect(row(printed, 'API Gateway new connections/s')).toEqual(['1.4', '500', '0.3%', '0.6%', 'normal']);
    // 10,000 ÷ 212.389 = 47.08; 10,000 ÷ 424.78 = 23.54. Pings are 200 of 212.4 = 94 %.
    expect(printed).toContain(
      'First to break: API Gateway account throttle, requests/s (client frames + PostToConnection), at 47.1× this peak (23.5× with one region down).',
    );
    expect(printed.find((l) => l.startsWith('Suggest: '))).toContain('or a longer client heartbeat (pings are 94% at 50 s)');
    expect(printed).toContain('Note: connect churn raised to 1.39/s per region: API Gateway ends every connection after limits.maxConnectionSeconds (7200 s).');
  });

  it('GIVEN the same workload WHEN run with --json THEN it prints one JSON plan with the same figures as the table', async () => {
    const table = await relaymeshWithoutCredentials(...planArgs());
    const plan = JSON.parse((await relaymeshWithoutCredentials(...planArgs(), '--json')).join('\n')) as Plan;

    const cost = (part: string) => plan.costs.find((line) => line.part === part)!;
    expect(cost('apiGatewayConnectionMinutes')).toMatchObject({ quantity: 219, unit: 'M minutes', global: 0 });
    expect(cost('apiGatewayConnectionMinutes').perRegion).toBeCloseTo(54.75, 9);
    expect(cost('apiGatewayMessages').perRegion).toBeCloseTo(555.822, 3);
    expect(plan.deliveredPerMonth).toBe(26_280_000);
    expect(plan.costPerMillionDelivered).toBeCloseTo(plan.total / 26.28, 9);
    expect(plan.idle.total).toBeCloseTo(2 * 27.6538 + 18.25, 2);
    const throttle = plan.quotas.find((q) => q.key === 'apiGatewayAccountRate')!;
    expect(throttle.demand).toBeCloseTo(200 + 1 + 10 + 10_000 / 7200, 9);
    expect(throttle.utilizationOneRegionDown).toBeCloseTo((2 * (200 + 1 + 10 + 10_000 / 7200)) / 10_000, 9);
    expect(plan.firstToBreak?.key).toBe('apiGatewayAccountRate');

    // The table prints these figures, rounded: every part in order, the total and the first to break.
    const costRows = table.slice(table.findIndex((l) => l.startsWith('part  ')) + 1, table.findIndex((l) => l.startsWith('total  ')));
    expect(costRows.map((l) => l.split(/\s{2,}/).slice(1))).toEqual(
      plan.costs.map((line) => [`${count(line.quantity)} ${line.unit}`, usd(line.perRegion), usd(line.perRegion), usd(2 * line.perRegion + line.global)]),
    );
    expect(row(table, 'total').at(-1)).toBe(usd(plan.total));
    expect(row(table, 'total')[0]).toBe(usd(plan.totalPerRegion));
    expect(table).toContain(`Cost per million delivered messages: ${usd(plan.costPerMillionDelivered!)} (26.3 million delivered a month)`);
    expect(table.filter((l) => l.startsWith('First to break: '))).toEqual([expect.stringContaining(`at ${count(plan.firstToBreak!.breaksAtLoad)}× this peak`)]);
    expect(plan.notes).toEqual([expect.stringMatching(/^connect churn raised to 1\.39\/s per region/)]);
  });
});
