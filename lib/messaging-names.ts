import type { EventClass } from './config';

/**
 * Names of the fan-out topic and the event class queues, shared by the CDK stacks (which
 * build ARNs from them across regions) and the local cloud. Free of aws-cdk-lib so the local
 * cloud can use them without loading it.
 */
export const fanoutTopicName = (appName: string): string => `${appName}-fanout`;

export const eventQueueName = (appName: string, eventClass: EventClass): string => `${appName}-${eventClass}`;

export const deadLetterQueueName = (appName: string, eventClass: EventClass): string => `${appName}-${eventClass}-dlq`;

/** The DLQ of every SNS→SQS subscription of a region's fan-out topic, in the topic's region (SNS requires that). */
export const subscriptionDeadLetterQueueName = (appName: string): string => `${appName}-fanout-dlq`;
