import { BatchGetCommand, DeleteCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Envelope } from './protocol';
import { channelOriginKey, historyTable, sequencesTable } from './tables';

export interface HistoryOptions {
  dynamo: DynamoDBDocumentClient;
  sequencesTableName: string;
  historyTableName: string;
  ttlSeconds: number;
  maxPerChannel: number;
}

/**
 * Sequence numbers and message history per (channel, origin region). Only the origin region
 * ever writes a counter or a history item of its own origin, so global-table replication
 * copies them outward and last-writer-wins never has two writers to choose between.
 */
export class MessageHistory {
  constructor(private readonly options: HistoryOptions) {}

  /** The next seq of (channel, origin): an atomic counter in the origin region. */
  async nextSequence(channel: string, origin: string): Promise<number> {
    const result = await this.options.dynamo.send(
      new UpdateCommand({
        TableName: this.options.sequencesTableName,
        Key: { [sequencesTable.partitionKey]: channelOriginKey(channel, origin) },
        UpdateExpression: 'ADD seq :one SET updatedAt = :now',
        ExpressionAttributeValues: { ':one': 1, ':now': Date.now() },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return result.Attributes!.seq as number;
  }

  /**
   * Stores a sequenced message. The origin region also trims the stream to `maxPerChannel`
   * items; another region storing a copy it received live (see the delivery worker) does not.
   */
  async append(envelope: Envelope & { seq: number }, { trim }: { trim: boolean }): Promise<void> {
    const { dynamo, historyTableName, ttlSeconds, maxPerChannel } = this.options;
    const key = channelOriginKey(envelope.channel, envelope.origin);
    await dynamo.send(
      new PutCommand({
        TableName: historyTableName,
        Item: {
          [historyTable.partitionKey]: key,
          [historyTable.sortKey.name]: envelope.seq,
          envelope,
          [historyTable.timeToLiveAttribute]: Math.floor(envelope.ts / 1000) + ttlSeconds,
        },
      }),
    );
    if (trim && envelope.seq > maxPerChannel) {
      await dynamo.send(
        new DeleteCommand({
          TableName: historyTableName,
          Key: { [historyTable.partitionKey]: key, [historyTable.sortKey.name]: envelope.seq - maxPerChannel },
        }),
      );
    }
  }

  /** Stored messages of (channel, origin) with seq > `after`, oldest first, at most `limit`. */
  async after(channel: string, origin: string, after: number, limit: number): Promise<Envelope[]> {
    const envelopes: Envelope[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    const nowSeconds = Math.floor(Date.now() / 1000);
    do {
      const page = await this.options.dynamo.send(
        new QueryCommand({
          TableName: this.options.historyTableName,
          KeyConditionExpression: '#pk = :pk AND #seq > :after',
          ExpressionAttributeNames: { '#pk': historyTable.partitionKey, '#seq': historyTable.sortKey.name },
          ExpressionAttributeValues: { ':pk': channelOriginKey(channel, origin), ':after': after },
          ConsistentRead: true,
          Limit: limit - envelopes.length,
          ExclusiveStartKey,
        }),
      );
      // TTL deletion lags expiry by up to days on AWS: an expired item is gone for recovery.
      for (const item of page.Items ?? []) {
        if ((item[historyTable.timeToLiveAttribute] as number) > nowSeconds) envelopes.push(item.envelope as Envelope);
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey && envelopes.length < limit);
    return envelopes;
  }

  /** The latest seq of each origin, and when it was taken, as this region's replica of the counters knows it. */
  async positions(channel: string, origins: readonly string[]): Promise<Record<string, { seq: number; updatedAt: number }>> {
    const keys = origins.map((origin) => ({ [sequencesTable.partitionKey]: channelOriginKey(channel, origin) }));
    const result = await this.options.dynamo.send(
      new BatchGetCommand({ RequestItems: { [this.options.sequencesTableName]: { Keys: keys, ConsistentRead: true } } }),
    );
    const found = new Map(
      (result.Responses?.[this.options.sequencesTableName] ?? []).map((item) => [
        item[sequencesTable.partitionKey] as string,
        { seq: item.seq as number, updatedAt: item.updatedAt as number },
      ]),
    );
    return Object.fromEntries(origins.map((origin) => [origin, found.get(channelOriginKey(channel, origin)) ?? { seq: 0, updatedAt: 0 }]));
  }
}
