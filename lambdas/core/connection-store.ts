import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import * as z from './zod';
import { ProtocolError } from './errors';
import type { JsonValue } from './json-data';
import type { PresenceMember, PresenceRequest } from './protocol';
import { channelRegionKey, connectionsTable, presenceKey, presenceTable, subscriptionsTable } from './tables';

export interface ConnectionStoreOptions {
  dynamo: DynamoDBDocumentClient;
  region: string;
  connectionsTableName: string;
  subscriptionsTableName: string;
  presenceTableName: string;
  /** Seconds a connection's items live without a disconnect (a lost $disconnect must not leak). */
  connectionTtlSeconds: number;
  maxSubscriptionsPerConnection: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Connection, subscription and presence state. Connections and subscriptions live in this
 * region's own tables; presence items in a global table, so every region lists every region's
 * members. The connection item lists its channels so that a disconnect can delete exactly its
 * subscription and presence items without a Scan or an index.
 */
export class ConnectionStore {
  constructor(private readonly options: ConnectionStoreOptions) {}

  async register(connectionId: string, subject: string): Promise<void> {
    const { dynamo, connectionsTableName, region, connectionTtlSeconds } = this.options;
    await dynamo.send(
      new PutCommand({
        TableName: connectionsTableName,
        Item: {
          [connectionsTable.partitionKey]: connectionId,
          region,
          sub: subject,
          connectedAt: Date.now(),
          [connectionsTable.timeToLiveAttribute]: nowSeconds() + connectionTtlSeconds,
        },
      }),
    );
  }

