import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { EnvelopeSchema, type Envelope } from './protocol';
import { channelOriginKey, historyTable, sequencesTable } from './tables';

export interface HistoryOptions {
  dynamo: DynamoDBDocumentClient;
  sequencesTableName: string;
  historyTableName: string;
  ttlSeconds: number;
  maxPerChannel: number;
}

export type SequencedEnvelope = Envelope & { seq: number };

/** One more item written in the same transaction as a message's seq and history (its publish claim). */
export type TransactionItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

/** The publish claim's part of the transaction did not hold: another attempt holds the id. */
export class ClaimHeld extends Error {
  override readonly name = 'ClaimHeld';
}

/**
 * How long and how much history a channel keeps: what tells seqs a region's history lacks
 * because they are gone for good (`expired`) from seqs still on their way to it.
 */
export interface HistoryRetention {
  /**
   * Past this age a message is in every region's history (replication has settled), so a gap
   * below a message this old, or behind a counter this old, expired (TTL or the per-channel cap).
   */
  historySettleMs: number;
  /** The origin keeps this many messages per channel: seqs this far behind its counter are trimmed. */
  historyMaxPerChannel: number;
}

/** Whether the seqs missing just below the stored message `above` expired, given the origin's counter. */
export function gapExpired(retention: HistoryRetention, above: Pick<SequencedEnvelope, 'seq' | 'ts'>, counterSeq: number, now = Date.now()): boolean {
  return above.ts < now - retention.historySettleMs || above.seq - 1 <= counterSeq - retention.historyMaxPerChannel;
}

/** Whether the seqs above all that is stored, up to a counter last moved at `counterUpdatedAt`, expired rather than still replicating. */
export function tailExpired(retention: HistoryRetention, counterUpdatedAt: number, now = Date.now()): boolean {
  return counterUpdatedAt < now - retention.historySettleMs;
}

/** Tries of the optimistic seq transaction before the publish is answered "retry". */
const MAX_SEQUENCE_ATTEMPTS = 8;
/** Counters remembered per instance, so a hot channel's next publish skips the read. */
const MAX_CACHED_COUNTERS = 10_000;

/**
 * Sequence numbers and message history per (channel, origin region), the DynamoDB adapter.
 *
 * Guarantees:
 * - `sequence` takes seq n and stores the message at n in one transaction: a seq exists
 *   if and only if its message is in the origin's history. No seq is ever a hole.
 * - Only the origin region takes seqs of its own origin, so global-table replication copies
 *   counters outward and last-writer-wins never has two writers of one counter.
 * - `storeReceived` is how a receiving region keeps "a region's history holds everything it
 *   delivered": it writes the copy it holds before fanning it out, so recovery there never
 *   depends on replication having caught up.
 * - `data` is stored as JSON text: whatever JSON a client may publish is storable.
 */
export class MessageHistory {
  private readonly counters = new Map<string, number>();

  constructor(private readonly options: HistoryOptions) {}

