import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/**
 * What Lambda's SQS event source mapping does, for the local cloud: long-poll the queue,
 * gather batches, invoke the handler with SQS-shaped records within a concurrency cap, and
 * delete what succeeded (ReportBatchItemFailures on). Whatever is not deleted comes back
 * after the queue's visibility timeout, and SQS moves it to the DLQ after maxReceiveCount.
 */

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

/** SQS caps one ReceiveMessage and one DeleteMessageBatch at 10 messages. */
const SQS_MAX_MESSAGES = 10;
/** Pause after a failed receive so an unreachable queue is not hammered. */
const ERROR_BACKOFF_MS = 1000;

const OptionsSchema = z
  .object({
    sqs: z.instanceof(SQSClient, { message: 'must be an SQSClient' }),
    queueUrl: z.url(),
    queueArn: z.string().regex(/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:.+$/, 'must be an SQS queue ARN'),
    region: z.string().min(1),
    /** Lambda's limits for a standard queue. */
    batchSize: z.number().int().min(1).max(10_000),
    maxBatchingWindowSeconds: z.number().int().min(0).max(300),
    maxConcurrency: z.number().int().min(2).max(1000),
    handler: z.custom<SqsHandler>((value) => typeof value === 'function', 'must be a function'),
    onInvokeError: z
      .custom<(error: unknown) => void>((value) => typeof value === 'function', 'must be a function')
      .default(() => (error: unknown) => console.error('[event-source-mapping]', error)),
    /** Long-poll wait; Lambda's pollers use 20 s. */
    waitTimeSeconds: z.number().int().min(1).max(20).default(20),
  })
  .refine((o) => o.batchSize <= SQS_MAX_MESSAGES || o.maxBatchingWindowSeconds >= 1, {
    message: 'a batchSize above 10 needs maxBatchingWindowSeconds of at least 1, as on Lambda',
    path: ['maxBatchingWindowSeconds'],
  });

export type EventSourceMappingOptions = z.input<typeof OptionsSchema>;

export interface EventSourceMappingStats {
  /** Handler invocations. */
  invocations: number;
  /** Messages received from the queue. */
  received: number;
  /** Messages deleted after their invocation succeeded. */
  deleted: number;
  /** Messages left on the queue: named in batchItemFailures, or in a failed invocation. */
  failed: number;
  /** Invocations that threw, timed out or answered nonsense: what Lambda counts as Errors. */
  errors: number;
  /**
   * Age, seconds since it was sent, of the oldest message received and not yet deleted or given
   * back (0 with none): the local stand-in for ApproximateAgeOfOldestMessage, which fauxqs lacks
   * and which peeking the live queue would distort (a peek is a receive and counts toward maxReceiveCount).
   */
  oldestInFlightAgeSeconds: number;
}

export interface EventSourceMapping {
  /** Ends polling and resolves once every in-flight invocation (and its deletes) has finished. */
  stop(): Promise<void>;
  stats(): EventSourceMappingStats;
}

/** A message as ReceiveMessage returns it with every system and message attribute asked for. */
const ReceivedMessageSchema = z.object({
  MessageId: z.string().min(1),
  ReceiptHandle: z.string().min(1),
  Body: z.string(),
  MD5OfBody: z.string(),
  MD5OfMessageAttributes: z.string().optional(),
  Attributes: z
    .object({
      ApproximateReceiveCount: z.string(),
      SentTimestamp: z.string(),
      SenderId: z.string(),
      ApproximateFirstReceiveTimestamp: z.string(),
    })
    .catchall(z.string()),
  MessageAttributes: z
    .record(
      z.string(),
      z.object({
        DataType: z.string(),
        StringValue: z.string().optional(),
        BinaryValue: z.instanceof(Uint8Array).optional(),
      }),
    )
    .default({}),
});

/** The record Lambda builds from a received message (list values are reserved and always empty). */
function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const m = ReceivedMessageSchema.parse(message);
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    attributes: m.Attributes,
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes).map(([name, value]) => [
        name,
        {
          ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
          ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType,
        },
      ]),
    ),
    md5OfBody: m.MD5OfBody,
    ...(m.MD5OfMessageAttributes !== undefined && { md5OfMessageAttributes: m.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

const BatchResponseSchema = z
  .object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string().min(1) })).nullish() })
  .nullish();

/**
 * The message ids to keep on the queue, as Lambda reads a ReportBatchItemFailures response:
 * nothing (or no list) means all succeeded; a malformed response, or one naming a message
 * that is not in the batch, fails the whole batch.
 */
