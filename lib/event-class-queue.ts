import { Duration, Stack, Token } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { DeadLetterQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { snsDeliveryPrincipals } from './aws-regions';
import type { EventClass, EventClassSettings } from './config';

/** A fan-out topic allowed to send to the queue, with its Region (the SNS principal depends on it). */
export interface SourceTopic {
  readonly region: string;
  readonly topicArn: string;
}

export interface EventClassQueueProps {
  /** Physical name of the queue; the DLQ is named by `deadLetterQueueName`. */
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly eventClass: EventClass;
  /** maxReceiveCount and visibilityTimeoutSeconds of the class. */
  readonly settings: Pick<EventClassSettings, 'maxReceiveCount' | 'visibilityTimeoutSeconds'>;
  /** Fan-out topics (every region's) allowed to send to the queue. */
  readonly sourceTopics: readonly SourceTopic[];
  /**
   * How long the DLQ keeps a message for inspection and redrive.
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
}

/**
 * One event class's queue in one region plus its DLQ: the bulkhead of the class. Both are
 * SQS-managed SSE and refuse non-TLS requests; the queue policy lets every region's fan-out
 * topic deliver, named by ARN so no cross-region reference is needed, through the SNS service
 * principal that Region pair needs (opt-in Regions deliver as `sns.<region>.amazonaws.com`).
 */
export class EventClassQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly eventClass: EventClass;

  constructor(scope: Construct, id: string, props: EventClassQueueProps) {
    super(scope, id);
    if (props.sourceTopics.length === 0) {
      throw new Error(`EventClassQueue ${props.queueName}: sourceTopics must name at least one topic`);
    }
    const queueRegion = Stack.of(this).region;
    if (Token.isUnresolved(queueRegion)) {
      throw new Error(`EventClassQueue ${props.queueName}: its stack needs a concrete region to choose the SNS principals`);
    }
    this.eventClass = props.eventClass;
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      queueName: props.deadLetterQueueName,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });
    const deadLetterQueue: DeadLetterQueue = { queue: this.deadLetterQueue, maxReceiveCount: props.settings.maxReceiveCount };
    this.queue = new Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.settings.visibilityTimeoutSeconds),
      deadLetterQueue,
    });
    // One statement per set of principals, each bound to the topics that deliver through it.
    const byPrincipals = new Map<string, string[]>();
    for (const { region, topicArn } of props.sourceTopics) {
      const principals = snsDeliveryPrincipals(region, queueRegion);
      if (!principals) {
        throw new Error(`EventClassQueue ${props.queueName}: SNS does not deliver from ${region} to ${queueRegion} (two opt-in Regions)`);
      }
      const key = principals.join(' ');
      byPrincipals.set(key, [...(byPrincipals.get(key) ?? []), topicArn]);
    }
    let index = 0;
    for (const [key, topicArns] of byPrincipals) {
      this.queue.addToResourcePolicy(
        new PolicyStatement({
          sid: index++ === 0 ? 'FanoutTopicsSendMessage' : `FanoutTopicsSendMessage${index}`,
          principals: key.split(' ').map((principal) => new ServicePrincipal(principal)),
          actions: ['sqs:SendMessage'],
          resources: [this.queue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': topicArns } },
        }),
      );
    }
  }
}
