import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { QueueMessage, QueuePort, QueueRef } from './queue-port';
import { moveBack } from './redrive';

/**
 * Two in-memory queues where whatever reaches the source dead-letters again at once, as a
 * poison message does once a worker has failed it maxReceiveCount times.
 */
function poisonQueues(bodies: readonly string[]) {
  const dlq: QueueRef = { region: 'r', url: 'dlq' };
  const source: QueueRef = { region: 'r', url: 'source' };
  const visible: QueueMessage[] = bodies.map((body) => ({ messageId: randomUUID(), receiptHandle: randomUUID(), body, attributes: {}, messageAttributes: {} }));
  const hidden = new Map<string, QueueMessage>();
  let sends = 0;
  const port: QueuePort = {
    depth: async () => ({ visible: visible.length, inFlight: hidden.size, delayed: 0 }),
    receive: async (_queue, { max }) =>
      visible.splice(0, max).map((m) => {
        const received = { ...m, receiptHandle: randomUUID() };
        hidden.set(received.receiptHandle, received);
        return received;
      }),
    release: async (_queue, handles) => {
      for (const handle of handles) {
        const m = hidden.get(handle);
        if (m && hidden.delete(handle)) visible.push(m);
      }
    },
    send: async (_queue, message) => {
      sends += 1;
      const messageId = randomUUID();
      visible.push({ ...message, messageId });
      return messageId;
    },
    delete: async (_queue, handle) => void hidden.delete(handle),
  };
  return { port, dlq, source, visible, sends: () => sends };
}

describe('moveBack', () => {
  it('moves each dead letter once: those that dead-letter again during the run are counted and left in the DLQ, not moved again', async () => {
    const queues = poisonQueues(['p1', 'p2', 'p3']);
    const result = await moveBack(queues.port, queues.dlq, queues.source, { ratePerSecond: 1000, visibilitySeconds: 60 });
    expect(result).toEqual({ moved: 3, deadLetteredAgain: 3, interrupted: false });
    expect(queues.sends()).toBe(3);
    // Released at the end: all three are back in the DLQ, visible.
    expect(queues.visible.map((m) => m.body).sort()).toEqual(['p1', 'p2', 'p3']);
  });

  it('stops after the message in hand when interrupted, and gives back the ones it had received', async () => {
    const queues = poisonQueues(['a', 'b', 'c', 'd']);
    const interrupt = new AbortController();
    const result = await moveBack(queues.port, queues.dlq, queues.source, {
      ratePerSecond: 1000,
      visibilitySeconds: 60,
      signal: interrupt.signal,
      onMoved: (moved) => moved === 1 && interrupt.abort(),
    });
    expect(result).toMatchObject({ moved: 1, interrupted: true });
    // One moved (and, being poison, back already), three never touched: four visible, none hidden.
    expect(queues.visible).toHaveLength(4);
    expect(await queues.port.depth(queues.dlq)).toMatchObject({ inFlight: 0 });
  });
});
