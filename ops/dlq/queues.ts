import { GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { EVENT_CLASSES, type EventClass } from '../../lib/config';
// The names lib/naming.ts re-exports, from the module that does not load aws-cdk-lib.
import { deadLetterQueueName, subscriptionDeadLetterQueueName } from '../../lib/messaging-names';
import { OpsError } from '../cli-support';
import type { AwsTarget, LocalTarget, Target } from '../target';
import type { QueueRef } from './queue-port';

/** Whose dead letters a DLQ holds: an event class queue's, or the fan-out subscriptions' (what SNS could not deliver). */
export const DEAD_LETTER_SOURCES = [...EVENT_CLASSES, 'fanout'] as const;
export type DeadLetterSource = (typeof DEAD_LETTER_SOURCES)[number];

export interface DeadLetterQueue extends QueueRef {
  readonly of: DeadLetterSource;
  readonly name: string;
  /**
   * The queue SQS moved the messages from, for a redrive that moves them itself (the local cloud's);
   * StartMessageMoveTask finds it on its own.
   */
  readonly source?: QueueRef;
}

export const isEventClass = (of: DeadLetterSource): of is EventClass => of !== 'fanout';

/** Every DLQ of the target's regions whose source is in `of`, each checked to exist. */
export async function deadLetterQueues(target: Target, of: readonly DeadLetterSource[]): Promise<DeadLetterQueue[]> {
  return target.kind === 'local' ? localDeadLetterQueues(target, of) : awsDeadLetterQueues(target, of);
}

async function localDeadLetterQueues(target: LocalTarget, of: readonly DeadLetterSource[]): Promise<DeadLetterQueue[]> {
  // The local cloud gives its fan-out subscriptions no DLQ (fauxqs retries SNS deliveries itself).
  const dlqs = target.regions.flatMap((region) =>
    of.filter(isEventClass).map((eventClass): DeadLetterQueue => {
      const { dlqUrl, queueUrl } = target.cloud.regions[region]!.queues[eventClass];
      return { region, of: eventClass, name: dlqUrl.split('/').pop()!, url: dlqUrl, source: { region, url: queueUrl } };
    }),
  );
  await Promise.all(
    dlqs.flatMap((dlq) => [dlq, dlq.source!]).map(async ({ region, url }) => {
      try {
        await target.sqs(region).send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
      } catch (error) {
        if (!(error instanceof QueueDoesNotExist)) throw error;
        throw new OpsError(`The local cloud answers but has no queue ${url}: ${target.stateFile} describes an earlier run. Restart \`npm start\`.`);
      }
    }),
  );
  return dlqs;
}

async function awsDeadLetterQueues(target: AwsTarget, of: readonly DeadLetterSource[]): Promise<DeadLetterQueue[]> {
  const queueUrl = async (region: string, name: string): Promise<string> => {
    try {
      const { QueueUrl } = await target.sqs(region).send(new GetQueueUrlCommand({ QueueName: name }));
      return z.string().parse(QueueUrl);
    } catch (error) {
      if (!(error instanceof QueueDoesNotExist)) throw error;
      throw new OpsError(`No queue ${name} in ${region}: is Relaymesh "${target.appName}" deployed there?`);
    }
  };
  return Promise.all(
    target.regions.flatMap((region) =>
      of.map(async (source): Promise<DeadLetterQueue> => {
        const name = isEventClass(source) ? deadLetterQueueName(target.appName, source) : subscriptionDeadLetterQueueName(target.appName);
        return { region, of: source, name, url: await queueUrl(region, name) };
      }),
    ),
  );
}
