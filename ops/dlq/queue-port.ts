import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';

/** A queue of one region. */
export interface QueueRef {
  readonly region: string;
  readonly url: string;
}

export interface QueueMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** SQS's own attributes: SentTimestamp, ApproximateReceiveCount, DeadLetterQueueSourceArn (AWS)… */
  readonly attributes: Readonly<Record<string, string>>;
  /** The sender's message attributes (Relaymesh's `class`). */
  readonly messageAttributes: Readonly<Record<string, MessageAttributeValue>>;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

/** The SQS operations the DLQ commands need; the adapter below speaks to SQS, tests may fake it. */
export interface QueuePort {
  depth(queue: QueueRef): Promise<QueueDepth>;
  /** Receives up to `max` (≤ 10) messages, hiding them for `visibilitySeconds`. */
  receive(queue: QueueRef, options: { max: number; visibilitySeconds: number; waitSeconds: number }): Promise<QueueMessage[]>;
  /** Makes received messages visible again at once. */
  release(queue: QueueRef, receiptHandles: readonly string[]): Promise<void>;
  /** Sends a copy of `message` (body and message attributes); returns the new message id. */
  send(queue: QueueRef, message: QueueMessage): Promise<string>;
  delete(queue: QueueRef, receiptHandle: string): Promise<void>;
}

const count = (value: string | undefined) => Number(value ?? 0);

export function sqsQueuePort(sqs: (region: string) => SQSClient): QueuePort {
  return {
    async depth({ region, url }) {
      const { Attributes = {} } = await sqs(region).send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      return {
        visible: count(Attributes.ApproximateNumberOfMessages),
        inFlight: count(Attributes.ApproximateNumberOfMessagesNotVisible),
        delayed: count(Attributes.ApproximateNumberOfMessagesDelayed),
      };
    },

    async receive({ region, url }, { max, visibilitySeconds, waitSeconds }) {
      const { Messages = [] } = await sqs(region).send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: max,
          VisibilityTimeout: visibilitySeconds,
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      return Messages.map((m) => ({
        messageId: z.string().parse(m.MessageId),
        receiptHandle: z.string().parse(m.ReceiptHandle),
        body: m.Body ?? '',
        attributes: { ...m.Attributes },
        messageAttributes: { ...m.MessageAttributes },
      }));
    },

    async release({ region, url }, receiptHandles) {
      for (let i = 0; i < receiptHandles.length; i += 10) {
        const entries = receiptHandles.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle, VisibilityTimeout: 0 }));
        const { Failed = [] } = await sqs(region).send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: entries }));
        if (Failed.length > 0) throw new Error(`${Failed.length} message(s) of ${url} stay hidden until their visibility timeout ends: ${Failed[0]!.Message ?? Failed[0]!.Code}`);
      }
    },

    async send({ region, url }, message) {
      // Only the value fields SendMessage accepts (a received attribute may carry empty list fields).
      const attributes = Object.fromEntries(
        Object.entries(message.messageAttributes).map(([name, { DataType, StringValue, BinaryValue }]) => [
          name,
          { DataType, ...(StringValue !== undefined && { StringValue }), ...(BinaryValue !== undefined && { BinaryValue }) },
        ]),
      );
      const { MessageId } = await sqs(region).send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: message.body, ...(Object.keys(attributes).length > 0 && { MessageAttributes: attributes }) }),
      );
      return z.string().parse(MessageId);
    },

    async delete({ region, url }, receiptHandle) {
      await sqs(region).send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle }));
    },
  };
}