function failedMessageIds(response: unknown, records: readonly SQSRecord[]): { ids: Set<string> } | { invalid: string } {
  const parsed = BatchResponseSchema.safeParse(response);
  if (!parsed.success) return { invalid: `malformed batch response: ${parsed.error.message}` };
  const ids = new Set((parsed.data?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  const inBatch = new Set(records.map((r) => r.messageId));
  const unknown = [...ids].filter((id) => !inBatch.has(id));
  return unknown.length > 0 ? { invalid: `batchItemFailures names messages not in the batch: ${unknown.join(', ')}` } : { ids };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

export function startEventSourceMapping(input: EventSourceMappingOptions): EventSourceMapping {
  const parsed = OptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(`Invalid event source mapping options: ${z.prettifyError(parsed.error)}`);
  }
  const options = parsed.data;
  const { sqs, queueUrl, batchSize, onInvokeError } = options;
  const counters = { invocations: 0, received: 0, deleted: 0, failed: 0, errors: 0 };
  /** SentTimestamp of every message an invocation holds, by message id. */
  const heldSentAt = new Map<string, number>();
  const polling = new AbortController();
  const inFlight = new Set<Promise<void>>();

  /** One ReceiveMessage; stopping turns the pending long poll into an empty result. */
  async function receive(max: number, waitTimeSeconds: number): Promise<Message[]> {
    try {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(max, SQS_MAX_MESSAGES),
          WaitTimeSeconds: waitTimeSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: polling.signal },
      );
      counters.received += Messages.length;
      return Messages;
    } catch (error) {
      if (polling.signal.aborted) return [];
      throw error;
    }
  }

  /** Up to batchSize messages: the first long poll, then more until the batching window ends. */
  async function gatherBatch(): Promise<Message[]> {
    const batch = await receive(batchSize, options.waitTimeSeconds);
    const windowEnds = Date.now() + options.maxBatchingWindowSeconds * 1000;
    while (batch.length > 0 && batch.length < batchSize && !polling.signal.aborted) {
      const remainingMs = windowEnds - Date.now();
      if (remainingMs <= 0) break;
      const waitTimeSeconds = Math.min(options.waitTimeSeconds, Math.ceil(remainingMs / 1000));
      batch.push(...(await receive(batchSize - batch.length, waitTimeSeconds)));
    }
    return batch;
  }

  async function deleteMessages(records: readonly SQSRecord[]): Promise<void> {
    for (const chunk of chunks(records, SQS_MAX_MESSAGES)) {
      try {
        const { Successful = [], Failed = [] } = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
        counters.deleted += Successful.length;
        if (Failed.length > 0) onInvokeError(new Error(`DeleteMessageBatch failed for ${Failed.length} message(s): ${JSON.stringify(Failed)}`));
      } catch (error) {
        onInvokeError(error);
      }
    }
  }

  /** Never rejects: a failed invocation leaves its messages to SQS's redrive. */
  async function invoke(records: SQSRecord[]): Promise<void> {
    counters.invocations += 1;
    let toDelete: SQSRecord[] = [];
    try {
      const response = await options.handler({ Records: records });
      const verdict = failedMessageIds(response, records);
      if ('invalid' in verdict) {
        counters.errors += 1;
        onInvokeError(new Error(`Whole batch failed: ${verdict.invalid}`));
      } else toDelete = records.filter((r) => !verdict.ids.has(r.messageId));
    } catch (error) {
      counters.errors += 1;
      onInvokeError(error);
    }
    counters.failed += records.length - toDelete.length;
    await deleteMessages(toDelete);
    for (const record of records) heldSentAt.delete(record.messageId);
  }

  async function poll(): Promise<void> {
    while (!polling.signal.aborted) {
      if (inFlight.size >= options.maxConcurrency) {
        // Receive only with a free slot, so no message waits out its visibility timeout here.
        await Promise.race(inFlight);
        continue;
      }
      try {
        const records = (await gatherBatch()).map((m) => toSqsRecord(m, options.queueArn, options.region));
        if (records.length === 0) continue;
        for (const record of records) heldSentAt.set(record.messageId, Number(record.attributes.SentTimestamp));
        const invocation: Promise<void> = invoke(records).finally(() => inFlight.delete(invocation));
        inFlight.add(invocation);
      } catch (error) {
        onInvokeError(error);
        await sleep(ERROR_BACKOFF_MS, undefined, { signal: polling.signal }).catch(() => undefined);
      }
    }
  }

  const poller = poll();
  return {
    async stop() {
      polling.abort();
      await poller;
      await Promise.all(inFlight);
    },
    stats: () => ({
      ...counters,
      oldestInFlightAgeSeconds: heldSentAt.size === 0 ? 0 : Math.max(0, (Date.now() - Math.min(...heldSentAt.values())) / 1000),
    }),
  };
}
