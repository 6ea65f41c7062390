import { PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionsTable } from '../lambdas/core/tables';

/**
 * The baseline of `npm run bench -- --compare-sample`: the fan-out users would otherwise
 * copy, in the style of the `sendmessage` handler of aws-samples/simple-websockets-chat-app
 * (written here from its description, not copied). One invocation per message, whose event
 * body is `{"action":"sendmessage","data":"<text to send>"}`:
 * - one Scan of the connections table, ONE page only, as the sample does: past the first
 *   1 MB page, connections are silently skipped (`truncated` says when that happened);
 * - one Promise.all of PostToConnection with the same payload to every connection found,
 *   unbounded;
 * - a 410 (GoneException) deletes the connection's item; any other failure fails the whole
 *   invocation (the sample answers 500), while the posts already started carry on.
 *
 * Two differences, both in the baseline's favour or neutral, so the comparison is not rigged:
 * our connections table is a global table holding every region's connections, so the Scan
 * filters on this region (it still reads, and is charged for, every item: `itemsRead` is the
 * Scan's ScannedCount); and it reuses the caller's SDK clients where the sample builds a
 * management API client per invocation (fanout-process.ts builds that one as the sample does,
 * with the SDK's default HTTP options).
 */
export interface BaselineFanoutDeps {
  dynamo: DynamoDBDocumentClient;
  connections: ApiGatewayManagementApiClient;
  connectionsTableName: string;
  region: string;
}

export interface BaselineInvocation {
  /** Items the Scan read (its ScannedCount). */
  itemsRead: number;
  /** PostToConnection calls that succeeded. */
  posted: number;
  gone: number;
  /** Whether the Scan had more pages, whose connections got nothing. */
  truncated: boolean;
  /** The first non-410 failure, which failed the invocation; undefined when it succeeded. */
  error?: string;
}

export function baselineFanout(deps: BaselineFanoutDeps): (eventBody: string) => Promise<BaselineInvocation> {
  const { dynamo, connections, connectionsTableName, region } = deps;
  return async (eventBody) => {
    const payload = (JSON.parse(eventBody) as { data: string }).data;
    const failed = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    let page;
    try {
      page = await dynamo.send(
        new ScanCommand({
          TableName: connectionsTableName,
          ProjectionExpression: '#id',
          FilterExpression: '#region = :region',
          ExpressionAttributeNames: { '#id': connectionsTable.partitionKey, '#region': 'region' },
          ExpressionAttributeValues: { ':region': region },
        }),
      );
    } catch (error) {
      // The sample answers 500 and posts nothing: one failed invocation, not the end of the run.
      return { itemsRead: 0, posted: 0, gone: 0, truncated: false, error: failed(error) };
    }
    const result: BaselineInvocation = { itemsRead: page.ScannedCount ?? 0, posted: 0, gone: 0, truncated: page.LastEvaluatedKey !== undefined };
    const posts = (page.Items ?? []).map(async (item) => {
      const connectionId = item[connectionsTable.partitionKey] as string;
      try {
        await connections.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: payload }));
        result.posted++;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 410) throw error;
        result.gone++;
        await dynamo.send(new DeleteCommand({ TableName: connectionsTableName, Key: { [connectionsTable.partitionKey]: connectionId } }));
      }
    });
    try {
      await Promise.all(posts);
    } catch (error) {
      result.error = failed(error);
    }
    return result;
  };
}
