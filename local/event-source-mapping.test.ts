import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEventSourceMapping, type EventSourceMapping, type EventSourceMappingOptions } from './event-source-mapping';
import { startMessaging, type MessagingServer } from './messaging';

const REGION = 'eu-west-1';
const VISIBILITY_TIMEOUT_SECONDS = 1;
const MAX_RECEIVE_COUNT = 2;

let server: MessagingServer;
let sqs: SQSClient;
let queueCounter = 0;
const running: EventSourceMapping[] = [];

beforeAll(async () => {
  server = await startMessaging();
  sqs = new SQSClient({ region: REGION, endpoint: server.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

interface TestQueue {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
}

/** A fresh queue per test (1 s visibility, DLQ after 2 receives), so tests never share messages. */
async function createQueue(): Promise<TestQueue> {
  queueCounter += 1;
  const queueArnOf = async (queueUrl: string) => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    return Attributes!.QueueArn!;
  };
  const { QueueUrl: dlqUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `esm-${queueCounter}-dlq` }));
  const { QueueUrl: queueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `esm-${queueCounter}`,
      Attributes: {
        VisibilityTimeout: String(VISIBILITY_TIMEOUT_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await queueArnOf(dlqUrl!), maxReceiveCount: MAX_RECEIVE_COUNT }),
      },
    }),
  );
  return { queueUrl: queueUrl!, queueArn: await queueArnOf(queueUrl!), dlqUrl: dlqUrl! };
}

function start(
  queue: TestQueue,
  handler: EventSourceMappingOptions['handler'],
  overrides: Partial<EventSourceMappingOptions> = {},
): EventSourceMapping {
  const mapping = startEventSourceMapping({
    sqs,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    region: REGION,
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 2,
    handler,
    onInvokeError: () => undefined,
    ...overrides,
  });
  running.push(mapping);
  return mapping;
}

async function send(queue: TestQueue, ...bodies: string[]): Promise<void> {
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue.queueUrl,
      Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
    }),
  );
}

