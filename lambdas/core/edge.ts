import { STATUS_CODES } from 'node:http';
import { GetTopicAttributesCommand, type SNSClient } from '@aws-sdk/client-sns';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ALBEvent, ALBResult } from 'aws-lambda';
import { TokenRejected, verifyToken, type TokenPolicy } from './auth';
import { ProtocolError } from './errors';
import { PublishFrameSchema, errorFrame, publishDataProblem } from './protocol';
import { publishEvent, type PublisherOptions } from './publisher';
import { connectionsTable } from './tables';

export interface EdgeDeps {
  region: string;
  websocketUrl: string;
  dynamo: DynamoDBDocumentClient;
  connectionsTableName: string;
  sns: SNSClient;
  publisher: PublisherOptions;
  secret: () => Promise<string>;
  tokenPolicy: TokenPolicy;
  /** The operator's drain switch: when true, /health fails on purpose so traffic moves away. */
  isDrained: () => Promise<boolean>;
}

/** HTTP publish body: the WebSocket publish frame without `action` and `ref`. */
const HttpPublishSchema = PublishFrameSchema.omit({ action: true, ref: true });

/**
 * The regional HTTP edge behind Global Accelerator (an ALB Lambda target on AWS). Global
 * Accelerator cannot front API Gateway WebSocket APIs, so clients ask the edge where to
 * connect: GA has already picked the nearest healthy region, so the answer is this region.
 */
export async function handleEdgeRequest(deps: EdgeDeps, event: ALBEvent): Promise<ALBResult> {
  const route = `${event.httpMethod} ${event.path}`;
  try {
    switch (route) {
      case 'GET /health':
        return await health(deps);
      case 'GET /v1/connect':
        return json(200, { region: deps.region, websocketUrl: deps.websocketUrl });
      case 'POST /v1/publish':
        return await httpPublish(deps, event);
      default:
        return ['/health', '/v1/connect', '/v1/publish'].includes(event.path)
          ? json(405, { message: `${event.httpMethod} is not allowed on ${event.path}` })
          : json(404, { message: `No route for ${route}` });
    }
  } catch (error) {
    console.error(JSON.stringify({ msg: 'edge failure', route, error: String(error) }));
    return json(500, errorFrame(new ProtocolError('INTERNAL')));
  }
}

/** Deep health: the region is healthy only if its table and topic answer and it is not drained. */
async function health(deps: EdgeDeps): Promise<ALBResult> {
  const checks = await Promise.allSettled([
    deps.dynamo.send(new GetCommand({ TableName: deps.connectionsTableName, Key: { [connectionsTable.partitionKey]: 'health-check' } })),
    deps.sns.send(new GetTopicAttributesCommand({ TopicArn: deps.publisher.topicArn })),
    deps.isDrained(),
  ]);
  const [dynamodb, sns, drained] = checks;
  const status = {
    region: deps.region,
    dynamodb: dynamodb.status === 'fulfilled' ? 'ok' : 'failing',
    sns: sns.status === 'fulfilled' ? 'ok' : 'failing',
    drained: drained.status === 'fulfilled' ? drained.value : 'unknown',
  };
  const healthy = status.dynamodb === 'ok' && status.sns === 'ok' && status.drained === false;
  return json(healthy ? 200 : 503, { status: healthy ? 'ok' : 'unhealthy', ...status });
}

async function httpPublish(deps: EdgeDeps, event: ALBEvent): Promise<ALBResult> {
  const authorization = event.headers?.authorization ?? event.headers?.Authorization ?? '';
  const token = /^Bearer (.+)$/i.exec(authorization)?.[1];
  if (!token) return json(401, errorFrame(new ProtocolError('UNAUTHORIZED', 'send Authorization: Bearer <token>')));
  let claims;
  try {
    claims = await verifyToken(token, await deps.secret(), deps.tokenPolicy);
  } catch (error) {
    if (error instanceof TokenRejected) return json(401, errorFrame(new ProtocolError('UNAUTHORIZED', error.message)));
    throw error;
  }
  const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body ?? '';
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    return json(400, errorFrame(new ProtocolError('INVALID_JSON')));
  }
  const problem = publishDataProblem(body, (input as { data?: unknown } | null)?.data);
  if (problem) return json(400, errorFrame(new ProtocolError('INVALID_DATA', problem)));
  const frame = HttpPublishSchema.safeParse(input);
  if (!frame.success) {
    const detail = frame.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    return json(400, errorFrame(new ProtocolError('INVALID_FRAME', detail)));
  }
  try {
    const { envelope, duplicate } = await publishEvent(deps.publisher, claims, frame.data);
    const { id, channel, origin, ts, seq } = envelope;
    return json(duplicate ? 200 : 202, { id, channel, origin, ts, ...(seq !== undefined && { seq }), ...(duplicate && { duplicate }) });
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    const status = { FORBIDDEN_PUBLISH: 403, DATA_TOO_LARGE: 413, UNAVAILABLE: 503 }[error.kind as string] ?? 400;
    return json(status, errorFrame(error));
  }
}

const json = (statusCode: number, body: unknown): ALBResult => ({
  statusCode,
  statusDescription: `${statusCode} ${STATUS_CODES[statusCode]}`,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  isBase64Encoded: false,
  body: JSON.stringify(body),
});