  /**
   * Takes the next seq of (channel, origin) and stores the message under it, atomically with
   * the items `also` gives for that seq (the publish claim). Optimistic: the counter must still hold what this instance
   * last saw, else it is read again and the transaction retried.
   */
  async sequence(envelope: Envelope, also: (seq: number) => TransactionItem[] = () => []): Promise<SequencedEnvelope> {
    const key = channelOriginKey(envelope.channel, envelope.origin);
    let previous = this.counters.get(key) ?? (await this.readCounter(key));
    for (let attempt = 1; ; attempt++) {
      const sequenced = { ...envelope, seq: previous + 1 };
      try {
        await this.options.dynamo.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.options.sequencesTableName,
                  Key: { [sequencesTable.partitionKey]: key },
                  UpdateExpression: 'SET seq = :next, updatedAt = :now',
                  ConditionExpression: previous === 0 ? 'attribute_not_exists(seq) OR seq = :zero' : 'seq = :previous',
                  ExpressionAttributeValues: { ':next': sequenced.seq, ':now': Date.now(), ...(previous === 0 ? { ':zero': 0 } : { ':previous': previous }) },
                },
              },
              { Put: { TableName: this.options.historyTableName, Item: this.historyItem(sequenced), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': historyTable.partitionKey } } },
              ...also(sequenced.seq),
            ],
          }),
        );
        this.remember(key, sequenced.seq);
        return sequenced;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [counter, history, ...rest] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
        if (rest.includes('ConditionalCheckFailed')) throw new ClaimHeld('the message id is held by another attempt');
        if (attempt >= MAX_SEQUENCE_ATTEMPTS) throw error;
        if (counter === 'ConditionalCheckFailed') previous = await this.readCounter(key);
        // History already holds this seq (a counter restored behind it): never overwrite, move past.
        else if (history === 'ConditionalCheckFailed') previous = sequenced.seq;
        else await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * Math.random()));
      }
    }
  }

  /** Deletes what fell out of the per-channel cap; best effort, TTL removes it anyway. */
  async trim(envelope: SequencedEnvelope): Promise<void> {
    if (envelope.seq <= this.options.maxPerChannel) return;
    await this.options.dynamo.send(
      new DeleteCommand({
        TableName: this.options.historyTableName,
        Key: { [historyTable.partitionKey]: channelOriginKey(envelope.channel, envelope.origin), [historyTable.sortKey.name]: envelope.seq - this.options.maxPerChannel },
      }),
    );
  }

  /**
   * A receiving region stores the sequenced messages it is about to deliver, unless its
   * replica already holds them (replicated from the origin). Returns the messages it could
   * not store: they must not be delivered yet.
   */
  async storeReceived(envelopes: readonly SequencedEnvelope[]): Promise<Set<SequencedEnvelope>> {
    const failed = new Set<SequencedEnvelope>();
    if (envelopes.length === 0) return failed;
    const keyOf = (e: SequencedEnvelope) => `${channelOriginKey(e.channel, e.origin)}/${e.seq}`;
    const present = new Set<string>();
    for (let i = 0; i < envelopes.length; i += 100) {
      const keys = [...new Map(envelopes.slice(i, i + 100).map((e) => [keyOf(e), this.itemKey(e)])).values()];
      // Keys left unprocessed count as absent: putting an item that is there already is harmless.
      // So is an eventually consistent read (half the read units): a stale "absent" costs a
      // conditional put that finds the item, and a stale "present" can only be an item trimmed or
      // expired since, which recovery reports expired anyway (history items are never rewritten).
      const { Responses } = await this.options.dynamo.send(
        new BatchGetCommand({ RequestItems: { [this.options.historyTableName]: { Keys: keys, ProjectionExpression: '#pk, #seq', ExpressionAttributeNames: { '#pk': historyTable.partitionKey, '#seq': historyTable.sortKey.name } } } }),
      );
      for (const item of Responses?.[this.options.historyTableName] ?? []) present.add(`${item[historyTable.partitionKey]}/${item[historyTable.sortKey.name]}`);
    }
    await Promise.all(
      envelopes
        .filter((e) => !present.has(keyOf(e)))
        .map(async (envelope) => {
          try {
            await this.options.dynamo.send(
              new PutCommand({
                TableName: this.options.historyTableName,
                Item: this.historyItem(envelope),
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': historyTable.partitionKey },
              }),
            );
          } catch (error) {
            if (!(error instanceof ConditionalCheckFailedException)) failed.add(envelope);
          }
        }),
    );
    return failed;
  }

  /** One stored message, read consistently in this region's replica. */
  async get(channel: string, origin: string, seq: number): Promise<SequencedEnvelope | undefined> {
    const { Item } = await this.options.dynamo.send(
      new GetCommand({
        TableName: this.options.historyTableName,
        Key: { [historyTable.partitionKey]: channelOriginKey(channel, origin), [historyTable.sortKey.name]: seq },
        ConsistentRead: true,
      }),
    );
    return Item ? this.fromItem(Item) : undefined;
  }

  /** Stored, unexpired messages of (channel, origin) with seq > `after`, oldest first, at most `limit`. */
  after(channel: string, origin: string, after: number, limit: number): Promise<SequencedEnvelope[]> {
    return this.query(channel, origin, limit, { after });
  }

  /** The newest stored, unexpired messages of (channel, origin), newest first, at most `limit`. */
  latest(channel: string, origin: string, limit: number): Promise<SequencedEnvelope[]> {
    return this.query(channel, origin, limit, 'newest');
  }

  private async query(channel: string, origin: string, limit: number, range: { after: number } | 'newest'): Promise<SequencedEnvelope[]> {
    const envelopes: SequencedEnvelope[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    const nowSeconds = Math.floor(Date.now() / 1000);
    do {
      const page = await this.options.dynamo.send(
        new QueryCommand({
          TableName: this.options.historyTableName,
          KeyConditionExpression: range === 'newest' ? '#pk = :pk' : '#pk = :pk AND #seq > :after',
          ExpressionAttributeNames: { '#pk': historyTable.partitionKey, ...(range !== 'newest' && { '#seq': historyTable.sortKey.name }) },
          ExpressionAttributeValues: { ':pk': channelOriginKey(channel, origin), ...(range !== 'newest' && { ':after': range.after }) },
          ScanIndexForward: range !== 'newest',
          ConsistentRead: true,
          Limit: limit - envelopes.length,
          ExclusiveStartKey,
        }),
      );
      // TTL deletion lags expiry by up to days on AWS: an expired item is gone for recovery.
      for (const item of page.Items ?? []) {
        const envelope = (item[historyTable.timeToLiveAttribute] as number) > nowSeconds ? this.fromItem(item) : undefined;
        if (envelope) envelopes.push(envelope);
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

  private async readCounter(key: string): Promise<number> {
    const { Item } = await this.options.dynamo.send(
      new GetCommand({ TableName: this.options.sequencesTableName, Key: { [sequencesTable.partitionKey]: key }, ConsistentRead: true }),
    );
    return (Item?.seq as number | undefined) ?? 0;
  }

  private remember(key: string, seq: number): void {
    this.counters.delete(key);
    this.counters.set(key, seq);
    if (this.counters.size > MAX_CACHED_COUNTERS) this.counters.delete(this.counters.keys().next().value!);
  }

  private itemKey(envelope: SequencedEnvelope) {
    return { [historyTable.partitionKey]: channelOriginKey(envelope.channel, envelope.origin), [historyTable.sortKey.name]: envelope.seq };
  }

  private historyItem(envelope: SequencedEnvelope) {
    return {
      ...this.itemKey(envelope),
      envelope: JSON.stringify(envelope),
      [historyTable.timeToLiveAttribute]: Math.floor(envelope.ts / 1000) + this.options.ttlSeconds,
    };
  }

  /** A stored item back to its envelope; an item that does not parse is skipped, never fatal. */
  private fromItem(item: Record<string, unknown>): SequencedEnvelope | undefined {
    try {
      const parsed = EnvelopeSchema.safeParse(JSON.parse(item.envelope as string));
      return parsed.success && parsed.data.seq !== undefined ? (parsed.data as SequencedEnvelope) : undefined;
    } catch {
      return undefined;
    }
  }
}
