import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProtocolError } from './errors';
import { connectionsTable } from './tables';

export interface AdmissionOptions {
  dynamo: DynamoDBDocumentClient;
  region: string;
  connectionsTableName: string;
  /** Frames per second one connection may send on average (pings excepted). */
  requestsPerSecond: number;
  /** Frames one connection may send at once before the rate applies. */
  requestBurst: number;
  /** Replays (subscribes with `since`) running at once in this region. */
  maxConcurrentReplays: number;
  /** How long a replay slot is held at most if its holder dies (the replay's own lease). */
  replaySlotLeaseMs: number;
}

/** The attribute of the connection item holding its bucket's theoretical arrival time (GCRA). */
const ARRIVAL = 'rateArrivalAt';
/** Slots tried before a replay is refused. */
const SLOT_TRIES = 3;

/**
 * Admission control, stored where Lambda's many sandboxes share it.
 *
 * The per-connection rate limit is a token bucket in its GCRA form: one number per
 * connection, the time at which the bucket would be full again, moved by conditional
 * writes, so concurrent invocations for one connection can never admit more than
 * `requestBurst` at once or more than `requestsPerSecond` on average.
 *
 * Concurrent replays per region are capped by lease slots: a replay takes one of
 * `maxConcurrentReplays` slot items and gives it back when done; a slot whose holder died is
 * free again when its lease ends.
 */
export class Admission {
  constructor(private readonly options: AdmissionOptions) {}

  private get interval(): number {
    return 1000 / this.options.requestsPerSecond;
  }

  /** Admits one frame of `connectionId` or throws RATE_LIMITED with the wait in ms. */
  async admitRequest(connectionId: string): Promise<void> {
    const now = Date.now();
    const tolerance = this.interval * (this.options.requestBurst - 1);
    const key = { [connectionsTable.partitionKey]: connectionId };
    const names = { '#id': connectionsTable.partitionKey, '#at': ARRIVAL };
    // The bucket is full (idle connection): the next arrival time starts from now.
    let old: Record<string, unknown> | undefined;
    try {
      await this.options.dynamo.send(
        new UpdateCommand({
          TableName: this.options.connectionsTableName,
          Key: key,
          UpdateExpression: 'SET #at = :next',
          ConditionExpression: 'attribute_exists(#id) AND (attribute_not_exists(#at) OR #at < :now)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':now': now, ':next': now + this.interval },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      old = error.Item as Record<string, unknown> | undefined;
    }
    if (!old) throw new ProtocolError('CONNECTION_UNKNOWN');
    const arrivalAt = Number(old[ARRIVAL] ?? 0);
    if (arrivalAt - now > tolerance) throw rateLimited(arrivalAt - tolerance - now);
    // A busy bucket: take one more token if the bucket still has it when the write lands.
    try {
      await this.options.dynamo.send(
        new UpdateCommand({
          TableName: this.options.connectionsTableName,
          Key: key,
          UpdateExpression: 'SET #at = #at + :interval',
          ConditionExpression: 'attribute_exists(#id) AND #at >= :now AND #at <= :latest',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':now': now, ':interval': this.interval, ':latest': now + tolerance },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Another invocation of this connection took the last token meanwhile.
      throw rateLimited(this.interval);
    }
  }

  /** Takes a replay slot of this region; returns its release, or throws REPLAYS_BUSY. */
  async acquireReplaySlot(owner: string): Promise<() => Promise<void>> {
    const now = Date.now();
    const { maxConcurrentReplays } = this.options;
    // A few consecutive slots from a random one: cheap when most are free, approximate when
    // nearly all are taken (the refusal is retryable).
    const first = Math.floor(Math.random() * maxConcurrentReplays);
    for (let tries = 0; tries < Math.min(SLOT_TRIES, maxConcurrentReplays); tries++) {
      const key = { [connectionsTable.partitionKey]: `replay-slot#${this.options.region}#${(first + tries) % maxConcurrentReplays}` };
      try {
        await this.options.dynamo.send(
          new PutCommand({
            TableName: this.options.connectionsTableName,
            Item: { ...key, owner, until: now + this.options.replaySlotLeaseMs, [connectionsTable.timeToLiveAttribute]: Math.ceil((now + this.options.replaySlotLeaseMs) / 1000) + 60 },
            ConditionExpression: 'attribute_not_exists(#id) OR #until < :now',
            ExpressionAttributeNames: { '#id': connectionsTable.partitionKey, '#until': 'until' },
            ExpressionAttributeValues: { ':now': now },
          }),
        );
        return async () => {
          await this.options.dynamo
            .send(
              new DeleteCommand({
                TableName: this.options.connectionsTableName,
                Key: key,
                ConditionExpression: '#owner = :owner',
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: { ':owner': owner },
              }),
            )
            .catch((error: unknown) => {
              if (!(error instanceof ConditionalCheckFailedException)) throw error;
            });
        };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    throw new ProtocolError('REPLAYS_BUSY', `at most ${this.options.maxConcurrentReplays} run at once in this region; retry in a second`, undefined, 1000);
  }
}

function rateLimited(waitMs: number): ProtocolError {
  const retryAfterMs = Math.max(1, Math.ceil(waitMs));
  return new ProtocolError('RATE_LIMITED', `retry after ${retryAfterMs} ms`, undefined, retryAfterMs);
}
