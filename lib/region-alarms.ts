import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  alarmDescription,
  DEFAULT_RUNBOOK_BASE_URL,
  regionAlarmDefinitions,
  type AlarmDefinition,
  type AlarmWatch,
  type DeadLetterAlarmSettings,
  regionAlarmName,
} from './alarm-definitions';
import type { EventClass } from './config';
import type { EventClassQueue } from './event-class-queue';

export interface RegionAlarmsProps {
  readonly queues: readonly EventClassQueue[];
  /**
   * The DLQ alarm of each class.
   * @default - any message, within a minute
   */
  readonly deadLetterAlarms?: Partial<Record<EventClass, DeadLetterAlarmSettings>>;
  /**
   * This region's fan-out topic and the DLQ of its subscriptions: a delivery SNS gave up on
   * (to any region's queue) and the messages kept in that DLQ alarm.
   */
  readonly fanout?: { readonly topic: ITopic; readonly deadLetterQueue: IQueue };
  /** Functions alarmed on errors and throttles, by a name used in the alarm description. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** Physical names of the global tables, alarmed on ReplicationLatency toward every other region. */
  readonly tableNames: readonly string[];
  /** The other regions this region's tables replicate to. */
  readonly replicaRegions: readonly string[];
  /** The WebSocket API and stage whose integration errors are alarmed. */
  readonly apiId: string;
  readonly stageName: string;
  /**
   * Oldest-message age, seconds, above which a queue alarms.
   * @default 120
   */
  readonly oldestMessageAgeSeconds?: number;
  /**
   * Average global table replication latency, milliseconds, above which a table alarms.
   * @default 5000
   */
  readonly replicationLatencyMs?: number;
  /**
   * Where each alarm's runbook link points: `<runbookBaseUrl>#runbook-<kind>`.
   * @default 'README.md'
   */
  readonly runbookBaseUrl?: string;
  /**
   * E-mail subscribed to the alarm topic.
   * @default - no subscription
   */
  readonly email?: string;
  /**
   * The app whose alarms these are: each alarm is named `<appName>-<region>-<definition name>`
   * (lib/naming.ts regionAlarmName), so the console, `relaymesh status --aws` and the local
   * cloud call it the same.
   * @default - CloudFormation generates the names
   */
  readonly appName?: string;
}

/**
 * Every alarm of one region (lib/alarm-definitions.ts, which the local cloud evaluates too), all
 * notifying one alarm topic: a message in any DLQ (the event classes' and the fan-out
 * subscriptions'), SNS failing to deliver to a queue, a queue falling behind, Lambda errors and
 * throttles, slow global table replication and API Gateway integration errors.
 */
export class RegionAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly definitions: readonly AlarmDefinition[];

  constructor(scope: Construct, id: string, props: RegionAlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', { enforceSSL: true });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const region = Stack.of(this).region;
    this.definitions = regionAlarmDefinitions({
      eventClasses: props.queues.map((q) => q.eventClass),
      deadLetterAlarms: props.deadLetterAlarms,
      fanout: props.fanout !== undefined,
      functionNames: Object.keys(props.functions),
      tableNames: props.tableNames,
      replicaRegions: props.replicaRegions,
      oldestMessageAgeSeconds: props.oldestMessageAgeSeconds,
      replicationLatencyMs: props.replicationLatencyMs,
    });
    for (const definition of this.definitions) {
      const alarm = new Alarm(this, definition.name, {
        ...(props.appName && { alarmName: regionAlarmName(props.appName, region, definition.name) }),
        alarmDescription: alarmDescription(definition, region, props.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL),
        metric: metricOf(definition.watches, { period: Duration.minutes(definition.periodMinutes), statistic: definition.statistic }, props),
        threshold: definition.threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: definition.evaluationPeriods,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new SnsAction(this.topic));
      this.alarms.push(alarm);
    }
  }
}

/** The CloudWatch metric an alarm definition watches. */
function metricOf(watch: AlarmWatch, options: { period: Duration; statistic: string }, props: RegionAlarmsProps): IMetric {
  const queueOf = (eventClass: EventClass) => {
    const queue = props.queues.find((q) => q.eventClass === eventClass);
    if (!queue) throw new Error(`No ${eventClass} queue to alarm on`);
    return queue;
  };
  const fanout = () => {
    if (!props.fanout) throw new Error('No fan-out topic to alarm on');
    return props.fanout;
  };
  const fn = (name: string) => props.functions[name]!;
  switch (watch.kind) {
    case 'deadLetters':
      return queueOf(watch.eventClass).deadLetterQueue.metricApproximateNumberOfMessagesVisible(options);
    case 'oldestMessage':
      return queueOf(watch.eventClass).queue.metricApproximateAgeOfOldestMessage(options);
    case 'fanoutDeadLetters':
      return fanout().deadLetterQueue.metricApproximateNumberOfMessagesVisible(options);
    case 'fanoutNotificationsFailed':
      return fanout().topic.metricNumberOfNotificationsFailed(options);
    case 'fanoutRedriveFailed':
      return fanout().topic.metric('NumberOfNotificationsFailedToRedriveToDlq', options);
    case 'functionErrors':
      return fn(watch.functionName).metricErrors(options);
    case 'functionThrottles':
      return fn(watch.functionName).metricThrottles(options);
    case 'replicationLatency':
      return new Metric({
        namespace: 'AWS/DynamoDB',
        metricName: 'ReplicationLatency',
        dimensionsMap: { TableName: watch.tableName, ReceivingRegion: watch.receivingRegion },
        ...options,
      });
    case 'apiIntegrationErrors':
      return new Metric({
        namespace: 'AWS/ApiGateway',
        metricName: 'IntegrationError',
        dimensionsMap: { ApiId: props.apiId, Stage: props.stageName },
        ...options,
      });
  }
}
