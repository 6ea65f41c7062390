import { ListSubscriptionsByTopicCommand, ListTopicsCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_CLASSES, loadConfig, type EventClass } from '../lib/config';
import { listingForRegion, signingRegion } from './fauxqs-server';
import { provisionMessaging, startMessaging, type MessagingServer, type RegionMessaging } from './messaging';
import { SMALL_CHANNELS } from '../test/e2e/support';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

let server: MessagingServer;
const sns: Record<string, SNSClient> = {};
const sqs: Record<string, SQSClient> = {};
let appCounter = 0;

beforeAll(async () => {
  server = await startMessaging();
  for (const region of REGIONS) {
    sns[region] = new SNSClient({ region, endpoint: server.endpoint, credentials });
    sqs[region] = new SQSClient({ region, endpoint: server.endpoint, credentials });
  }
});

afterAll(async () => {
  for (const client of [...Object.values(sns), ...Object.values(sqs)]) client.destroy();
  await server?.stop();
});

const testConfig = (appName: string) =>
  loadConfig({
    appName,
    regions: REGIONS,
    eventClasses: {
      critical: { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 },
      ephemeral: { visibilityTimeoutSeconds: 1, maxReceiveCount: 1 },
    },
    capacity: SMALL_CHANNELS,
  });

/** Each test provisions its own app name, so no test sees another's messages. */
async function provision(): Promise<{ appName: string; messaging: Record<string, RegionMessaging> }> {
  appCounter += 1;
  const config = testConfig(`msg-test-${appCounter}`);
  const messaging = await provisionMessaging({ endpoint: server.endpoint, ...config });
  return { appName: config.appName, messaging };
}

async function publish(region: string, topicArn: string, eventClass: string, body: string): Promise<void> {
  await sns[region]!.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: body,
      MessageAttributes: { class: { DataType: 'String', StringValue: eventClass } },
    }),
  );
}

async function receive(region: string, queueUrl: string, waitTimeSeconds = 0): Promise<Message[]> {
  const { Messages = [] } = await sqs[region]!.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitTimeSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages;
}

