import { Duration, Stack } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, type IMetric, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambdas/core/runtime';
import type { EventClassQueue } from './event-class-queue';

export interface RegionDashboardProps {
  readonly dashboardName: string;
  readonly apiId: string;
  readonly stageName: string;
  readonly topic: ITopic;
  readonly queues: readonly EventClassQueue[];
  /** The DLQ of the topic's fan-out subscriptions, graphed with the class DLQs. */
  readonly subscriptionDeadLetterQueue?: IQueue;
  /** Functions whose errors and throttles are graphed, by display name. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The delivery workers, whose duration is graphed as delivery latency, by display name. */
  readonly deliveryFunctions: Readonly<Record<string, IFunction>>;
  /**
   * Aggregation period of every graph.
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
}

/**
 * One CloudWatch dashboard per region: connections, messages in and out, fan-out, delivery
 * latency, queue depth and age, DLQ depth, errors.
 */
export class RegionDashboard extends Construct {
  readonly dashboard: Dashboard;
  /** Console URL of the dashboard. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: RegionDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(1);
    const region = Stack.of(this).region;
    const api = (metricName: string, statistic = 'Sum') =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.apiId, Stage: props.stageName },
        statistic,
        period,
      });
    // The delivery workers' metrics (lambdas/core/handlers.ts), by event class.
    const perClass = (metricName: string, label: string, statistic = 'Sum') =>
      props.queues.map(
        ({ eventClass }) =>
          new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { EventClass: eventClass }, statistic, period, label: `${label} ${eventClass}` }),
      );
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) => new GraphWidget({ title, left, right, width: 8, height: 6 });
    const functions = Object.entries(props.functions);

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
    this.dashboard.addWidgets(
      graph('Connections', [api('ConnectCount')], [api('ClientError'), api('ExecutionError')]),
      graph('Messages in (WebSocket frames) and published to SNS', [api('MessageCount')], [props.topic.metricNumberOfMessagesPublished({ period })]),
      graph('Fan-out: subscribers targeted and frames delivered', perClass('subscribers', 'subscribers'), perClass('posted', 'delivered')),
    );
    this.dashboard.addWidgets(
      graph(
        'Delivery latency: publish to post and worker duration (p90), queue age',
        [
          ...perClass('publishToPost', 'publish to post', 'p90'),
          ...Object.entries(props.deliveryFunctions).map(([name, fn]) => fn.metricDuration({ period, statistic: 'p90', label: name })),
        ],
        props.queues.map((q) => q.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: `age ${q.eventClass}` })),
      ),
      graph(
        'Queue depth',
        props.queues.map((q) => q.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: q.eventClass })),
      ),
      graph(
        'DLQ depth and failed SNS deliveries',
        [
          ...props.queues.map((q) => q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: `${q.eventClass} DLQ` })),
          ...(props.subscriptionDeadLetterQueue
            ? [props.subscriptionDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'fan-out subscription DLQ' })]
            : []),
        ],
        [props.topic.metricNumberOfNotificationsFailed({ period, label: 'SNS deliveries failed' })],
      ),
    );
    this.dashboard.addWidgets(
      graph('Lambda errors', functions.map(([name, fn]) => fn.metricErrors({ period, label: name }))),
      graph('Lambda throttles', functions.map(([name, fn]) => fn.metricThrottles({ period, label: name }))),
      graph('Dropped and failed deliveries', [...perClass('expired', 'expired'), ...perClass('gone', 'gone'), ...perClass('failed', 'failed')], [api('IntegrationError')]),
    );
    this.url = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${props.dashboardName}`;
  }
}
