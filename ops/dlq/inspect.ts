import type { DeadLetterQueue } from './queues';
import type { QueueMessage, QueuePort, QueueRef } from './queue-port';

/**
 * Looking at dead letters without taking them: every message is received with a short
 * visibility timeout, held while the rest is read (so each is seen once), then made visible
 * again at once. An interrupted peek hides them for `visibilitySeconds` at most.
 */

/** A long poll of a second: on AWS a short poll samples only some servers and can miss messages. */
const PEEK_WAIT_SECONDS = 1;

export async function peek(port: QueuePort, queue: QueueRef, options: { max: number; visibilitySeconds: number }): Promise<QueueMessage[]> {
  const held: QueueMessage[] = [];
  try {
    while (held.length < options.max) {
      const batch = await port.receive(queue, { max: Math.min(10, options.max - held.length), visibilitySeconds: options.visibilitySeconds, waitSeconds: PEEK_WAIT_SECONDS });
      if (batch.length === 0) break;
      held.push(...batch);
    }
  } finally {
    await port.release(queue, held.map((m) => m.receiptHandle));
  }
  return held;
}

/** When the oldest of `messages` was first sent (SQS keeps a standard queue message's SentTimestamp in its DLQ). */
export function oldestSentAt(messages: readonly QueueMessage[]): number | undefined {
  const sent = messages.map((m) => Number(m.attributes.SentTimestamp)).filter(Number.isFinite);
  return sent.length > 0 ? Math.min(...sent) : undefined;
}

export interface DeadLetterQueueState {
  readonly dlq: DeadLetterQueue;
  readonly visible: number;
  readonly inFlight: number;
  /** Seconds; undefined when empty or unknown. */
  readonly oldestAgeSeconds?: number;
}

/** Tells the age of each DLQ's oldest message, in seconds, for those it knows. */
export type OldestAge = (states: readonly Omit<DeadLetterQueueState, 'oldestAgeSeconds'>[]) => Promise<ReadonlyMap<DeadLetterQueue, number>>;

/** Depth of every DLQ, and the age of its oldest message as `oldestAge` tells it. */
export async function deadLetterStates(port: QueuePort, dlqs: readonly DeadLetterQueue[], oldestAge: OldestAge): Promise<DeadLetterQueueState[]> {
  const depths = await Promise.all(dlqs.map(async (dlq) => ({ dlq, ...(await port.depth(dlq)) })));
  const ages = await oldestAge(depths);
  return depths.map(({ dlq, visible, inFlight }) => {
    const age = ages.get(dlq);
    return { dlq, visible, inFlight, ...(age !== undefined && { oldestAgeSeconds: age }) };
  });
}

/** The local cloud has no CloudWatch: the age comes from peeking, up to `max` messages of each non-empty DLQ. */
export const peekedOldestAge =
  (port: QueuePort, options: { max: number; visibilitySeconds: number }): OldestAge =>
  async (states) => {
    const ages = new Map<DeadLetterQueue, number>();
    await Promise.all(
      states
        .filter((s) => s.visible + s.inFlight > 0)
        .map(async ({ dlq }) => {
          const sentAt = oldestSentAt(await peek(port, dlq, options));
          if (sentAt !== undefined) ages.set(dlq, Math.max(0, (Date.now() - sentAt) / 1000));
        }),
    );
    return ages;
  };
