import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { EVENT_CLASSES, RelaymeshConfigSchema, type EventClass, type EventClassSettings } from '../lib/config';
import { deadLetterQueueName, eventQueueName, fanoutTopicName } from '../lib/messaging-names';
import { FauxqsServerOptionsSchema, type FauxqsServerOptions } from './fauxqs-server';
import { LOCAL_CREDENTIALS } from './http';
import { MessagingThreadReplySchema } from './messaging-thread-protocol';
import { buildThreadBundles, localSource } from './thread-bundles';

/**
 * The local cloud's SNS and SQS: one fauxqs server for every region (fauxqs-server.ts), in a
 * thread of its own, provisioned through the real SDK clients the way the CDK stacks provision AWS.
 */

export interface MessagingServer {
  /** Endpoint for SNSClient and SQSClient of every region. */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts the fauxqs server (fauxqs-server.ts) in a worker thread of its own: every SNS publish
 * and SQS call of every region is served there, so the emulators' thread does not queue them
 * behind WebSocket frames, and neither queues behind the other.
 */
export async function startMessaging(options: FauxqsServerOptions = {}): Promise<MessagingServer> {
  const settings = FauxqsServerOptionsSchema.parse(options);
  const bundles = await buildThreadBundles({ messaging: localSource('./messaging-thread.ts') });
  const worker = new Worker(bundles.file('messaging'), { workerData: settings, execArgv: [], name: 'sns-sqs' });
  let stopping = false;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (message: unknown) => {
        const reply = MessagingThreadReplySchema.safeParse(message);
        if (!reply.success) reject(new Error(`The SNS/SQS server's thread answered its start with something else: ${z.prettifyError(reply.error)}`));
        else if ('port' in reply.data) resolve(reply.data.port);
        else reject(new Error(`The SNS/SQS server (fauxqs) did not start: ${reply.data.error}`));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`The SNS/SQS server's thread exited with code ${code} while starting`)));
    });
    // Its death while the cloud runs is loud: every publish and every delivery stops with it.
    worker.on('error', (error) => console.error(`[relaymesh] The SNS/SQS server (fauxqs) crashed: ${error.stack ?? error.message}\nEvery region's publishes and deliveries fail; restart the local cloud.`));
    worker.on('exit', (code) => void (stopping || console.error(`[relaymesh] The SNS/SQS server's thread exited with code ${code}; restart the local cloud.`)));
    return {
      endpoint: `http://${settings.host}:${port}`,
      port,
      stop: async () => {
        stopping = true;
        await worker.terminate();
      },
    };
  } catch (error) {
    stopping = true;
    await worker.terminate();
    throw error;
  } finally {
    await bundles.remove();
  }
}

export interface QueueWithDlq {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface RegionMessaging {
  /** This region's fan-out topic: publishers in the region publish here. */
  readonly topicArn: string;
  /** This region's queue per event class, fed by every region's topic. */
  readonly queues: Record<EventClass, QueueWithDlq>;
}

const ProvisionOptionsSchema = z.object({
  endpoint: z.url(),
  appName: RelaymeshConfigSchema.shape.appName,
  regions: RelaymeshConfigSchema.shape.regions,
  eventClasses: RelaymeshConfigSchema.shape.eventClasses,
});

export type ProvisionMessagingOptions = z.input<typeof ProvisionOptionsSchema>;

/** The subscription attributes of every topic → class queue pair. */
const subscriptionAttributes = (eventClass: EventClass): Record<string, string> => ({
  RawMessageDelivery: 'true',
  FilterPolicy: JSON.stringify({ class: [eventClass] }),
  FilterPolicyScope: 'MessageAttributes',
});

/** The queue policy SNS needs to deliver into a queue (stored by fauxqs, enforced on AWS). */
const allowTopicsToSend = (queueArn: string, topicArns: readonly string[]) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowFanoutTopics',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArns } },
      },
    ],
  });

interface RegionClients {
  readonly region: string;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
}

/**
 * Creates, per region, the fan-out topic and per event class a queue with its DLQ, then
 * subscribes every region's topic to every region's queue of each class. Every call is
 * idempotent on SNS and SQS (same name and attributes return the existing resource), so
 * running it twice changes nothing.
 */
export async function provisionMessaging(options: ProvisionMessagingOptions): Promise<Record<string, RegionMessaging>> {
  const { endpoint, appName, regions, eventClasses } = ProvisionOptionsSchema.parse(options);
  const clients: RegionClients[] = regions.map((region) => ({
    region,
    sns: new SNSClient({ region, endpoint, credentials: LOCAL_CREDENTIALS }),
    sqs: new SQSClient({ region, endpoint, credentials: LOCAL_CREDENTIALS }),
  }));
  try {
    const topicArns = await Promise.all(
      clients.map(async ({ sns }) => {
        const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: fanoutTopicName(appName) }));
        return z.string().parse(TopicArn);
      }),
    );
    const queuesByRegion = await Promise.all(
      clients.map(async (client) => {
        const entries = await Promise.all(
          EVENT_CLASSES.map(
            async (eventClass) =>
              [eventClass, await createQueueWithDlq(client.sqs, appName, eventClass, eventClasses[eventClass], topicArns)] as const,
          ),
        );
        return Object.fromEntries(entries) as Record<EventClass, QueueWithDlq>;
      }),
    );
    // Cross-region subscriptions are made with the topic region's client, as AWS requires.
    await Promise.all(
      clients.flatMap(({ sns }, topicIndex) =>
        queuesByRegion.flatMap((queues) =>
          EVENT_CLASSES.map((eventClass) =>
            sns.send(
              new SubscribeCommand({
                TopicArn: topicArns[topicIndex],
                Protocol: 'sqs',
                Endpoint: queues[eventClass].queueArn,
                Attributes: subscriptionAttributes(eventClass),
                ReturnSubscriptionArn: true,
              }),
            ),
          ),
        ),
      ),
    );
    return Object.fromEntries(
      regions.map((region, i) => [region, { topicArn: topicArns[i]!, queues: queuesByRegion[i]! }]),
    );
  } finally {
    for (const { sns, sqs } of clients) {
      sns.destroy();
      sqs.destroy();
    }
  }
}

async function createQueueWithDlq(
  sqs: SQSClient,
  appName: string,
  eventClass: EventClass,
  settings: EventClassSettings,
  topicArns: readonly string[],
): Promise<QueueWithDlq> {
  const dlq = await createQueue(sqs, deadLetterQueueName(appName, eventClass), {});
  const queue = await createQueue(sqs, eventQueueName(appName, eventClass), {
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: settings.maxReceiveCount }),
  });
  // A separate step, like CloudFormation's QueuePolicy: the policy names the queue's own ARN.
  await sqs.send(
    new SetQueueAttributesCommand({ QueueUrl: queue.url, Attributes: { Policy: allowTopicsToSend(queue.arn, topicArns) } }),
  );
  return { queueUrl: queue.url, queueArn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = z.string().parse(QueueUrl);
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: z.string().startsWith('arn:aws:sqs:').parse(Attributes?.QueueArn) };
}
