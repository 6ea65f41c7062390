import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TransactionItem } from './history';
import { dedupTable, publishDedupKey } from './tables';

export interface PublishClaimOptions {
  dynamo: DynamoDBDocumentClient;
  dedupTableName: string;
  /** How long an accepted id is remembered: a retry within it is answered, not published again. */
  windowSeconds: number;
  /**
   * How long a pending claim belongs to its attempt. Past it a retry takes the claim over;
   * the first attempt then cannot complete (its transaction checks the owner), so taking over
   * is always safe and the lease only bounds how long a dead attempt blocks its retries.
   */
  pendingLeaseMs: number;
}

/** What a claim says when it is not this attempt's. */
export type Claim =
  | { state: 'pending'; attempt: string; since: number }
  | { state: 'accepted'; origin: string; ts: number; seq?: number };

/**
 * The publish claim protocol: the state machine of one message id, `pub#<channel>#<id>` in the
 * dedup table, written in the region that receives the publish.
 *
 *   (none) ─claim→ pending{attempt} ─sequence (one transaction with seq + history)→ accepted{origin, seq}
 *                      │ └─ lease passed: a retry takes it over (new attempt)
 *                      └─ release: nothing reached SNS, the id is free again
 *
 * Guarantees: at most one attempt sequences an id (the accepting write is conditional on
 * the owner); a retry against `pending` is told to retry (5030), never "duplicate" without
 * a seq; a retry against `accepted` gets the first attempt's (origin, seq) and the same
 * envelope is published again, so every copy is deduplicated by (origin, seq).
 */
export class PublishClaims {
  constructor(private readonly options: PublishClaimOptions) {}

  /** Claims an id for `attempt`; returns undefined when it is ours, else the claim that holds it. */
  async claim(channel: string, id: string, attempt: string): Promise<Claim | undefined> {
    const key = publishDedupKey(channel, id);
    for (let tries = 0; tries < 3; tries++) {
      const now = Date.now();
      try {
        await this.options.dynamo.send(
          new PutCommand({
            TableName: this.options.dedupTableName,
            Item: { [dedupTable.partitionKey]: key, state: 'pending', attempt, since: now, [dedupTable.timeToLiveAttribute]: this.expiresAt() },
            ConditionExpression: 'attribute_not_exists(#key) OR #expires < :nowSeconds OR (#state = :pending AND since < :stale)',
            ExpressionAttributeNames: { '#key': dedupTable.partitionKey, '#expires': dedupTable.timeToLiveAttribute, '#state': 'state' },
            ExpressionAttributeValues: { ':nowSeconds': Math.floor(now / 1000), ':pending': 'pending', ':stale': now - this.options.pendingLeaseMs },
          }),
        );
        return undefined;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const { Item } = await this.options.dynamo.send(
        new GetCommand({ TableName: this.options.dedupTableName, Key: { [dedupTable.partitionKey]: key }, ConsistentRead: true }),
      );
      // Released between our put and our read: claim again.
      if (Item) return toClaim(Item);
    }
    throw new Error(`the claim of ${id} kept changing under three reads`);
  }

  /**
   * The write that accepts the id as (origin, seq), for the sequencing transaction: it holds
   * only while `attempt` still owns the pending claim. Without an attempt (an id the server
   * generated, so nobody else can hold it) it creates the accepted claim.
   */
  acceptItem(channel: string, id: string, attempt: string | undefined, accepted: { origin: string; ts: number; seq: number }): TransactionItem {
    const key = { [dedupTable.partitionKey]: publishDedupKey(channel, id) };
    if (attempt === undefined) {
      return {
        Put: {
          TableName: this.options.dedupTableName,
          Item: { ...key, state: 'accepted', ...accepted, [dedupTable.timeToLiveAttribute]: this.expiresAt() },
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: { '#key': dedupTable.partitionKey },
        },
      };
    }
    return { Update: { TableName: this.options.dedupTableName, Key: key, ...this.acceptUpdate(attempt, accepted) } };
  }

  /** Accepts an unsequenced (ephemeral) publish after SNS took it. */
  async accept(channel: string, id: string, attempt: string, accepted: { origin: string; ts: number }): Promise<void> {
    await this.options.dynamo.send(
      new UpdateCommand({ TableName: this.options.dedupTableName, Key: { [dedupTable.partitionKey]: publishDedupKey(channel, id) }, ...this.acceptUpdate(attempt, accepted) }),
    );
  }

  /** Frees the id when nothing of this attempt reached SNS; a claim taken over or accepted is left alone. */
  async release(channel: string, id: string, attempt: string): Promise<void> {
    try {
      await this.options.dynamo.send(
        new DeleteCommand({
          TableName: this.options.dedupTableName,
          Key: { [dedupTable.partitionKey]: publishDedupKey(channel, id) },
          ConditionExpression: '#state = :pending AND attempt = :attempt',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':pending': 'pending', ':attempt': attempt },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private acceptUpdate(attempt: string, accepted: { origin: string; ts: number; seq?: number }) {
    const fields = Object.entries(accepted);
    return {
      UpdateExpression: `SET #state = :accepted, #expires = :expires, ${fields.map(([name]) => `#${name} = :${name}`).join(', ')} REMOVE attempt, since`,
      ConditionExpression: '#state = :pending AND attempt = :attempt',
      ExpressionAttributeNames: { '#state': 'state', '#expires': dedupTable.timeToLiveAttribute, ...Object.fromEntries(fields.map(([name]) => [`#${name}`, name])) },
      ExpressionAttributeValues: {
        ':accepted': 'accepted',
        ':pending': 'pending',
        ':attempt': attempt,
        ':expires': this.expiresAt(),
        ...Object.fromEntries(fields.map(([name, value]) => [`:${name}`, value])),
      },
    };
  }

  private expiresAt(): number {
    return Math.floor(Date.now() / 1000) + this.options.windowSeconds;
  }
}

function toClaim(item: Record<string, unknown>): Claim {
  if (item.state === 'accepted') {
    return { state: 'accepted', origin: item.origin as string, ts: item.ts as number, ...(typeof item.seq === 'number' && { seq: item.seq }) };
  }
  return { state: 'pending', attempt: String(item.attempt), since: Number(item.since) };
}
