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
import { ProtocolError } from './errors';
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

  async subscribe(connectionId: string, channel: string, subject: string): Promise<void> {
    const { dynamo, connectionsTableName, subscriptionsTableName, region, connectionTtlSeconds, maxSubscriptionsPerConnection } =
      this.options;
    try {
      // The channel set's size bounds subscriptions per connection; re-subscribing is idempotent.
      await dynamo.send(
        new UpdateCommand({
          TableName: connectionsTableName,
          Key: { [connectionsTable.partitionKey]: connectionId },
          UpdateExpression: 'ADD channels :channel',
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
          subscribedAt: Date.now(),
          [subscriptionsTable.timeToLiveAttribute]: nowSeconds() + connectionTtlSeconds,
        },
      }),
    );
  }

  private async explainRefusedSubscribe(connectionId: string): Promise<ProtocolError> {
    const connection = await this.get(connectionId);
    return connection
      ? new ProtocolError('TOO_MANY_SUBSCRIPTIONS', `at most ${this.options.maxSubscriptionsPerConnection}`)
      : new ProtocolError('CONNECTION_UNKNOWN');
  }

  async unsubscribe(connectionId: string, channel: string): Promise<void> {
    const { dynamo, connectionsTableName, subscriptionsTableName, region } = this.options;
    await dynamo.send(
      new DeleteCommand({
        TableName: subscriptionsTableName,
        Key: { [subscriptionsTable.partitionKey]: channelRegionKey(region, channel), [subscriptionsTable.sortKey.name]: connectionId },
      }),
    );
    await dynamo.send(
      new UpdateCommand({
        TableName: connectionsTableName,
        Key: { [connectionsTable.partitionKey]: connectionId },
        UpdateExpression: 'DELETE channels :channel',
        ConditionExpression: 'attribute_exists(#id)',
        ExpressionAttributeNames: { '#id': connectionsTable.partitionKey },
        ExpressionAttributeValues: { ':channel': new Set([channel]) },
      }),
    ).catch((error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  async get(connectionId: string): Promise<{ region: string; sub: string; channels: string[] } | undefined> {
    const { Item } = await this.options.dynamo.send(
      new GetCommand({
        TableName: this.options.connectionsTableName,
        Key: { [connectionsTable.partitionKey]: connectionId },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    return { region: Item.region, sub: Item.sub, channels: [...((Item.channels as Set<string> | undefined) ?? [])] };
  }

  /** Deletes a connection and every subscription it holds; removing a gone connection is a no-op. */
  async remove(connectionId: string): Promise<void> {
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
  }

  /** This region's subscribers of a channel, page by page: one Query per page, never a Scan. */
  async *subscribers(channel: string): AsyncGenerator<string[]> {
    const { dynamo, subscriptionsTableName, region } = this.options;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.send(
        new QueryCommand({
          TableName: subscriptionsTableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': subscriptionsTable.partitionKey, '#sk': subscriptionsTable.sortKey.name },
          ExpressionAttributeValues: { ':pk': channelRegionKey(region, channel) },
          ProjectionExpression: '#sk',
          ExclusiveStartKey,
        }),
      );
      const ids = (page.Items ?? []).map((item) => item[subscriptionsTable.sortKey.name] as string);
      if (ids.length) yield ids;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
}
