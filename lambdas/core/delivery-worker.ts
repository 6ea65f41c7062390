import { GoneException, PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { forEachWithConcurrency } from './concurrency';
import type { ConnectionStore } from './connection-store';
import { EnvelopeSchema, messageFrame, type Envelope } from './protocol';

export interface DeliveryWorkerDeps {
  store: ConnectionStore;
  connections: ApiGatewayManagementApiClient;
  /** Events older than this are dropped instead of delivered late; 0 keeps every event. */
  ttlSeconds: number;
  /** PostToConnection calls in flight. */
  concurrency: number;
  now?: () => number;
}

export type DeliveryStats = {
  records: number;
  invalid: number;
  expired: number;
  subscribers: number;
  posted: number;
  gone: number;
  failed: number;
};

interface PendingEvent {
  record: SQSRecord;
  envelope: Envelope;
  /** The frame serialized once per event, not once per subscriber: this is the hot path. */
  payload: Uint8Array;
}

/**
 * Delivers one SQS batch to this region's subscribers. Per channel, events go to each
 * connection in batch order; when a post fails (throttled, 5xx after the SDK's own retries)
 * that event and every later event of the channel are reported in `batchItemFailures`, so
 * SQS redelivers them in order rather than skipping one. Clients drop the resulting
 * duplicates by id. A gone connection (410) is deleted, not retried.
 */
export async function deliverBatch(
  deps: DeliveryWorkerDeps,
  event: SQSEvent,
): Promise<SQSBatchResponse & { stats: DeliveryStats }> {
  const now = (deps.now ?? Date.now)();
  const stats: DeliveryStats = { records: event.Records.length, invalid: 0, expired: 0, subscribers: 0, posted: 0, gone: 0, failed: 0 };
  const failed = new Set<string>();
  const byChannel = new Map<string, PendingEvent[]>();

  for (const record of event.Records) {
    const envelope = parseEnvelope(record.body);
    if (!envelope) {
      // Not ours to drop: failing it sends it to the DLQ after maxReceiveCount, where an alarm fires.
      console.error(JSON.stringify({ msg: 'invalid envelope', messageId: record.messageId, body: record.body.slice(0, 512) }));
      stats.invalid++;
      failed.add(record.messageId);
      continue;
    }
    if (deps.ttlSeconds > 0 && now - envelope.ts > deps.ttlSeconds * 1000) {
      stats.expired++;
      continue;
    }
    const pending = { record, envelope, payload: Buffer.from(JSON.stringify(messageFrame(envelope))) };
    byChannel.set(envelope.channel, [...(byChannel.get(envelope.channel) ?? []), pending]);
  }

  const gone = new Set<string>();
  for (const [channel, events] of byChannel) {
    for await (const connectionIds of deps.store.subscribers(channel)) {
      stats.subscribers += connectionIds.length;
      await forEachWithConcurrency(connectionIds, deps.concurrency, async (connectionId) => {
        for (const [index, pending] of events.entries()) {
          try {
            await deps.connections.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: pending.payload }));
            stats.posted++;
          } catch (error) {
            if (error instanceof GoneException) {
              gone.add(connectionId);
              return;
            }
            console.warn(JSON.stringify({ msg: 'post failed', connectionId, channel, error: (error as Error).name }));
            for (const later of events.slice(index)) failed.add(later.record.messageId);
            return;
          }
        }
      });
    }
  }

  await Promise.all([...gone].map((connectionId) => deps.store.remove(connectionId)));
  stats.gone = gone.size;
  stats.failed = failed.size;
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })), stats };
}

function parseEnvelope(body: string): Envelope | undefined {
  try {
    const parsed = EnvelopeSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
