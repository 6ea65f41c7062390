import { Duration, Validations } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface SubscriptionDeadLettersProps {
  /** Physical name; the fan-out stack of the same region names it by ARN in every redrive policy. */
  readonly queueName: string;
  /** The region's fan-out topic, the only sender allowed. */
  readonly topic: ITopic;
  /**
   * How long an undeliverable message is kept for inspection and redrive.
   * @default Duration.days(14)
   */
  readonly retention?: Duration;
}

/**
 * The dead-letter queue of every SNS→SQS subscription of one region's fan-out topic: what SNS
 * could not deliver to a queue (a client error such as a queue policy that refuses it, or server
 * errors past SNS's retries) lands here instead of being dropped. SNS requires the DLQ in the
 * subscription's account and Region (SNS Developer Guide, "Amazon SNS dead-letter queues"), so
 * it lives beside the topic. SQS-managed SSE, which SNS can write to (a KMS-encrypted DLQ would
 * need a customer managed key that grants SNS), and TLS only.
 */
export class SubscriptionDeadLetters extends Construct {
  readonly queue: Queue;

  constructor(scope: Construct, id: string, props: SubscriptionDeadLettersProps) {
    super(scope, id);
    this.queue = new Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.retention ?? Duration.days(14),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself a DLQ: the redrive target of SNS subscriptions (set in the fan-out stack), which cdk-nag only recognises for SQS redrive.',
    });
    this.queue.addToResourcePolicy(
      new PolicyStatement({
        sid: 'FanoutTopicRedrive',
        principals: [new ServicePrincipal('sns.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': props.topic.topicArn } },
      }),
    );
  }
}
