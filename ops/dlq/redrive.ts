import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueMessage, QueuePort, QueueRef } from './queue-port';

export interface MoveOptions {
  /** At most this many messages a second. */
  ratePerSecond: number;
  /** How long a received message stays hidden if the move stops before it is done with it. */
  visibilitySeconds: number;
  /** Stops after the message in hand; what was received and not moved is released. */
  signal?: AbortSignal;
  onMoved?: (moved: number) => void;
}

export interface MoveResult {
  moved: number;
  /** Messages this run sent back that dead-lettered again while it ran: left in the DLQ, not moved twice. */
  deadLetteredAgain: number;
  interrupted: boolean;
}

/**
 * Moves every message of a DLQ back to its source queue by receive → send → delete, for SQS
 * servers without StartMessageMoveTask (fauxqs). Each message is sent before it is deleted, so
 * a move cut short anywhere loses nothing: at worst a message is in both queues (sent, not yet
 * deleted; it reappears in the DLQ after `visibilitySeconds`), a duplicate consumers drop by
 * (origin, seq).
 */
export async function moveBack(port: QueuePort, from: QueueRef, to: QueueRef, options: MoveOptions): Promise<MoveResult> {
  const result: MoveResult = { moved: 0, deadLetteredAgain: 0, interrupted: false };
  const sentIds = new Set<string>();
  const seen = new Set<string>();
  // Messages not to move (ours come back, or received again) stay hidden until the end, so each
  // receive brings new ones; keyed by id, so a message received again keeps only its live receipt.
  const held = new Map<string, QueueMessage>();
  const inHand: QueueMessage[] = [];
  const started = Date.now();
  try {
    while (!options.signal?.aborted) {
      const batch = await port.receive(from, { max: 10, visibilitySeconds: options.visibilitySeconds, waitSeconds: 0 });
      for (const m of batch) {
        if (seen.has(m.messageId) || sentIds.has(m.messageId)) {
          if (sentIds.has(m.messageId) && !seen.has(m.messageId)) result.deadLetteredAgain += 1;
          held.set(m.messageId, m);
        } else {
          inHand.push(m);
        }
        seen.add(m.messageId);
      }
      if (inHand.length === 0) break;
      while (inHand.length > 0 && !options.signal?.aborted) {
        // The k-th send no sooner than k / rate seconds after the start.
        const due = started + (result.moved * 1000) / options.ratePerSecond;
        if (due > Date.now()) await sleep(due - Date.now());
        const message = inHand.shift()!;
        sentIds.add(await port.send(to, message));
        await port.delete(from, message.receiptHandle);
        result.moved += 1;
        options.onMoved?.(result.moved);
      }
    }
  } finally {
    await port.release(from, [...held.values(), ...inHand].map((m) => m.receiptHandle));
  }
  result.interrupted = options.signal?.aborted === true;
  return result;
}
