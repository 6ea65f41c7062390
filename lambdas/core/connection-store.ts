import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { ProtocolError } from './errors';
import type { PresenceMember } from './protocol';
import { channelRegionKey, connectionsTable, subscriptionsTable } from './tables';

export interface ConnectionStoreOptions {
  dynamo: DynamoDBDocumentClient;
  region: string;
  connectionsTableName: string;
  subscriptionsTableName: string;
  /** Seconds a connection's items live without a disconnect (a lost $disconnect must not leak). */
  connectionTtlSeconds: number;
  maxSubscriptionsPerConnection: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Connection and subscription state. The connection item lists its channels so that a
 * disconnect can delete exactly its subscription items without a Scan or an index.
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
   * Subscribes a connection. With `replayFrom` the subscription starts in the replaying state:
   * delivery workers hold back sequenced messages for it (recording what they held back) until
   * the router's replay hands over with `finishReplay`.
   */
  async subscribe(
    connectionId: string,
    channel: string,
    subject: string,
    options: { presence?: boolean; replayFrom?: Record<string, number> } = {},
  ): Promise<void> {
    const { dynamo, connectionsTableName, subscriptionsTableName, region, connectionTtlSeconds, maxSubscriptionsPerConnection } =
      this.options;
    try {
      // The channel set's size bounds subscriptions per connection; re-subscribing is idempotent.
      await dynamo.send(
        new UpdateCommand({
          TableName: connectionsTableName,
          Key: { [connectionsTable.partitionKey]: connectionId },
          UpdateExpression: options.presence ? 'ADD channels :channel, presenceChannels :channel' : 'ADD channels :channel',
          ConditionExpression:
            'attribute_exists(#id) AND (attribute_not_exists(channels) OR size(channels) < :max OR contains(channels, :name))',
          ExpressionAttributeNames: { '#id': connectionsTable.partitionKey },
          ExpressionAttributeValues: { ':channel': new Set([channel]), ':name': channel, ':max': maxSubscriptionsPerConnection },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw await this.explainRefusedSubscribe(connectionId);
      throw error;
    }
    await dynamo.send(
      new PutCommand({
        TableName: subscriptionsTableName,
        Item: {
          [subscriptionsTable.partitionKey]: channelRegionKey(region, channel),
          [subscriptionsTable.sortKey.name]: connectionId,
          channel,
          region,
          sub: subject,
          presence: options.presence === true,
          subscribedAt: Date.now(),
          ...(options.replayFrom && { replaying: true, since: options.replayFrom }),
          [subscriptionsTable.timeToLiveAttribute]: nowSeconds() + connectionTtlSeconds,
        },
      }),
    );
  }

  private subscriptionKey(channel: string, connectionId: string) {
    return {
      [subscriptionsTable.partitionKey]: channelRegionKey(this.options.region, channel),
      [subscriptionsTable.sortKey.name]: connectionId,
    };
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
    try {
      await this.options.dynamo.send(
        new UpdateCommand({
          TableName: this.options.subscriptionsTableName,
          Key: this.subscriptionKey(channel, connectionId),
          UpdateExpression: 'SET #held = :seq',
          ConditionExpression: 'replaying = :true AND (attribute_not_exists(#held) OR #held < :seq)',
          ExpressionAttributeNames: { '#held': heldBackAttribute(origin) },
          ExpressionAttributeValues: { ':true': true, ':seq': seq },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    // A higher seq of this origin is already recorded (still held back) or the replay is over.
    return (await this.getSubscription(channel, connectionId))?.replaying === true;
  }

  /**
   * Hands a replaying subscription over to live delivery with `since` as its floor. Refused
   * (false) while a worker has held back a seq above `since`: the replay must send it first.
   */
  async finishReplay(channel: string, connectionId: string, since: Record<string, number>): Promise<boolean> {
    const origins = Object.keys(since);
    try {
      await this.options.dynamo.send(
        new UpdateCommand({
          TableName: this.options.subscriptionsTableName,
          Key: this.subscriptionKey(channel, connectionId),
          UpdateExpression: `SET since = :since REMOVE replaying, ${origins.map((_, i) => `#h${i}`).join(', ')}`,
          ConditionExpression: origins.map((_, i) => `(attribute_not_exists(#h${i}) OR #h${i} <= :s${i})`).join(' AND '),
          ExpressionAttributeNames: Object.fromEntries(origins.map((origin, i) => [`#h${i}`, heldBackAttribute(origin)])),
          ExpressionAttributeValues: { ':since': since, ...Object.fromEntries(origins.map((origin, i) => [`:s${i}`, since[origin]])) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** One page of a channel's presence members across `regions`, in region order. */
  async members(channel: string, regions: readonly string[], limit: number, cursor?: string): Promise<{ members: PresenceMember[]; next?: string }> {
    let position = decodeCursor(cursor, regions.length);
    const members: PresenceMember[] = [];
    while (position && members.length < limit) {
      const page = await this.options.dynamo.send(
        new QueryCommand({
          TableName: this.options.subscriptionsTableName,
          KeyConditionExpression: '#pk = :pk',
          FilterExpression: 'presence = :true',
          ExpressionAttributeNames: { '#pk': subscriptionsTable.partitionKey },
          ExpressionAttributeValues: { ':pk': channelRegionKey(regions[position.region]!, channel), ':true': true },
          Limit: limit - members.length,
          ExclusiveStartKey: position.key,
        }),
      );
      for (const item of page.Items ?? []) {
        members.push({ sub: item.sub as string, connectionId: item[subscriptionsTable.sortKey.name] as string, region: item.region as string });
      }
      position = page.LastEvaluatedKey
        ? { region: position.region, key: page.LastEvaluatedKey }
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
    const { dynamo, connectionsTableName, subscriptionsTableName, region } = this.options;
    const { Attributes } = await dynamo.send(
      new DeleteCommand({
        TableName: subscriptionsTableName,
        Key: { [subscriptionsTable.partitionKey]: channelRegionKey(region, channel), [subscriptionsTable.sortKey.name]: connectionId },
        ReturnValues: 'ALL_OLD',
      }),
    );
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
    if (!Item) return undefined;
    const set = (name: string) => [...((Item[name] as Set<string> | undefined) ?? [])];
    return { region: Item.region, sub: Item.sub, channels: set('channels'), presenceChannels: set('presenceChannels') };
  }

  /**
   * Deletes a connection and every subscription it holds, and returns what it was (for
   * presence leave events); removing a gone connection is a no-op that returns undefined.
   */
  async remove(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { dynamo, connectionsTableName, subscriptionsTableName, region } = this.options;
    const connection = await this.get(connectionId);
    const keys = (connection?.channels ?? []).map((channel) => ({
      [subscriptionsTable.partitionKey]: channelRegionKey(region, channel),
      [subscriptionsTable.sortKey.name]: connectionId,
    }));
    for (let i = 0; i < keys.length; i += 25) {
      let requests: Record<string, unknown>[] | undefined = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests?.length; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        const result: BatchWriteCommandOutput = await dynamo.send(new BatchWriteCommand({ RequestItems: { [subscriptionsTableName]: requests } }));
        requests = result.UnprocessedItems?.[subscriptionsTableName];
      }
    }
    await dynamo.send(
      new DeleteCommand({ TableName: connectionsTableName, Key: { [connectionsTable.partitionKey]: connectionId } }),
    );
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
          ProjectionExpression: '#sk, since, replaying',
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
  /** The router is replaying history to it: sequenced messages are held back, not posted. */
  replaying?: boolean;
  /** While replaying: the highest seq per origin a worker held back. */
  skipped?: Record<string, number>;
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
    ...(heldBack.length && { skipped: Object.fromEntries(heldBack.map(([name, seq]) => [name.slice(HELD_BACK_PREFIX.length), seq as number])) }),
  };
}

const CursorSchema = z.object({ region: z.number().int().min(0), key: z.record(z.string(), z.string()).optional() });

function decodeCursor(cursor: string | undefined, regionCount: number): z.output<typeof CursorSchema> | undefined {
  if (cursor === undefined) return { region: 0 };
  try {
    const parsed = CursorSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.success && parsed.data.region < regionCount) return parsed.data;
  } catch {
    // fall through to the error below
  }
  throw new ProtocolError('INVALID_FRAME', 'cursor: not a cursor this channel returned');
}