async function messageCount(region: string, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs[region]!.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

describe('startMessaging', () => {
  it('listens on loopback and reports the bound port in its endpoint', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('rejects a bad option with a clear error', async () => {
    await expect(startMessaging({ port: 70_000 })).rejects.toThrow(/port/);
  });

  it('serves from a thread of its own: it answers while the main thread is blocked', () => {
    // spawnSync blocks this thread until the child is done: a server on this thread could not answer it.
    const child = spawnSync(process.execPath, ['-e', `fetch(${JSON.stringify(server.endpoint)} + '/health').then((r) => console.log(r.status))`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.error).toBeUndefined();
    expect(child.stdout.trim()).toBe('200');
  });

  it('refuses to start on a port already in use, naming why (EADDRINUSE)', async () => {
    await expect(startMessaging({ port: server.port })).rejects.toThrow(/did not start: .*EADDRINUSE/);
  });
});

describe('listings per region', () => {
  it('GIVEN queues and topics in three regions WHEN ListQueues and ListTopics are signed for one region THEN each lists only that region\'s, as AWS does', async () => {
    const config = testConfig(`list${appCounter++}`);
    await provisionMessaging({ endpoint: server.endpoint, appName: config.appName, regions: config.regions, eventClasses: config.eventClasses });
    for (const region of REGIONS) {
      const { QueueUrls = [] } = await sqs[region]!.send(new ListQueuesCommand({ QueueNamePrefix: config.appName }));
      expect(QueueUrls.length).toBe(EVENT_CLASSES.length * 2);
      expect(QueueUrls.every((url) => new URL(url).hostname.startsWith(`sqs.${region}.`))).toBe(true);
      const { Topics = [] } = await sns[region]!.send(new ListTopicsCommand({}));
      const ours = Topics.filter((t) => t.TopicArn?.includes(config.appName));
      expect(ours.map((t) => t.TopicArn!.split(':')[3])).toEqual([region]);
      expect(Topics.every((t) => t.TopicArn!.split(':')[3] === region)).toBe(true);
    }
  });

  it('reads the signing region from a SigV4 Authorization header, and leaves unsigned or other answers unchanged', () => {
    const auth = 'AWS4-HMAC-SHA256 Credential=local/20261202/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=abc';
    expect(signingRegion(auth)).toBe('eu-west-1');
    expect(signingRegion(undefined)).toBeUndefined();
    const all = JSON.stringify({ QueueUrls: ['http://sqs.us-east-1.localhost:1/0/a', 'http://sqs.eu-west-1.localhost:1/0/b'] });
    expect(listingForRegion({ authorization: auth, 'x-amz-target': 'AmazonSQS.ListQueues' }, {}, all)).toBe(JSON.stringify({ QueueUrls: ['http://sqs.eu-west-1.localhost:1/0/b'] }));
    expect(listingForRegion({ 'x-amz-target': 'AmazonSQS.ListQueues' }, {}, all)).toBe(all);
    expect(listingForRegion({ authorization: auth, 'x-amz-target': 'AmazonSQS.SendMessage' }, {}, all)).toBe(all);
    expect(listingForRegion({ authorization: auth, 'x-amz-target': 'AmazonSQS.ListQueues' }, {}, '<Error>not JSON</Error>')).toBe('<Error>not JSON</Error>');
  });
});

describe('provisionMessaging', () => {
  it('names each region its topic, queues and DLQs after the app, with region-specific ARNs and URLs', async () => {
    const { appName, messaging } = await provision();
    expect(Object.keys(messaging)).toEqual(REGIONS);
    for (const region of REGIONS) {
      const { topicArn, queues } = messaging[region]!;
      expect(topicArn).toBe(`arn:aws:sns:${region}:000000000000:${appName}-fanout`);
      for (const eventClass of EVENT_CLASSES) {
        expect(queues[eventClass].queueArn).toBe(`arn:aws:sqs:${region}:000000000000:${appName}-${eventClass}`);
        expect(queues[eventClass].dlqArn).toBe(`arn:aws:sqs:${region}:000000000000:${appName}-${eventClass}-dlq`);
        expect(queues[eventClass].queueUrl).toContain(`sqs.${region}.`);
        expect(queues[eventClass].queueUrl).toMatch(new RegExp(`/${appName}-${eventClass}$`));
      }
    }
  });

  it('sets each queue\'s visibility timeout and redrive policy from its class settings', async () => {
    const { messaging } = await provision();
    const { queues } = messaging['eu-west-1']!;
    const { Attributes = {} } = await sqs['eu-west-1']!.send(
      new GetQueueAttributesCommand({ QueueUrl: queues.ephemeral.queueUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes.VisibilityTimeout).toBe('1');
    expect(JSON.parse(Attributes.RedrivePolicy!)).toEqual({ deadLetterTargetArn: queues.ephemeral.dlqArn, maxReceiveCount: 1 });
    expect(JSON.parse(Attributes.Policy!).Statement[0].Condition.ArnEquals['aws:SourceArn']).toEqual(
      REGIONS.map((r) => messaging[r]!.topicArn),
    );
  });

  it.each(EVENT_CLASSES.map((eventClass) => [eventClass, EVENT_CLASSES.find((c) => c !== eventClass)!] as const))(
    'delivers a message of class %s published in one region, raw with its class attribute, to that class queue of every region and to no %s queue',
    async (eventClass: EventClass, otherClass: EventClass) => {
      const { messaging } = await provision();
      const body = JSON.stringify({ hello: eventClass });
      await publish('eu-west-1', messaging['eu-west-1']!.topicArn, eventClass, body);

      for (const region of REGIONS) {
        const { queues } = messaging[region]!;
        const messages = await receive(region, queues[eventClass].queueUrl, 1);
        expect(messages).toHaveLength(1);
        expect(messages[0]!.Body).toBe(body);
        expect(messages[0]!.MessageAttributes).toEqual({ class: { DataType: 'String', StringValue: eventClass } });
        expect(await messageCount(region, queues[otherClass].queueUrl)).toBe(0);
      }
    },
  );

  it('delivers to nothing a message whose class attribute matches no class', async () => {
    const { messaging } = await provision();
    await publish('us-east-1', messaging['us-east-1']!.topicArn, 'bulk', 'no class of ours');
    for (const region of REGIONS) {
      for (const eventClass of EVENT_CLASSES) {
        expect(await messageCount(region, messaging[region]!.queues[eventClass].queueUrl)).toBe(0);
      }
    }
  });

  it('moves a message received more than maxReceiveCount times without deletion to the DLQ', async () => {
    const { messaging } = await provision();
    const region = 'ap-southeast-2';
    const { queueUrl, dlqUrl } = messaging[region]!.queues.critical;
    await publish('us-east-1', messaging['us-east-1']!.topicArn, 'critical', 'poison');

    // maxReceiveCount is 2: two receives, each left to time out (visibility 1 s).
    const first = await receive(region, queueUrl, 1);
    const second = await receive(region, queueUrl, 3);
    const receiveCounts = [...first, ...second].map((m) => m.Attributes?.ApproximateReceiveCount);
    expect(receiveCounts).toEqual(['1', '2']);

    // The next receive finds it past its limit and moves it instead of returning it.
    expect(await receive(region, queueUrl, 2)).toEqual([]);
    const dead = await receive(region, dlqUrl, 1);
    expect(dead.map((m) => m.Body)).toEqual(['poison']);
    expect(await messageCount(region, queueUrl)).toBe(0);
  });

  it('is idempotent: a second run returns the same resources and keeps one subscription per topic and queue', async () => {
    const { appName, messaging } = await provision();
    const again = await provisionMessaging({ endpoint: server.endpoint, ...testConfig(appName) });
    expect(again).toEqual(messaging);

    const everyQueue = REGIONS.flatMap((r) => EVENT_CLASSES.map((c) => messaging[r]!.queues[c].queueArn)).sort();
    for (const region of REGIONS) {
      const { Subscriptions = [] } = await sns[region]!.send(
        new ListSubscriptionsByTopicCommand({ TopicArn: messaging[region]!.topicArn }),
      );
      expect(Subscriptions.map((s) => s.Endpoint).sort()).toEqual(everyQueue);
      expect(Subscriptions.every((s) => s.Protocol === 'sqs')).toBe(true);
    }
    // After the second run a message still arrives once per queue, not twice.
    await publish('us-east-1', messaging['us-east-1']!.topicArn, 'critical', 'once');
    const { queueUrl } = messaging['eu-west-1']!.queues.critical;
    const messages = await receive('eu-west-1', queueUrl, 1);
    expect(messages.map((m) => m.Body)).toEqual(['once']);
    await sqs['eu-west-1']!.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: messages[0]!.ReceiptHandle }));
    expect(await messageCount('eu-west-1', queueUrl)).toBe(0);
  });
});
