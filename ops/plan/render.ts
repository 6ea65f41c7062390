import { count, percent, renderTable, usd } from '../format';
import type { CostPart, Plan } from './model';

const PART_NAMES: Record<CostPart, string> = {
  apiGatewayConnectionMinutes: 'API Gateway connection minutes',
  apiGatewayMessages: 'API Gateway messages (32 KB units)',
  lambdaRequests: 'Lambda requests',
  lambdaDuration: 'Lambda duration (arm64)',
  sqsRequests: 'SQS requests',
  snsPublishes: 'SNS publishes',
  interRegionDataTransfer: 'Inter-region transfer (SNS, replication)',
  dynamodbWrites: 'DynamoDB writes',
  dynamodbReplicatedWrites: 'DynamoDB replicated writes',
  dynamodbReads: 'DynamoDB reads',
  dynamodbStorage: 'DynamoDB storage',
  globalAccelerator: 'Global Accelerator (fixed + DT-Premium)',
  alb: 'ALB (hours, LCU, public IPv4)',
  edgeHttpApi: 'Edge HTTP API requests',
  cloudWatch: 'CloudWatch (alarms, access logs, dashboards)',
  xray: 'X-Ray traces recorded',
  secretsManager: 'Secrets Manager',
};

export function renderPlan(plan: Plan): string {
  const { input, peak } = plan;
  const regions = input.regions;
  const n = regions.length;
  const deliveries = (input.messagesPerSecond.critical + input.messagesPerSecond.ephemeral) * input.meanFanout;

  const costRows = plan.costs.map((line) => [
    PART_NAMES[line.part],
    `${count(line.quantity)} ${line.unit}`,
    ...regions.map(() => usd(line.perRegion)),
    usd(line.perRegion * n + line.global),
  ]);
  costRows.push(['total', '', ...regions.map(() => usd(plan.totalPerRegion)), usd(plan.total)]);

  const quotaRows = plan.quotas.map((q) => [
    q.name,
    count(q.demand),
    count(q.limit),
    percent(q.utilization),
    q.utilizationOneRegionDown === undefined ? '—' : percent(q.utilizationOneRegionDown),
    q.level,
  ]);

  const lines = [
    `relaymesh plan: ${n} region${n === 1 ? '' : 's'} (${regions.join(', ')}); us-east-1 list prices read ${plan.pricesReadOn} (ops/plan/prices.ts)`,
    `Peak: ${count(input.peakConnections)} connections, ${count(input.messagesPerSecond.critical)} critical + ${count(input.messagesPerSecond.ephemeral)} ephemeral messages/s, ` +
      `fan-out ${count(input.meanFanout)} → ${count(deliveries)} deliveries/s; ${count(peak.connectsPerSecond * n)} connects/s.`,
    `Costs at the average load (peak ÷ ${input.peakToAverage}), per 730-hour month; the usage column is one region's:`,
    '',
    renderTable(['part', 'usage', ...regions, 'total'], costRows, ['left', 'right', ...regions.map(() => 'right' as const), 'right']),
    '',
    plan.costPerMillionDelivered === undefined
      ? 'Cost per million delivered messages: — (nothing delivered)'
      : `Cost per million delivered messages: ${usd(plan.costPerMillionDelivered)} (${count(plan.deliveredPerMonth / 1e6)} million delivered a month)`,
    `Idle (no connections, no messages): ${usd(plan.idle.total)} a month (${usd(plan.idle.perRegion)} per region + the accelerator)`,
    '',
    'Quotas at peak, per region:',
    renderTable(['quota', 'demand', 'limit', 'used', 'one region down', 'level'], quotaRows, ['left', 'right', 'right', 'right', 'right', 'left']),
  ];
  if (plan.firstToBreak) {
    const first = plan.firstToBreak;
    const down = first.utilizationOneRegionDown === undefined ? '' : ` (${count(1 / first.utilizationOneRegionDown)}× with one region down)`;
    lines.push(
      '',
      first.utilization >= 1
        ? `Breaks at this peak: ${first.name}, at ${percent(first.utilization)} of its limit.`
        : `First to break: ${first.name}, at ${count(first.breaksAtLoad)}× this peak${down}.`,
      `Suggest: ${first.suggestion}.`,
    );
  }
  for (const note of plan.notes) lines.push(`Note: ${note}.`);
  return lines.join('\n');
}
