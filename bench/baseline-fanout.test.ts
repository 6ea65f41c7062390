import { PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { baselineFanout } from './baseline-fanout';

/** A connections table of one Scan page (plus a LastEvaluatedKey when `more`), and an @connections API answering per connection. */
function fakeCloud(options: { connectionIds: string[]; more?: boolean; answers?: Record<string, number> }) {
  const calls = { scans: [] as ScanCommand[], posts: [] as Array<{ connectionId: string; data: unknown }>, deletes: [] as string[] };
  const dynamo = {
    send: async (command: unknown) => {
      if (command instanceof ScanCommand) {
        calls.scans.push(command);
        return { Items: options.connectionIds.map((connectionId) => ({ connectionId })), ScannedCount: options.connectionIds.length + 2, ...(options.more && { LastEvaluatedKey: { connectionId: 'z' } }) };
      }
      if (command instanceof DeleteCommand) return void calls.deletes.push(command.input.Key!.connectionId as string);
      throw new Error(`unexpected command ${String(command)}`);
    },
  } as unknown as DynamoDBDocumentClient;
  const connections = {
    send: async (command: PostToConnectionCommand) => {
      const connectionId = command.input.ConnectionId!;
      calls.posts.push({ connectionId, data: command.input.Data });
      const status = options.answers?.[connectionId] ?? 200;
      if (status !== 200) throw Object.assign(new Error(`HTTP ${status}`), { name: status === 410 ? 'GoneException' : 'InternalServerErrorException', $metadata: { httpStatusCode: status } });
      return {};
    },
  } as unknown as ApiGatewayManagementApiClient;
  return { calls, fanout: baselineFanout({ dynamo, connections, connectionsTableName: 'app-connections', region: 'us-east-1' }) };
}

const body = (data: string) => JSON.stringify({ action: 'sendmessage', data });

describe('baselineFanout (the sample-style fan-out of --compare-sample)', () => {
  it("posts the event's data, unchanged, to every connection one Scan of this region's connections found, and counts the items the Scan read", async () => {
    const { calls, fanout } = fakeCloud({ connectionIds: ['a', 'b', 'c'] });
    const result = await fanout(body('{"type":"message","seq":1}'));
    expect(calls.scans).toHaveLength(1);
    expect(calls.scans[0]!.input).toMatchObject({ TableName: 'app-connections', FilterExpression: '#region = :region', ExpressionAttributeValues: { ':region': 'us-east-1' } });
    expect(calls.posts).toEqual(['a', 'b', 'c'].map((connectionId) => ({ connectionId, data: '{"type":"message","seq":1}' })));
    expect(result).toEqual({ itemsRead: 5, posted: 3, gone: 0, truncated: false });
  });

  it('GIVEN a connection answers 410 THEN its item is deleted and the others still get the message', async () => {
    const { calls, fanout } = fakeCloud({ connectionIds: ['a', 'gone', 'c'], answers: { gone: 410 } });
    const result = await fanout(body('x'));
    expect(calls.deletes).toEqual(['gone']);
    expect(result).toMatchObject({ posted: 2, gone: 1 });
    expect(result.error).toBeUndefined();
  });

  it('GIVEN the Scan has more pages THEN only the first is posted to, as in the sample, and the invocation says it was truncated', async () => {
    const { calls, fanout } = fakeCloud({ connectionIds: ['a'], more: true });
    const result = await fanout(body('x'));
    expect(calls.scans).toHaveLength(1);
    expect(result).toMatchObject({ posted: 1, truncated: true });
  });

  it('GIVEN a post fails with anything but 410 THEN the invocation fails with that error, as the sample answers 500', async () => {
    const { fanout } = fakeCloud({ connectionIds: ['a', 'broken'], answers: { broken: 500 } });
    const result = await fanout(body('x'));
    expect(result.error).toBe('InternalServerErrorException: HTTP 500');
  });
});
