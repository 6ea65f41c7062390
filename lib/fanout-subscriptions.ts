import { Stack } from 'aws-cdk-lib';
import { type ITopic, Subscription, SubscriptionFilter, SubscriptionProtocol } from 'aws-cdk-lib/aws-sns';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_CLASSES } from './config';
import { eventQueueArn } from './naming';

/** The SNS message attribute the publisher sets and every subscription filters on. */
export const EVENT_CLASS_ATTRIBUTE = 'class';

export interface FanoutSubscriptionsProps {
  readonly appName: string;
  /** The topic, which lives in this construct's region. */
  readonly topic: ITopic;
  /** Every region whose queues receive the topic's events, this one included. */
  readonly queueRegions: readonly string[];
  /**
   * ARN of the queue every subscription redrives what SNS cannot deliver to: in the topic's
   * account and Region, with a queue policy letting the topic send (SubscriptionDeadLetters).
   */
  readonly deadLetterQueueArn: string;
}

/**
 * Subscribes one region's fan-out topic to every region's per-class queues, filtered on the
 * `class` message attribute, with raw delivery so the worker reads the envelope as published,
 * and a redrive policy to the region's subscription DLQ so a failed delivery is kept and alarmed.
 * Cross-region SNS→SQS subscriptions are created in the topic's region; the queues are named by
 * their deterministic ARNs, so no cross-region reference is needed.
 */
export class FanoutSubscriptions extends Construct {
  readonly subscriptions: readonly Subscription[];

  constructor(scope: Construct, id: string, props: FanoutSubscriptionsProps) {
    super(scope, id);
    if (props.queueRegions.length === 0) throw new Error('FanoutSubscriptions: queueRegions must name at least one region');
    const stack = Stack.of(this);
    const deadLetterQueue = Queue.fromQueueArn(this, 'DeadLetters', props.deadLetterQueueArn);
    this.subscriptions = props.queueRegions.flatMap((region) =>
      EVENT_CLASSES.map(
        (eventClass) =>
          new Subscription(this, `${region}-${eventClass}`, {
            topic: props.topic,
            protocol: SubscriptionProtocol.SQS,
            endpoint: eventQueueArn(stack, props.appName, region, eventClass),
            rawMessageDelivery: true,
            filterPolicy: { [EVENT_CLASS_ATTRIBUTE]: SubscriptionFilter.stringFilter({ allowlist: [eventClass] }) },
            deadLetterQueue,
          }),
      ),
    );
  }
}
