import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { PublishClaims } from './publish-claim';

type Step = { expect: typeof PutCommand | typeof GetCommand | typeof DeleteCommand | typeof UpdateCommand; answer: () => unknown };

/**
 * A DynamoDB client that plays one interleaving exactly: each call must be the command the
 * script expects next, and gets the scripted answer (what another attempt's writes between
 * our calls would make DynamoDB say).
 */
function scripted(steps: Step[]) {
  const calls: Array<{ name: string; input: Record<string, unknown> }> = [];
  const dynamo = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const step = steps.shift();
      if (!step) throw new Error(`unexpected ${command.constructor.name}`);
      expect(command).toBeInstanceOf(step.expect);
      calls.push({ name: command.constructor.name, input: command.input });
      return step.answer();
    },
  } as unknown as DynamoDBDocumentClient;
  return { claims: new PublishClaims({ dynamo, dedupTableName: 'dedup', windowSeconds: 3600, pendingLeaseMs: 30_000 }), calls, left: steps };
}

const conditionFailed = () => {
  throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
};
const found = (item: Record<string, unknown> | undefined) => () => ({ Item: item });

describe('the publish claim protocol, interleaving by interleaving', () => {
  it('GIVEN a free id THEN the first put claims it for this attempt', async () => {
    const { claims, calls } = scripted([{ expect: PutCommand, answer: () => ({}) }]);
    await expect(claims.claim('room:1', 'm1', 'a1')).resolves.toBeUndefined();
    expect(calls[0]!.input.Item).toMatchObject({ dedupKey: 'pub#room:1#m1', state: 'pending', attempt: 'a1' });
  });

  it("GIVEN another attempt's pending claim THEN the retry learns it is pending (answered 5030 upstream), never a duplicate without a seq", async () => {
    const { claims } = scripted([
      { expect: PutCommand, answer: conditionFailed },
      { expect: GetCommand, answer: found({ dedupKey: 'pub#room:1#m1', state: 'pending', attempt: 'a0', since: 5 }) },
    ]);
    await expect(claims.claim('room:1', 'm1', 'a1')).resolves.toEqual({ state: 'pending', attempt: 'a0', since: 5 });
  });

  it('GIVEN an accepted claim THEN the retry gets the first attempt\'s origin and seq', async () => {
    const { claims } = scripted([
      { expect: PutCommand, answer: conditionFailed },
      { expect: GetCommand, answer: found({ dedupKey: 'pub#room:1#m1', state: 'accepted', origin: 'us-east-1', ts: 9, seq: 4 }) },
    ]);
    await expect(claims.claim('room:1', 'm1', 'a1')).resolves.toEqual({ state: 'accepted', origin: 'us-east-1', ts: 9, seq: 4 });
  });

  it('GIVEN the holder releases its claim between our failed put and our read THEN we claim again and own the id, instead of answering a duplicate of unknown origin', async () => {
    const { claims, left } = scripted([
      { expect: PutCommand, answer: conditionFailed },
      { expect: GetCommand, answer: found(undefined) },
      { expect: PutCommand, answer: () => ({}) },
    ]);
    await expect(claims.claim('room:1', 'm1', 'a1')).resolves.toBeUndefined();
    expect(left).toEqual([]);
  });

  it('GIVEN the claim is released under each of three reads THEN claim gives up with an error (a retryable 5030 upstream), never a guess', async () => {
    const releasedEachTime = Array.from({ length: 3 }, () => [
      { expect: PutCommand, answer: conditionFailed },
      { expect: GetCommand, answer: found(undefined) },
    ]).flat();
    const { claims } = scripted(releasedEachTime);
    await expect(claims.claim('room:1', 'm1', 'a1')).rejects.toThrow('kept changing');
  });

  it('GIVEN a retry took the claim over THEN the first attempt\'s release deletes nothing: it is conditional on its own pending attempt', async () => {
    const { claims, calls } = scripted([{ expect: DeleteCommand, answer: conditionFailed }]);
    await expect(claims.release('room:1', 'm1', 'a0')).resolves.toBeUndefined();
    expect(calls[0]!.input).toMatchObject({
      ConditionExpression: '#state = :pending AND attempt = :attempt',
      ExpressionAttributeValues: { ':pending': 'pending', ':attempt': 'a0' },
    });
  });

  it("GIVEN an ephemeral publish's retry took the claim over THEN the first attempt's accepting write changes nothing: it holds only while that attempt owns the pending claim", async () => {
    const { claims, calls } = scripted([{ expect: UpdateCommand, answer: conditionFailed }]);
    await expect(claims.accept('room:1', 'm1', 'a0', { origin: 'us-east-1', ts: 1 })).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(calls[0]!.input).toMatchObject({
      ConditionExpression: '#state = :pending AND attempt = :attempt',
      ExpressionAttributeValues: expect.objectContaining({ ':attempt': 'a0', ':accepted': 'accepted' }),
    });
  });

  it('a critical claim is a put in the sequencing transaction that holds only while the id is free: no claim, one past its window, or a pending one past its lease', () => {
    const { claims } = scripted([]);
    const before = Date.now();
    const { Put } = claims.claimItem('room:1', 'm1', { origin: 'us-east-1', ts: 1, seq: 2 });
    expect(Put).toMatchObject({
      TableName: 'dedup',
      Item: { dedupKey: 'pub#room:1#m1', state: 'accepted', origin: 'us-east-1', ts: 1, seq: 2 },
      ConditionExpression: 'attribute_not_exists(#key) OR #expires < :nowSeconds OR (#state = :pending AND since < :stale)',
    });
    // The lease is 30 s in this script: a pending claim older than that is free.
    expect(Put!.ExpressionAttributeValues![':stale']).toBeGreaterThanOrEqual(before - 30_000);
    expect(Put!.ExpressionAttributeValues![':stale']).toBeLessThanOrEqual(Date.now() - 30_000);
  });
});
