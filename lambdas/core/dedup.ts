import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dedupTable, deliveryDedupKey, publishDedupKey } from './tables';

export interface DedupOptions {
  dynamo: DynamoDBDocumentClient;
  dedupTableName: string;
  windowSeconds: number;
}

/** What the first accepted publish of an id recorded, so a retry gets the same answer. */
export interface AcceptedPublish {
  origin: string;
  seq?: number;
  ts: number;
}

/**
 * Idempotency of client-supplied message ids, in two places. At publish, a claim on
 * `pub#<channel>#<id>` makes a retry in the same region (or in another, once the claim has
 * replicated) an acknowledged no-op. At delivery, each region's worker claims
 * `dlv#<region>#<channel>#<id>` before posting, so a retry that raced the replication of the
 * first claim into another region is still delivered once per region.
 */
export class IdempotencyLedger {
  constructor(private readonly options: DedupOptions) {}

  private expiresAt(): number {
    return Math.floor(Date.now() / 1000) + this.options.windowSeconds;
  }

  /** Claims a publish id; returns the earlier publish when the id was already claimed. */
  async claimPublish(channel: string, id: string, origin: string): Promise<AcceptedPublish | undefined> {
    const key = publishDedupKey(channel, id);
    try {
      await this.options.dynamo.send(
        new PutCommand({
          TableName: this.options.dedupTableName,
          Item: { [dedupTable.partitionKey]: key, origin, ts: Date.now(), [dedupTable.timeToLiveAttribute]: this.expiresAt() },
          ConditionExpression: 'attribute_not_exists(#key) OR #expires < :now',
          ExpressionAttributeNames: { '#key': dedupTable.partitionKey, '#expires': dedupTable.timeToLiveAttribute },
          ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await this.options.dynamo.send(
      new GetCommand({ TableName: this.options.dedupTableName, Key: { [dedupTable.partitionKey]: key }, ConsistentRead: true }),
    );
    return Item ? { origin: Item.origin as string, seq: Item.seq as number | undefined, ts: Item.ts as number } : { origin: 'unknown', ts: 0 };
  }

  /** Records the seq the claimed publish got, for the acks of later retries. */
  async completePublish(channel: string, id: string, seq: number): Promise<void> {
    await this.options.dynamo.send(
      new UpdateCommand({
        TableName: this.options.dedupTableName,
        Key: { [dedupTable.partitionKey]: publishDedupKey(channel, id) },
        UpdateExpression: 'SET seq = :seq',
        ExpressionAttributeValues: { ':seq': seq },
      }),
    );
  }

  /** Gives a claim back when the publish failed, so the client's retry is accepted. */
  async releasePublish(channel: string, id: string): Promise<void> {
    await this.options.dynamo.send(
      new DeleteCommand({ TableName: this.options.dedupTableName, Key: { [dedupTable.partitionKey]: publishDedupKey(channel, id) } }),
    );
  }

  /**
   * True when this region may deliver (channel, id) from `origin`: nobody claimed it yet, or
   * the claim is this same copy's (SQS redelivering it after a failed post must not lose it).
   */
  async claimDelivery(region: string, channel: string, id: string, origin: string): Promise<boolean> {
    try {
      await this.options.dynamo.send(
        new PutCommand({
          TableName: this.options.dedupTableName,
          Item: { [dedupTable.partitionKey]: deliveryDedupKey(region, channel, id), origin, [dedupTable.timeToLiveAttribute]: this.expiresAt() },
          ConditionExpression: 'attribute_not_exists(#key) OR origin = :origin',
          ExpressionAttributeNames: { '#key': dedupTable.partitionKey },
          ExpressionAttributeValues: { ':origin': origin },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
