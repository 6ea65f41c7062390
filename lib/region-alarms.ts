import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { EventClass } from './config';
import type { EventClassQueue } from './event-class-queue';

/** When a DLQ alarms: more than `threshold` messages for `evaluationPeriods` periods of `periodMinutes`. */
export interface DeadLetterAlarmSettings {
  readonly threshold: number;
  readonly periodMinutes: number;
  readonly evaluationPeriods: number;
}

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
   * E-mail subscribed to the alarm topic.
   * @default - no subscription
   */
  readonly email?: string;
}

/**
 * Every alarm of one region, all notifying one alarm topic: a message in any DLQ (the event
 * classes' and the fan-out subscriptions'), SNS failing to deliver to a queue, a queue falling behind, Lambda errors and throttles, slow global table replication and API Gateway
 * integration errors.
 */
export class RegionAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: RegionAlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', { enforceSSL: true });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const ageSeconds = props.oldestMessageAgeSeconds ?? 120;
    const latencyMs = props.replicationLatencyMs ?? 5000;

    for (const { eventClass, queue, deadLetterQueue } of props.queues) {
      const dlq = props.deadLetterAlarms?.[eventClass] ?? { threshold: 0, periodMinutes: 1, evaluationPeriods: 1 };
      this.add(`${eventClass}DeadLetters`, {
        description:
          dlq.threshold === 0
            ? `A ${eventClass} event reached its DLQ: inspect and redrive with the DLQ tool.`
            : `More than ${dlq.threshold} ${eventClass} events sat in its DLQ for ${dlq.evaluationPeriods * dlq.periodMinutes} minutes: inspect them with the DLQ tool.`,
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(dlq.periodMinutes), statistic: 'Maximum' }),
        threshold: dlq.threshold,
        evaluationPeriods: dlq.evaluationPeriods,
      });
      this.add(`${eventClass}OldestMessage`, {
        description: `The ${eventClass} queue's oldest message is older than ${ageSeconds}s: delivery is falling behind.`,
        metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: ageSeconds,
        evaluationPeriods: 3,
      });
    }
    if (props.fanout) {
      const { topic, deadLetterQueue } = props.fanout;
      this.add('FanoutDeadLetters', {
        description: 'SNS could not deliver a fan-out event to a region\'s queue and kept it in the subscription DLQ: check that queue\'s policy, then redrive.',
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 0,
      });
      this.add('FanoutNotificationsFailed', {
        description: 'SNS failed to deliver fan-out events to a subscribed queue: a region misses messages until they are redriven.',
        metric: topic.metricNumberOfNotificationsFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
      });
      this.add('FanoutRedriveFailed', {
        description: 'SNS could not even move an undeliverable fan-out event to the subscription DLQ: that event is lost; check the DLQ\'s policy.',
        metric: topic.metric('NumberOfNotificationsFailedToRedriveToDlq', { period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
      });
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      this.add(`${name}Errors`, {
        description: `The ${name} function failed.`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
      });
      this.add(`${name}Throttles`, {
        description: `The ${name} function was throttled.`,
        metric: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
      });
    }
    for (const tableName of props.tableNames) {
      for (const receivingRegion of props.replicaRegions) {
        this.add(`${tableName}ReplicationTo${receivingRegion}`, {
          description: `Replication of ${tableName} to ${receivingRegion} is slower than ${latencyMs} ms: cross-region recovery lags.`,
          metric: new Metric({
            namespace: 'AWS/DynamoDB',
            metricName: 'ReplicationLatency',
            dimensionsMap: { TableName: tableName, ReceivingRegion: receivingRegion },
            period: Duration.minutes(1),
            statistic: 'Average',
          }),
          threshold: latencyMs,
          evaluationPeriods: 3,
        });
      }
    }
    this.add('ApiIntegrationErrors', {
      description: 'The WebSocket API could not reach its Lambda integrations.',
      metric: new Metric({
        namespace: 'AWS/ApiGateway',
        metricName: 'IntegrationError',
        dimensionsMap: { ApiId: props.apiId, Stage: props.stageName },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
    });
  }

  private add(id: string, options: { description: string; metric: IMetric; threshold: number; evaluationPeriods?: number }): void {
    const alarm = new Alarm(this, id, {
      alarmDescription: `${options.description} (${Stack.of(this).region})`,
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