async function messagesOnQueue(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

/** Every record the handler saw, in delivery order. */
function recordingHandler(respond: (event: SQSEvent) => SQSBatchResponse | void = () => undefined) {
  const records: SQSRecord[] = [];
  const batches: string[][] = [];
  const handler = async (event: SQSEvent) => {
    records.push(...event.Records);
    batches.push(event.Records.map((r) => r.body));
    return respond(event);
  };
  const deliveries = (body: string) => records.filter((r) => r.body === body);
  return { handler, records, batches, deliveries };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('startEventSourceMapping', () => {
  it('delivers a batch of records shaped like Lambda\'s SQS event and deletes them after success', async () => {
    const queue = await createQueue();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.queueUrl,
        MessageBody: '{"n":1}',
        MessageAttributes: {
          class: { DataType: 'String', StringValue: 'critical' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from('bytes') },
        },
      }),
    );
    await send(queue, '{"n":2}', '{"n":3}');
    const seen = recordingHandler();
    const mapping = start(queue, seen.handler);

    await vi.waitFor(() => expect(seen.records).toHaveLength(3));
    await vi.waitFor(() => expect(mapping.stats().deleted).toBe(3));

    const first = seen.records.find((r) => r.body === '{"n":1}')!;
    expect(Object.keys(first)).toEqual([
      'messageId',
      'receiptHandle',
      'body',
      'attributes',
      'messageAttributes',
      'md5OfBody',
      'md5OfMessageAttributes',
      'eventSource',
      'eventSourceARN',
      'awsRegion',
    ]);
    expect(first).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: queue.queueArn,
      awsRegion: REGION,
      md5OfBody: createHash('md5').update('{"n":1}').digest('hex'),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: {
        class: { stringValue: 'critical', stringListValues: [], binaryListValues: [], dataType: 'String' },
        blob: { binaryValue: Buffer.from('bytes').toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
    });
    const plain = seen.records.find((r) => r.body === '{"n":2}')!;
    expect(plain.messageAttributes).toEqual({});

    await mapping.stop();
    expect(await messagesOnQueue(queue.queueUrl)).toBe(0);
    expect(mapping.stats()).toEqual({ invocations: seen.batches.length, received: 3, deleted: 3, failed: 0, errors: 0, oldestInFlightAgeSeconds: 0 });
  });

  it('gathers messages for the batching window until the batch is full', async () => {
    const queue = await createQueue();
    const seen = recordingHandler();
    start(queue, seen.handler, { batchSize: 3, maxBatchingWindowSeconds: 5 });
    await send(queue, 'a');
    await send(queue, 'b');
    await send(queue, 'c');
    await vi.waitFor(() => expect(seen.batches).toHaveLength(1));
    expect(seen.batches[0]!.sort()).toEqual(['a', 'b', 'c']);
  });

  it('redelivers a message named in batchItemFailures after the visibility timeout, and not its batch-mates', async () => {
    const queue = await createQueue();
    await send(queue, 'ok-1', 'retry-me', 'ok-2');
    const seen = recordingHandler((event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'retry-me' && r.attributes.ApproximateReceiveCount === '1').map(
        (r) => ({ itemIdentifier: r.messageId }),
      ),
    }));
    const mapping = start(queue, seen.handler);

    await vi.waitFor(() => expect(seen.deliveries('retry-me')).toHaveLength(2), { timeout: 10_000 });
    expect(seen.deliveries('retry-me').map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(seen.deliveries('ok-1')).toHaveLength(1);
    expect(seen.deliveries('ok-2')).toHaveLength(1);
    await vi.waitFor(() => expect(mapping.stats()).toMatchObject({ received: 4, deleted: 3, failed: 1 }));
    expect(await messagesOnQueue(queue.queueUrl)).toBe(0);
  });

  it.each([
    ['throws', async () => Promise.reject(new Error('handler crashed'))],
    ['names a message that is not in the batch', async () => ({ batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] })],
    ['returns a malformed response', async () => ({ batchItemFailures: [{ itemIdentifier: '' }] })],
  ] as const)('gives the whole batch again when the first invocation %s', async (_case, firstResponse) => {
    const queue = await createQueue();
    await send(queue, 'x', 'y');
    const errors: unknown[] = [];
    let calls = 0;
    const seen = recordingHandler();
    start(
      queue,
      async (event) => {
        calls += 1;
        await seen.handler(event);
        if (calls === 1) return firstResponse();
      },
      { batchSize: 2, maxBatchingWindowSeconds: 1, onInvokeError: (error) => errors.push(error) },
    );

    await vi.waitFor(() => expect(seen.batches).toHaveLength(2), { timeout: 10_000 });
    expect(seen.batches[0]!.sort()).toEqual(['x', 'y']);
    expect(seen.batches[1]!.sort()).toEqual(['x', 'y']);
    expect(seen.records.slice(2).map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['2', '2']);
    expect(errors).toHaveLength(1);
    await vi.waitFor(async () => expect(await messagesOnQueue(queue.queueUrl)).toBe(0));
  });

  it('lets a poison message reach the DLQ after maxReceiveCount while other messages flow once each', async () => {
    const queue = await createQueue();
    await send(queue, 'poison', 'before-1', 'before-2');
    const seen = recordingHandler((event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({ itemIdentifier: r.messageId })),
    }));
    const mapping = start(queue, seen.handler, { batchSize: 1 });

    await vi.waitFor(() => expect(seen.deliveries('poison').length).toBeGreaterThan(0));
    await send(queue, 'after-1', 'after-2', 'after-3');

    const { Messages: dead = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, WaitTimeSeconds: 10, MessageSystemAttributeNames: ['All'] }),
    );
    expect(dead.map((m) => m.Body)).toEqual(['poison']);
    expect(seen.deliveries('poison')).toHaveLength(MAX_RECEIVE_COUNT);
    for (const body of ['before-1', 'before-2', 'after-1', 'after-2', 'after-3']) {
      expect(seen.deliveries(body)).toHaveLength(1);
    }
    await vi.waitFor(() => expect(mapping.stats()).toMatchObject({ deleted: 5, failed: MAX_RECEIVE_COUNT }));
    expect(await messagesOnQueue(queue.queueUrl)).toBe(0);
  });

  it('never has more than maxConcurrency invocations in flight', async () => {
    const queue = await createQueue();
    const maxConcurrency = 3;
    let inFlight = 0;
    let maxInFlight = 0;
    const capReached = deferred();
    let done = 0;
    start(
      queue,
      async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (inFlight === maxConcurrency) capReached.resolve();
        // Hold every invocation until the cap has been reached once, so the poller is tempted.
        await capReached.promise;
        await new Promise((r) => setTimeout(r, 20));
        inFlight -= 1;
        done += 1;
      },
      { batchSize: 1, maxConcurrency },
    );
    await send(queue, ...Array.from({ length: 10 }, (_, i) => `m${i}`));
    await send(queue, ...Array.from({ length: 2 }, (_, i) => `n${i}`));

    await vi.waitFor(() => expect(done).toBe(12), { timeout: 10_000 });
    expect(maxInFlight).toBe(maxConcurrency);
  });

  it('stop() waits for the invocation in flight, then nothing polls the queue any more', async () => {
    const queue = await createQueue();
    const release = deferred();
    let finished = false;
    const seen = recordingHandler();
    const mapping = start(queue, async (event) => {
      await seen.handler(event);
      await release.promise;
      finished = true;
    });
    await send(queue, 'in-flight');
    await vi.waitFor(() => expect(seen.records).toHaveLength(1));

    const stopping = mapping.stop();
    release.resolve();
    await stopping;
    expect(finished).toBe(true);
    expect(mapping.stats()).toMatchObject({ invocations: 1, received: 1, deleted: 1 });

    // A message sent after stop() is never handed to the handler: another consumer gets it.
    await send(queue, 'after-stop');
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.queueUrl, WaitTimeSeconds: VISIBILITY_TIMEOUT_SECONDS + 3 }),
    );
    expect(Messages.map((m) => m.Body)).toEqual(['after-stop']);
    expect(seen.records.map((r) => r.body)).toEqual(['in-flight']);
    expect(mapping.stats().received).toBe(1);
  });

  it('keeps polling through receive errors and reports them', async () => {
    const queue = await createQueue();
    const errors: unknown[] = [];
    const mapping = start(queue, async () => undefined, {
      queueUrl: queue.queueUrl.replace(/esm-\d+$/, 'no-such-queue'),
      onInvokeError: (error) => errors.push(error),
    });
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(String(errors[0])).toMatch(/exist/i);
    await mapping.stop();
  });

  it('rejects invalid options with an error naming the field', () => {
    expect(() =>
      startEventSourceMapping({
        sqs,
        queueUrl: 'not a url',
        queueArn: 'arn:aws:sqs:eu-west-1:000000000000:q',
        region: REGION,
        batchSize: 20,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: 1,
        handler: async () => undefined,
      }),
    ).toThrow(/queueUrl[\s\S]*maxConcurrency/);
  });
});
