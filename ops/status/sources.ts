import { DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { regionAlarmName } from '../../lib/alarm-definitions';
import { EVENT_CLASSES } from '../../lib/config';
// From the module that does not load aws-cdk-lib, as ops/dlq does.
import { deadLetterQueueName, eventQueueName } from '../../lib/messaging-names';
import { CloudStatusSchema, type CloudStatus, type Figure, type RegionStatus } from '../../local/status';
import { OpsError } from '../cli-support';
import type { AwsTarget, LocalTarget, Target } from '../target';

export async function readStatus(target: Target): Promise<CloudStatus> {
  return target.kind === 'local' ? localStatus(target) : awsStatus(target);
}

/** The local cloud's own figures, from `GET /status` on its edge. */
async function localStatus(target: LocalTarget): Promise<CloudStatus> {
  const { edgeUrl } = target.cloud;
  if (!edgeUrl) throw new OpsError(`${target.stateFile} names no edge URL: it was written by an older \`npm start\`; restart it.`);
  const response = await fetch(`${edgeUrl}/status`, { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => {
    throw new OpsError(`The local cloud's edge at ${edgeUrl} does not answer (${String(error)}): restart \`npm start\`.`);
  });
  if (!response.ok) throw new OpsError(`The local cloud's edge answered GET /status with HTTP ${response.status}: restart \`npm start\` to get one that serves it.`);
  const parsed = CloudStatusSchema.safeParse(await response.json());
  if (!parsed.success) throw new OpsError(`The local cloud's /status answer is not a status (${parsed.error.issues[0]!.message}): restart \`npm start\`.`);
  return { ...parsed.data, regions: parsed.data.regions.filter((r) => target.regions.includes(r.region)) };
}

const na = (reason: string): Figure => ({ na: reason });
const NOT_ON_AWS = {
  health: 'the edge health is what Global Accelerator sees: see its endpoint health in the console',
  drain: 'the SSM drain flag is not read by status',
  count: 'connections and subscriptions are not counted on AWS (a Scan of a global table costs reads): see the dashboard\'s ConnectCount',
  replication: 'see the ReplicationLatency alarms',
  deliveries: 'see the dashboard\'s delivered graph (Relaymesh/posted)',
  age: 'see `relaymesh dlq list --aws` or the dashboard\'s queue age',
};

/**
 * A deployed stack's figures: queue and DLQ depths from SQS and alarm states from CloudWatch,
 * per region; the figures only the local cloud can read cheaply are n/a with where to look.
 */
async function awsStatus(target: AwsTarget): Promise<CloudStatus> {
  const regions = await Promise.all(target.regions.map((region) => awsRegionStatus(target, region)));
  return { at: new Date().toISOString(), regions };
}

async function awsRegionStatus(target: AwsTarget, region: string): Promise<RegionStatus> {
  const sqs = target.sqs(region);
  const depth = async (name: string) => {
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
    } catch (error) {
      if (!(error instanceof QueueDoesNotExist)) throw error;
      throw new OpsError(`No queue ${name} in ${region}: is Relaymesh "${target.appName}" deployed there?`);
    }
  };
  const [queues, alarms] = await Promise.all([
    Promise.all(
      EVENT_CLASSES.map(async (eventClass) => {
        const [queue, dlq] = await Promise.all([depth(eventQueueName(target.appName, eventClass)), depth(deadLetterQueueName(target.appName, eventClass))]);
        return { eventClass, ...queue, oldestAgeSeconds: na(NOT_ON_AWS.age), deadLetters: dlq.visible + dlq.inFlight };
      }),
    ),
    regionAlarms(target, region),
  ]);
  return {
    region,
    health: { na: NOT_ON_AWS.health },
    drained: { na: NOT_ON_AWS.drain },
    failed: { na: NOT_ON_AWS.drain },
    connections: na(NOT_ON_AWS.count),
    subscriptions: na(NOT_ON_AWS.count),
    queues,
    alarms,
    replicationLagMs: na(NOT_ON_AWS.replication),
    deliveriesPerSecond: na(NOT_ON_AWS.deliveries),
  };
}

/**
 * The region stack's alarms, named `<appName>-<region>-<definition name>` (lib/naming.ts
 * regionAlarmName): one prefix finds them all, and without it each reads as on the local cloud.
 */
async function regionAlarms(target: AwsTarget, region: string): Promise<RegionStatus['alarms']> {
  const prefix = regionAlarmName(target.appName, region, '');
  const found: MetricAlarm[] = [];
  let NextToken: string | undefined;
  do {
    const page = await target.cloudWatch(region).send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, AlarmTypes: ['MetricAlarm'], NextToken }));
    found.push(...(page.MetricAlarms ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return found.map((alarm) => ({
    name: alarm.AlarmName?.slice(prefix.length) ?? '?',
    state: alarm.StateValue ?? 'INSUFFICIENT_DATA',
    reason: alarm.StateReason ?? '',
    since: alarm.StateUpdatedTimestamp?.toISOString() ?? '',
  }));
}
