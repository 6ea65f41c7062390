import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { EVENT_CLASSES, RelaymeshConfigSchema, type EventClass, type EventClassSettings } from '../lib/config';
import { deadLetterQueueName, eventQueueName, fanoutTopicName } from '../lib/messaging-names';
import { LOCAL_CREDENTIALS } from './http';

/**
 * The local cloud's SNS and SQS: one fauxqs server for every region (fauxqs takes the region
 * from each request's SigV4 credential scope, and listings are narrowed to it), provisioned
 * through the real SDK clients the way the CDK stacks provision AWS.
 */

const StartMessagingOptionsSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(0),
    /** Interface to listen on; loopback so the unauthenticated emulator is not on the network. */
    host: z.ipv4().default('127.0.0.1'),
  })
  .strict();

export interface MessagingServer {
  /** Endpoint for SNSClient and SQSClient of every region. */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startMessaging(options: z.input<typeof StartMessagingOptionsSchema> = {}): Promise<MessagingServer> {
  const { port, host } = StartMessagingOptionsSchema.parse(options);
  // buildApp + listen rather than startFauxqs, which always binds 0.0.0.0. Queue URLs come out
  // as http://sqs.<region>.localhost:<port>/...; clients use the endpoint, never resolve them.
  const app = buildApp({ logger: false });
  app.addHook('onSend', async (request: { headers: IncomingHttpHeaders; body: unknown }, _reply: unknown, payload: unknown) =>
    typeof payload === 'string' ? listingForRegion(request.headers, request.body, payload) : payload,
  );
  await app.listen({ port, host });
  const bound = (app.server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host}:${bound}`,
    port: bound,
    stop: () => app.close(),
  };
}

/** The Region a SigV4 request was signed for: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
export function signingRegion(authorization: string | undefined): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(authorization ?? '')?.[1];
}

/**
 * fauxqs keeps every region in one store and its ListQueues and ListTopics answer with all of
 * them; AWS answers with the signing Region's only. This narrows those two answers to the
 * Region the request was signed for (SQS's JSON protocol, SNS's query protocol), so
 * `aws sqs list-queues --region eu-west-1` lists eu-west-1's queues. Every other answer passes
 * unchanged.
 */
export function listingForRegion(headers: IncomingHttpHeaders, body: unknown, payload: string): string {
  const region = signingRegion(typeof headers.authorization === 'string' ? headers.authorization : undefined);
  if (!region) return payload;
  if (headers['x-amz-target'] === 'AmazonSQS.ListQueues') {
    let answer: { QueueUrls?: string[] };
    try {
      answer = JSON.parse(payload) as typeof answer;
    } catch {
      return payload; // an error answer fauxqs wrote otherwise: passed on as it is
    }
    if (!Array.isArray(answer.QueueUrls)) return payload;
    // fauxqs's queue URLs carry the region: http://sqs.<region>.localhost:<port>/<account>/<name>
    return JSON.stringify({ ...answer, QueueUrls: answer.QueueUrls.filter((url) => new URL(url).hostname.startsWith(`sqs.${region}.`)) });
  }
  if ((body as { Action?: unknown } | undefined)?.Action === 'ListTopics') {
    return payload.replace(/\s*<member><TopicArn>arn:aws:sns:([^:<]+):[^<]*<\/TopicArn><\/member>/g, (member, topicRegion: string) =>
      topicRegion === region ? member : '',
    );
  }
  return payload;
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
