import { Duration } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { DeadLetterQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EventClass, EventClassSettings } from './config';

export interface EventClassQueueProps {
  /** Physical name of the queue; the DLQ is named by `deadLetterQueueName`. */
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly eventClass: EventClass;
  /** maxReceiveCount and visibilityTimeoutSeconds of the class. */
  readonly settings: Pick<EventClassSettings, 'maxReceiveCount' | 'visibilityTimeoutSeconds'>;
  /** Fan-out topics (every region's) allowed to send to the queue. */
  readonly sourceTopicArns: readonly string[];
  /**
   * How long the DLQ keeps a message for inspection and redrive.
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
}

/**
 * One event class's queue in one region plus its DLQ: the bulkhead of the class. Both are
 * SQS-managed SSE and refuse non-TLS requests; the queue policy lets every region's fan-out
 * topic deliver, named by ARN so no cross-region reference is needed.
 */
export class EventClassQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly eventClass: EventClass;

  constructor(scope: Construct, id: string, props: EventClassQueueProps) {
    super(scope, id);
    if (props.sourceTopicArns.length === 0) {
      throw new Error(`EventClassQueue ${props.queueName}: sourceTopicArns must name at least one topic`);
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
    this.queue.addToResourcePolicy(
      new PolicyStatement({
        sid: 'FanoutTopicsSendMessage',
        principals: [new ServicePrincipal('sns.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': [...props.sourceTopicArns] } },
      }),
    );
  }
}
