import { Stack, type StackProps } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { RelaymeshConfig } from './config';
import { FanoutSubscriptions } from './fanout-subscriptions';
import { fanoutTopicArn, subscriptionDeadLetterQueueArn } from './naming';

export interface FanoutStackProps extends StackProps {
  readonly config: RelaymeshConfig;
}

/**
 * The subscriptions of one region's fan-out topic to every region's queues, in the topic's
 * region. They sit in their own stack, deployed after every region stack, because a
 * subscription needs both its topic and its (possibly remote) queue to exist, and no region
 * stack can wait for another region's stack that in turn waits for it.
 */
export class FanoutStack extends Stack {
  readonly subscriptions: FanoutSubscriptions;

  constructor(scope: Construct, id: string, props: FanoutStackProps) {
    super(scope, id, props);
    const { appName, regions } = props.config;
    const topic = Topic.fromTopicArn(this, 'Topic', fanoutTopicArn(this, appName, this.region));
    this.subscriptions = new FanoutSubscriptions(this, 'Subscriptions', {
      appName,
      topic,
      queueRegions: regions,
      // Created by this region's stack, with the queue policy that lets the topic send.
      deadLetterQueueArn: subscriptionDeadLetterQueueArn(this, appName, this.region),
    });
  }
}