  /**
   * Subscribes a connection, in one transaction with the connection item: the subscription
   * (and its presence item) exist only if the connection was live and not being removed at
   * that instant, so a subscribe racing `$disconnect` can never leave an orphan (see `remove`).
   * `presence` as the subscribe frame gives it: `{data}` is kept on the presence item as JSON
   * text (any JSON survives, as in history) for member lists to return.
   * With `replay` the subscription starts in the replaying state until `replay.leaseUntil`
   * (epoch ms): delivery workers hold back sequenced messages for it until the router's
   * replay hands over with `finishReplay`, or the lease runs out.
   */
  async subscribe(
    connectionId: string,
    channel: string,
    subject: string,
    options: { presence?: PresenceRequest; replay?: { since: Record<string, number>; leaseUntil: number } } = {},
  ): Promise<void> {
    const { connectionsTableName, subscriptionsTableName, presenceTableName, region, connectionTtlSeconds, maxSubscriptionsPerConnection } = this.options;
    const presence = options.presence !== undefined && options.presence !== false;
    const presenceData = typeof options.presence === 'object' ? { [PRESENCE_DATA]: JSON.stringify(options.presence.data) } : {};
    const expiresAt = nowSeconds() + connectionTtlSeconds;
    const member = { sub: subject, region, [subscriptionsTable.timeToLiveAttribute]: expiresAt };
    try {
      await this.options.dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              // The channel set's size bounds subscriptions per connection; re-subscribing is idempotent.
              Update: {
                TableName: connectionsTableName,
                Key: { [connectionsTable.partitionKey]: connectionId },
                UpdateExpression: presence ? 'ADD channels :channel, presenceChannels :channel' : 'ADD channels :channel DELETE presenceChannels :channel',
                ConditionExpression:
                  'attribute_exists(#id) AND attribute_not_exists(#gone) AND (attribute_not_exists(channels) OR size(channels) < :max OR contains(channels, :name))',
                ExpressionAttributeNames: { '#id': connectionsTable.partitionKey, '#gone': GONE },
                ExpressionAttributeValues: { ':channel': new Set([channel]), ':name': channel, ':max': maxSubscriptionsPerConnection },
              },
            },
            {
              Put: {
                TableName: subscriptionsTableName,
                Item: {
                  ...this.subscriptionKey(channel, connectionId),
                  ...member,
                  channel,
                  presence,
                  subscribedAt: Date.now(),
                  ...(options.replay && { replaying: true, replayUntil: options.replay.leaseUntil, since: options.replay.since }),
                },
              },
            },
            presence
              ? { Put: { TableName: presenceTableName, Item: { ...this.presenceItemKey(channel, connectionId), ...member, ...presenceData } } }
              : { Delete: { TableName: presenceTableName, Key: this.presenceItemKey(channel, connectionId) } },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') {
        throw await this.explainRefusedSubscribe(connectionId);
      }
      throw error;
    }
  }

  private subscriptionKey(channel: string, connectionId: string) {
    return {
      [subscriptionsTable.partitionKey]: channelRegionKey(this.options.region, channel),
      [subscriptionsTable.sortKey.name]: connectionId,
    };
  }

  private presenceItemKey(channel: string, connectionId: string) {
    return { [presenceTable.partitionKey]: presenceKey(this.options.region, channel), [presenceTable.sortKey.name]: connectionId };
  }

  async getSubscription(channel: string, connectionId: string): Promise<Subscriber | undefined> {
    const { Item } = await this.options.dynamo.send(
      new GetCommand({ TableName: this.options.subscriptionsTableName, Key: this.subscriptionKey(channel, connectionId), ConsistentRead: true }),
    );
    return Item ? toSubscriber(Item) : undefined;
  }

  /**
   * A delivery worker held a sequenced message back from a replaying subscription: records
   * the highest held-back seq per origin. Returns false when the replay already handed
   * over, so the worker decides by `since` instead.
   */
  async recordHeldBack(channel: string, connectionId: string, origin: string, seq: number): Promise<boolean> {
    const now = Date.now();
    try {
      await this.options.dynamo.send(
        new UpdateCommand({
          TableName: this.options.subscriptionsTableName,
          Key: this.subscriptionKey(channel, connectionId),
          UpdateExpression: 'SET #held = :seq',
          ConditionExpression: 'replaying = :true AND replayUntil > :now AND (attribute_not_exists(#held) OR #held < :seq)',
          ExpressionAttributeNames: { '#held': heldBackAttribute(origin) },
          ExpressionAttributeValues: { ':true': true, ':seq': seq, ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    // A higher seq of this origin is already recorded (still held back), or the replay is over.
    const subscription = await this.getSubscription(channel, connectionId);
    return subscription !== undefined && isReplaying(subscription, now);
  }

  /**
   * Hands a replaying subscription over to live delivery with `since` as its floor, and
   * returns the highest seq per origin that workers held back for it up to that instant (the
   * replay must post those from history), or undefined when the subscription is gone. One
   * write: a worker's hold-back either happened before it (and is returned) or sees the
   * handover and delivers by `since` itself.
   */
  async finishReplay(channel: string, connectionId: string, since: Record<string, number>): Promise<Record<string, number> | undefined> {
    const origins = Object.keys(since);
    const heldBack = origins.map((_, i) => `#h${i}`);
    try {
      const { Attributes } = await this.options.dynamo.send(
        new UpdateCommand({
          TableName: this.options.subscriptionsTableName,
          Key: this.subscriptionKey(channel, connectionId),
          UpdateExpression: `SET since = :since REMOVE replaying, replayUntil${heldBack.map((name) => `, ${name}`).join('')}`,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: {
            '#pk': subscriptionsTable.partitionKey,
            ...Object.fromEntries(origins.map((origin, i) => [`#h${i}`, heldBackAttribute(origin)])),
          },
          ExpressionAttributeValues: { ':since': since },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return toSubscriber(Attributes!).skipped ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** One page of a channel's presence members across `regions`, in region order. */
  async members(channel: string, regions: readonly string[], limit: number, cursor?: string): Promise<{ members: PresenceMember[]; next?: string }> {
    let position: PresenceCursor | undefined = decodeCursor(cursor, regions, channel);
    const members: PresenceMember[] = [];
    while (position && members.length < limit) {
      // Presence items hold members only: every item a page reads is returned, so a page costs
      // at most one Query per region however many non-members subscribe.
      const page: QueryCommandOutput = await this.options.dynamo.send(
        new QueryCommand({
          TableName: this.options.presenceTableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': presenceTable.partitionKey },
          ExpressionAttributeValues: { ':pk': presenceKey(regions[position.region]!, channel) },
          Limit: limit - members.length,
          ExclusiveStartKey: position.key,
        }),
      );
      for (const item of page.Items ?? []) members.push(toPresenceMember(item));
      position = page.LastEvaluatedKey
        ? { region: position.region, key: page.LastEvaluatedKey as PresenceCursor['key'] }
        : position.region + 1 < regions.length
          ? { region: position.region + 1 }
          : undefined;
    }
    return { members, ...(position && { next: Buffer.from(JSON.stringify(position)).toString('base64url') }) };
  }

  private async explainRefusedSubscribe(connectionId: string): Promise<ProtocolError> {
    const connection = await this.get(connectionId);
    return connection
      ? new ProtocolError('TOO_MANY_SUBSCRIPTIONS', `at most ${this.options.maxSubscriptionsPerConnection}`)
      : new ProtocolError('CONNECTION_UNKNOWN');
  }

  /** Unsubscribes; returns whether the connection was in the channel's presence set. */
  async unsubscribe(connectionId: string, channel: string): Promise<{ presence: boolean }> {
    const { dynamo, connectionsTableName } = this.options;
    const { presence } = await this.removeSubscription(channel, connectionId);
    await dynamo.send(
      new UpdateCommand({
        TableName: connectionsTableName,
        Key: { [connectionsTable.partitionKey]: connectionId },
        UpdateExpression: 'DELETE channels :channel, presenceChannels :channel',
        ConditionExpression: 'attribute_exists(#id)',
        ExpressionAttributeNames: { '#id': connectionsTable.partitionKey },
        ExpressionAttributeValues: { ':channel': new Set([channel]) },
      }),
    ).catch((error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
    return { presence };
  }

  /**
   * Deletes one subscription and its presence item by key, whether or not the connection
   * item still lists it (a post answered 410 finds an orphan this way); returns whether the
   * connection was in the channel's presence set.
   */
  async removeSubscription(channel: string, connectionId: string): Promise<{ presence: boolean }> {
    const { Attributes } = await this.options.dynamo.send(
      new DeleteCommand({ TableName: this.options.subscriptionsTableName, Key: this.subscriptionKey(channel, connectionId), ReturnValues: 'ALL_OLD' }),
    );
    await this.options.dynamo.send(new DeleteCommand({ TableName: this.options.presenceTableName, Key: this.presenceItemKey(channel, connectionId) }));
    return { presence: Attributes?.presence === true };
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.options.dynamo.send(
      new GetCommand({
        TableName: this.options.connectionsTableName,
        Key: { [connectionsTable.partitionKey]: connectionId },
        ConsistentRead: true,
      }),
    );
    return Item && !Item[GONE] ? toConnectionRecord(Item) : undefined;
  }

  /**
   * Deletes a connection and every subscription it holds, and returns what it was (for
   * presence leave events); removing a gone connection is a no-op that returns undefined.
   * It first marks the connection gone and reads its channels in the same write: from then
   * on no subscribe can commit (its transaction checks the mark), and every subscribe that
   * committed before is in the set read, so nothing is left behind.
   */
  async remove(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { dynamo, connectionsTableName, subscriptionsTableName, presenceTableName } = this.options;
    let connection: ConnectionRecord;
    try {
      const { Attributes } = await dynamo.send(
        new UpdateCommand({
          TableName: connectionsTableName,
          Key: { [connectionsTable.partitionKey]: connectionId },
          UpdateExpression: 'SET #gone = :true',
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: { '#id': connectionsTable.partitionKey, '#gone': GONE },
          ExpressionAttributeValues: { ':true': true },
          ReturnValues: 'ALL_NEW',
        }),
      );
      connection = toConnectionRecord(Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
    const deletes = connection.channels.flatMap((channel) => [
      { table: subscriptionsTableName, Key: this.subscriptionKey(channel, connectionId) },
      { table: presenceTableName, Key: this.presenceItemKey(channel, connectionId) },
    ]);
    for (let i = 0; i < deletes.length; i += 25) {
      let requests: BatchWriteCommandInput['RequestItems'] = {};
      for (const { table, Key } of deletes.slice(i, i + 25)) (requests[table] ??= []).push({ DeleteRequest: { Key } });
      for (let attempt = 0; requests && Object.keys(requests).length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        const result: BatchWriteCommandOutput = await dynamo.send(new BatchWriteCommand({ RequestItems: requests }));
        requests = result.UnprocessedItems;
      }
    }
    await dynamo.send(new DeleteCommand({ TableName: connectionsTableName, Key: { [connectionsTable.partitionKey]: connectionId } }));
    return connection;
  }

  /** This region's subscribers of a channel, page by page: one Query per page, never a Scan. */
  async *subscribers(channel: string): AsyncGenerator<Subscriber[]> {
    const { dynamo, subscriptionsTableName, region } = this.options;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.send(
        new QueryCommand({
          TableName: subscriptionsTableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': subscriptionsTable.partitionKey, '#sk': subscriptionsTable.sortKey.name },
          ExpressionAttributeValues: { ':pk': channelRegionKey(region, channel) },
          ProjectionExpression: '#sk, since, replaying, replayUntil',
          // Strong: a subscription made just before a publish must see that publish.
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      const subscribers = (page.Items ?? []).map(toSubscriber);
      if (subscribers.length) yield subscribers;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
}

export interface ConnectionRecord {
  region: string;
  sub: string;
  channels: string[];
  presenceChannels: string[];
}

/** What the delivery worker needs of one subscription. */
export interface Subscriber {
  connectionId: string;
  /** Highest seq per origin the client already has: never delivered again. */
  since?: Record<string, number>;
  /** The router is replaying history to it: sequenced messages are held back, not posted, until `replayUntil`. */
  replaying?: boolean;
  /** Epoch ms when the replay's lease ends: a replay that died holds nothing back after it. */
  replayUntil?: number;
  /** While replaying: the highest seq per origin a worker held back. */
  skipped?: Record<string, number>;
}

/** The presence item's attribute holding the member's data as JSON text. */
const PRESENCE_DATA = 'data';

function toPresenceMember(item: Record<string, unknown>): PresenceMember {
  const member = { sub: item.sub as string, connectionId: item[presenceTable.sortKey.name] as string, region: item.region as string };
  const data = item[PRESENCE_DATA];
  // Written by `subscribe` from JSON.stringify, so it parses.
  return typeof data === 'string' ? { ...member, data: JSON.parse(data) as JsonValue } : member;
}

/** Set on a connection item by `remove`: no subscribe may commit after it. */
const GONE = 'gone';

/** Whether a worker must hold sequenced messages back for this subscription now. */
export function isReplaying(subscriber: Subscriber, now = Date.now()): boolean {
  return subscriber.replaying === true && (subscriber.replayUntil ?? 0) > now;
}

function toConnectionRecord(item: Record<string, unknown>): ConnectionRecord {
  const set = (name: string) => [...((item[name] as Set<string> | undefined) ?? [])];
  return { region: item.region as string, sub: item.sub as string, channels: set('channels'), presenceChannels: set('presenceChannels') };
}

/** One top-level attribute per origin (`heldBack:<region>`), so no item ever needs an empty map. */
const HELD_BACK_PREFIX = 'heldBack:';
const heldBackAttribute = (origin: string) => `${HELD_BACK_PREFIX}${origin}`;

function toSubscriber(item: Record<string, unknown>): Subscriber {
  const heldBack = Object.entries(item).filter(([name]) => name.startsWith(HELD_BACK_PREFIX));
  return {
    connectionId: item[subscriptionsTable.sortKey.name] as string,
    since: item.since as Record<string, number> | undefined,
    replaying: item.replaying === true,
    ...(typeof item.replayUntil === 'number' && { replayUntil: item.replayUntil }),
    ...(heldBack.length && { skipped: Object.fromEntries(heldBack.map(([name, seq]) => [name.slice(HELD_BACK_PREFIX.length), seq as number])) }),
  };
}

const CursorSchema = z.strictObject({
  region: z.int().check(z.minimum(0)),
  key: z.optional(z.strictObject({ [presenceTable.partitionKey]: z.string(), [presenceTable.sortKey.name]: z.string().check(z.minLength(1)) })),
});

type PresenceCursor = z.output<typeof CursorSchema>;

/** A cursor this channel's presence pages returned, or a 4002: a forged key never reaches DynamoDB. */
function decodeCursor(cursor: string | undefined, regions: readonly string[], channel: string): PresenceCursor {
  if (cursor === undefined) return { region: 0 };
  try {
    const parsed = CursorSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.success && parsed.data.region < regions.length) {
      const { region, key } = parsed.data;
      if (!key || key[presenceTable.partitionKey] === presenceKey(regions[region]!, channel)) return parsed.data;
    }
  } catch {
    // fall through to the error below
  }
  throw new ProtocolError('INVALID_FRAME', 'cursor: not a cursor this channel returned');
}
