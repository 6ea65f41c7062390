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
   * How long a pending claim (an ephemeral publish's) belongs to its attempt. Past it a retry
   * takes the claim over; the first attempt then cannot accept it (its accepting write checks
   * the owner), so taking over is always safe and the lease only bounds how long a dead attempt
   * blocks its retries.
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
 *   critical:   (free) ─ the sequencing transaction: claim + seq + history, one write → accepted{origin, seq}
 *   ephemeral:  (free) ─claim→ pending{attempt} ─SNS took it→ accepted{origin}
 *                                 │ └─ lease passed: a retry takes it over (new attempt)
 *                                 └─ release: nothing reached SNS, the id is free again
 *
 * "Free" is: no item, an item past its window, or a pending claim past its lease.
 *
 * Guarantees: at most one transaction takes a seq for an id (its claim is a put conditional on
 * the id being free, in the same transaction as the seq and the history item, so a lost race
 * takes nothing); a retry that finds the id accepted gets the first attempt's (origin, seq),
 * and the same envelope is published again, so every copy is deduplicated by (origin, seq); a
 * retry against `pending` (an ephemeral publish in flight) is told to retry (5030), never
 * "duplicate" without what was accepted.
 */
export class PublishClaims {
  constructor(private readonly options: PublishClaimOptions) {}

  /** Claims an id for `attempt` (an ephemeral publish); returns undefined when it is ours, else the claim that holds it. */
  async claim(channel: string, id: string, attempt: string): Promise<Claim | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await this.options.dynamo.send(
          new PutCommand({ TableName: this.options.dedupTableName, ...this.claimIfFree(channel, id, { state: 'pending', attempt, since: Date.now() }) }),
        );
        return undefined;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const held = await this.read(channel, id);
      // Released between our put and our read: claim again.
      if (held) return held;
    }
    throw new Error(`the claim of ${id} kept changing under three reads`);
  }

  /**
   * The claim of a critical publish, for its sequencing transaction: the id accepted as
   * (origin, seq), put only while the id is free, so the transaction that takes the seq is the
   * one that takes the id, and a transaction that loses the race takes neither.
   */
  claimItem(channel: string, id: string, accepted: { origin: string; ts: number; seq: number }): TransactionItem {
    return { Put: { TableName: this.options.dedupTableName, ...this.claimIfFree(channel, id, { state: 'accepted', ...accepted }) } };
  }

  /** The claim that holds an id, read consistently; undefined when there is none. */
  async read(channel: string, id: string): Promise<Claim | undefined> {
    const { Item } = await this.options.dynamo.send(
      new GetCommand({ TableName: this.options.dedupTableName, Key: { [dedupTable.partitionKey]: publishDedupKey(channel, id) }, ConsistentRead: true }),
    );
    return Item && toClaim(Item);
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

  /** A put of the claim `fields` that holds only while the id is free: no claim, one past its window, or a pending one past its lease. */
  private claimIfFree(channel: string, id: string, fields: Record<string, unknown>) {
    const now = Date.now();
    return {
      Item: { [dedupTable.partitionKey]: publishDedupKey(channel, id), ...fields, [dedupTable.timeToLiveAttribute]: this.expiresAt() },
      ConditionExpression: 'attribute_not_exists(#key) OR #expires < :nowSeconds OR (#state = :pending AND since < :stale)',
      ExpressionAttributeNames: { '#key': dedupTable.partitionKey, '#expires': dedupTable.timeToLiveAttribute, '#state': 'state' },
      ExpressionAttributeValues: { ':nowSeconds': Math.floor(now / 1000), ':pending': 'pending', ':stale': now - this.options.pendingLeaseMs },
    };
  }

  private acceptUpdate(attempt: string, accepted: { origin: string; ts: number }) {
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
