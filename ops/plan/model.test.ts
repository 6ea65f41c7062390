import { describe, expect, it } from 'vitest';
import { loadConfig, type RelaymeshConfigInput } from '../../lib/config';
import { computePlan, planInputSchema, regionUsage, type CostPart, type Plan, type PlanInputOptions } from './model';

/** A month is 730 h = 2,628,000 s = 43,800 min; prices from ops/plan/prices.ts. */
const plan = (options: PlanInputOptions, configInput: RelaymeshConfigInput = {}): Plan => {
  const config = loadConfig(configInput);
  return computePlan(planInputSchema(config).parse(options), config);
};
const cost = (p: Plan, part: CostPart) => p.costs.find((line) => line.part === part)!;

describe('relaymesh plan arithmetic', () => {
  it('prices an idle deployment at its standing parts only: accelerator, ALBs, IPv4, alarms, secrets, idle polls and health checks', () => {
    const idle = plan({ peakConnections: 0, messagesPerSecond: { critical: 0, ephemeral: 0 } });
    // Per region: ALB 0.0225 × 730 = 16.425; LCU (0.4 health checks/s ÷ 25) × 0.008 × 730 = 0.09344;
    // 2 public IPv4 × 0.005 × 730 = 7.30; 26 alarms × 0.10 = 2.60 (2 classes × 2 + 3 fan-out + 7 functions × 2
    // + 4 global tables × 1 other region + 1 API); secret 0.40; 2 queues × 650,000 idle polls = 1.3 M × 0.40 = 0.52;
    // edge health checks 0.4/s × 2,628,000 = 1,051,200 invocations × 0.20/M = 0.21024, and
    // × 0.03 s × 0.25 GB × 0.0000133334 = 0.10512. Sum: 27.65380. Two regions + the accelerator 0.025 × 730 = 18.25.
    expect(idle.idle.perRegion).toBeCloseTo(27.6538, 3);
    expect(idle.total).toBeCloseTo(2 * 27.6538 + 18.25, 2);
    expect(idle.idle.total).toBeCloseTo(idle.total, 6);
    expect(cost(idle, 'globalAccelerator').global).toBeCloseTo(18.25, 6);
    expect(cost(idle, 'cloudWatch').perRegion).toBeCloseTo(2.6, 6);
    expect(idle.costPerMillionDelivered).toBeUndefined();
    // Only the health checks keep anything busy: every quota is far away.
    expect(idle.quotas.every((q) => q.utilization < 0.001)).toBe(true);
  });

  it('bills API Gateway connection minutes at the average load, and every frame in and out in 32 KB units', () => {
    const p = plan({
      peakConnections: 20_000,
      peakToAverage: 2,
      connectChurn: { per: 'second', connects: 0 },
      subscriptionsPerConnection: 0,
      heartbeatSeconds: 50,
      messagesPerSecond: { critical: 2, ephemeral: 0 },
      meanFanout: 10,
      messageBytes: 32_600,
    });
    // Average: 10,000 connections, 5,000 per region × 43,800 min = 219 M minutes × $0.25/M.
    expect(cost(p, 'apiGatewayConnectionMinutes').perRegion).toBeCloseTo(54.75, 6);
    // Per region and second: pings 5,000 ÷ 50 = 100, each with its pong: 200. Publishes 1/s ÷ 2 regions = 0.5,
    // a 32,850-byte frame (32,600 + 250 of envelope) = 2 units, plus its ack: 1.5. Deliveries here: 1/s × 10
    // subscribers ÷ 2 regions = 5 posts of 2 units: 10. 211.5/s × 2,628,000 = 555.822 M messages × $1/M.
    expect(cost(p, 'apiGatewayMessages').perRegion).toBeCloseTo(555.822, 3);
    // 1 message/s × 10 subscribers × 2,628,000 s delivered in a month.
    expect(p.deliveredPerMonth).toBe(26_280_000);
    expect(p.costPerMillionDelivered).toBeCloseTo(p.total / 26.28, 9);
  });

  it('counts the DynamoDB write units per critical message of the README table: 6 at the origin, 3 replicated, 1 + 1 where received', () => {
    const config = loadConfig({});
    const input = planInputSchema(config).parse({ peakConnections: 0, peakToAverage: 1, messagesPerSecond: { critical: 2, ephemeral: 0 }, messageBytes: 1000 });
    // Each region originates 1 message/s and receives the other region's 1 message/s.
    const { tables } = regionUsage(input, config, 2, 1);
    // Origin: the transaction (claim 2, counter 2, history 2) = 6, plus the receipt of the other's: 1.
    expect(tables.dedup.writeUnits + tables.sequences.writeUnits + tables.history.writeUnits).toBe(6 + 1);
    expect(tables.history.writeUnits).toBe(2 + 1);
    // Arriving from the other region: its 3 replicated units (claim, counter, history) and its receipt's 1.
    expect(tables.dedup.replicatedWriteUnits + tables.sequences.replicatedWriteUnits + tables.history.replicatedWriteUnits).toBe(3 + 1);
    // The publish frame takes one token from the connection's bucket: one more write, in this region's own table only.
    expect(tables.connections.writeUnits).toBe(1);
    expect(tables.connections.replicatedWriteUnits).toBe(0);
  });

  it('replicates presence items but not connections or subscriptions: a connect and a subscribe write in their region only', () => {
    const config = loadConfig({});
    // One connect a second (churn), each subscribing to one channel, and no messages.
    const input = planInputSchema(config).parse({
      peakConnections: 3600,
      peakToAverage: 1,
      connectChurn: { per: 'connection-hour', connects: 1 },
      subscriptionsPerConnection: 1,
      messagesPerSecond: { critical: 0, ephemeral: 0 },
    });
    const { tables } = regionUsage(input, config, 3, 1);
    expect(tables.connections.replicatedWriteUnits).toBe(0);
    expect(tables.subscriptions.replicatedWriteUnits).toBe(0);
    // Per region 3,600 ÷ 3 = 1,200 connections ÷ 3,600 s = 1/3 connect a second, each one subscribe: a presence put
    // and, at disconnect, its delete reach each of the 2 other regions: (1/3 + 1/3) × 2 = 4/3.
    expect(tables.presence.replicatedWriteUnits).toBeCloseTo(4 / 3, 6);
  });

  it('flags the API Gateway account throttle as broken when PostToConnection alone exceeds it, and asks for the limit that fits', () => {
    const p = plan({ messagesPerSecond: { critical: 200, ephemeral: 0 }, meanFanout: 200 });
    // Per region at peak: posts 200 × 200 ÷ 2 = 20,000; pings 5,000 ÷ 25 = 200; publishes 100;
    // connects 5,000 × 1/h ÷ 3,600 = 1.389 and their subscribes 2.778: 20,304.17 of 10,000.
    const first = p.firstToBreak!;
    expect(first.key).toBe('apiGatewayAccountRate');
    expect(first.demand).toBeCloseTo(20_304.17, 2);
    expect(first.utilization).toBeCloseTo(2.0304, 4);
    expect(first.level).toBe('over');
    // With one region down the survivor carries all 40,000 posts and every client: 40,608.3.
    expect(first.utilizationOneRegionDown).toBeCloseTo(4.0608, 4);
    // 20,304.17 ÷ 0.7 (the warning level's threshold) = 29,005.96.
    expect(first.suggestion).toContain('limits.accountRatePerSecond to at least 29,006');
  });

  it('flags too few delivery workers before the account throttle, and names the maxConcurrency that keeps up', () => {
    const p = plan({ messagesPerSecond: { critical: 100, ephemeral: 0 }, meanFanout: 50 }, { eventClasses: { critical: { maxConcurrency: 2 } } });
    // Each region's critical queue receives 100 messages/s; 2 pollers take 50 each, capped by the batch of 10:
    // 10 invocations/s, each posting 10 × 25 subscribers = 250 in ceil(250 ÷ 32) = 8 rounds of 20 ms after 50 ms:
    // 0.21 s. 10 × 0.21 = 2.1 workers running, of 2 allowed; 2.1 ÷ 0.7 = 3.
    const first = p.firstToBreak!;
    expect(first.key).toBe('workerConcurrency.critical');
    expect(first.demand).toBeCloseTo(2.1, 9);
    expect(first.level).toBe('over');
    expect(first.suggestion).toContain('eventClasses.critical.maxConcurrency (2) to at least 3');
    expect(p.quotas.find((q) => q.key === 'apiGatewayAccountRate')!.level).toBe('normal');
  });

  it('never lets connections outlive API Gateway\'s two hours: churn is at least connections ÷ maxConnectionSeconds, and the plan says so', () => {
    const p = plan({ peakConnections: 72_000, connectChurn: { per: 'connection-hour', connects: 0.1 } });
    // 36,000 per region ÷ 7,200 s = 5 connects/s, above the 1/s the 0.1 per hour asks for.
    expect(p.peak.connectsPerSecond).toBeCloseTo(5, 9);
    expect(p.notes.join()).toMatch(/maxConnectionSeconds \(7200 s\)/);
  });

  it('prices the regional edge mode without accelerator or ALBs: idle is alarms, secrets and idle polls, and each connect an HTTP API request', () => {
    const regional = { edge: { mode: 'regional' } } as const;
    const idle = plan({ peakConnections: 0, messagesPerSecond: { critical: 0, ephemeral: 0 } }, regional);
    // Per region: 26 alarms 2.60 + secret 0.40 + idle polls 0.52; no health checks invoke the edge.
    expect(idle.total).toBeCloseTo(2 * 3.52, 6);
    expect(idle.costs.map((c) => c.part)).not.toContain('globalAccelerator');
    expect(idle.costs.map((c) => c.part)).not.toContain('alb');

    const busy = plan(
      { peakConnections: 72_000, peakToAverage: 1, connectChurn: { per: 'connection-hour', connects: 0 }, messagesPerSecond: { critical: 0, ephemeral: 0 } },
      regional,
    );
    // 36,000 connections per region, reconnecting every 2 h at least: 5 connects/s × 2,628,000 s = 13.14 M requests × $1/M.
    expect(cost(busy, 'edgeHttpApi').perRegion).toBeCloseTo(13.14, 6);
  });

  it('counts the X-Ray traces of the default sampling: the first invocation each second of each traced function, then 5%', () => {
    const traced = (configInput: RelaymeshConfigInput) => {
      const config = loadConfig(configInput);
      const input = planInputSchema(config).parse({ peakConnections: 0, peakToAverage: 1, messagesPerSecond: { critical: 42, ephemeral: 0 } });
      return regionUsage(input, config, 2, 1).tracesRecorded;
    };
    // Router: 21 publishes/s → 1 + 0.05 × 20 = 2. Critical workers: 42 messages/s over 20 pollers, 2.1 a batch,
    // 20 invocations/s → 1 + 0.05 × 19 = 1.95. The edge is traced only with traceEdge, and here idle anyway.
    expect(traced({})).toBeCloseTo(3.95, 9);
    expect(traced({ functions: { tracing: false } })).toBe(0);
  });

  it('refuses a message larger than the config lets anyone publish', () => {
    const config = loadConfig({});
    expect(planInputSchema(config).safeParse({ messageBytes: config.limits.maxPublishDataBytes + 1 }).success).toBe(false);
  });
});
