import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { AwsTarget } from '../target';
import type { OldestAge } from './inspect';
import type { DeadLetterQueue } from './queues';

/**
 * The age of each DLQ's oldest message from CloudWatch's ApproximateAgeOfOldestMessage, the
 * metric the queue alarms watch, without touching a message; one call per region, for every
 * DLQ (an empty one has no recent value). For a standard queue's DLQ it counts from when the
 * message was moved there; it lags by a minute or so.
 */
export const cloudWatchOldestAge =
  (target: AwsTarget): OldestAge =>
  async (states) => {
    const dlqs = states.map((s) => s.dlq);
    const ages = new Map<DeadLetterQueue, number>();
    const regions = [...new Set(dlqs.map((dlq) => dlq.region))];
    await Promise.all(
      regions.map(async (region) => {
        const inRegion = dlqs.filter((dlq) => dlq.region === region);
        const now = Date.now();
        const { MetricDataResults = [] } = await target.cloudWatch(region).send(
          new GetMetricDataCommand({
            StartTime: new Date(now - 15 * 60_000),
            EndTime: new Date(now),
            ScanBy: 'TimestampDescending',
            MetricDataQueries: inRegion.map((dlq, i) => ({
              Id: `q${i}`,
              MetricStat: {
                Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: dlq.name }] },
                Period: 60,
                Stat: 'Maximum',
              },
            })),
          }),
        );
        for (const result of MetricDataResults) {
          const latest = result.Values?.[0];
          const dlq = inRegion[Number(result.Id?.slice(1))];
          if (dlq && latest !== undefined) ages.set(dlq, latest);
        }
      }),
    );
    return ages;
  };
