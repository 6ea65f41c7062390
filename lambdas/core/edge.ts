import { STATUS_CODES } from 'node:http';
import { GetTopicAttributesCommand, type SNSClient } from '@aws-sdk/client-sns';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ALBEvent, ALBResult, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { TokenRejected, verifyToken, type TokenPolicy } from './auth';
import { ProtocolError } from './errors';
import type { Log } from './log';
import { PublishFrameSchema, errorFrame, publishDataProblem } from './protocol';
import * as z from './zod';
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
  log: Log;
}

/** HTTP publish body: the WebSocket publish frame without `action` and `ref`. */
const HttpPublishSchema = z.omit(PublishFrameSchema, { action: true, ref: true });

/**
 * The regional HTTP edge behind Global Accelerator (an ALB Lambda target on AWS). Global
 * Accelerator cannot front API Gateway WebSocket APIs, so clients ask the edge where to
 * connect: GA has already picked the nearest healthy region, so the answer is this region.
 * A request that reached the edge over plain HTTP (the ALB says so in X-Forwarded-Proto) and
 * carries a bearer token is refused whatever its route: tokens travel over TLS only.
 */
export async function handleEdgeRequest(deps: EdgeDeps, event: ALBEvent): Promise<ALBResult> {
  const route = `${event.httpMethod} ${event.path}`;
  try {
    if (header(event, 'x-forwarded-proto')?.toLowerCase() === 'http' && (header(event, 'authorization') || event.queryStringParameters?.token)) {
      return json(403, errorFrame(new ProtocolError('UNAUTHORIZED', PLAIN_HTTP_TOKEN_REFUSED)));
    }
    switch (route) {
      case 'GET /health':
        return await health(deps);
      case 'GET /v1/connect':
        // Public and credential-free: a browser SDK on any site's page may ask where to connect.
        return json(200, { region: deps.region, websocketUrl: deps.websocketUrl }, { 'access-control-allow-origin': '*' });
      case 'POST /v1/publish':
        return await httpPublish(deps, event);
      default:
        return ['/health', '/v1/connect', '/v1/publish'].includes(event.path)
          ? json(405, { message: `${event.httpMethod} is not allowed on ${event.path}` })
          : json(404, { message: `No route for ${route}` });
    }
  } catch (error) {
    deps.log.error('edge failure', { route, error });
    return json(500, errorFrame(new ProtocolError('INTERNAL')));
  }
}

/**
 * Each dependency of the deep health check must answer within this: a frozen DynamoDB must fail
 * the check (and drain the region) well before the ALB's own 3 s probe timeout gives up.
 */
export const HEALTH_DEPENDENCY_TIMEOUT_MS = 2000;

/** Settles with `work`, or rejects once `ms` have passed. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Deep health: the region is healthy only if its table and topic answer in time and it is not drained. */
async function health(deps: EdgeDeps): Promise<ALBResult> {
  const abortSignal = AbortSignal.timeout(HEALTH_DEPENDENCY_TIMEOUT_MS);
  const checks = await Promise.allSettled([
    within(deps.dynamo.send(new GetCommand({ TableName: deps.connectionsTableName, Key: { [connectionsTable.partitionKey]: 'health-check' } }), { abortSignal }), HEALTH_DEPENDENCY_TIMEOUT_MS),
    within(deps.sns.send(new GetTopicAttributesCommand({ TopicArn: deps.publisher.topicArn }), { abortSignal }), HEALTH_DEPENDENCY_TIMEOUT_MS),
    within(deps.isDrained(), HEALTH_DEPENDENCY_TIMEOUT_MS),
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

/** Why a token sent over plain HTTP is refused (the ALB's own refusal says the same). */
export const PLAIN_HTTP_TOKEN_REFUSED =
  'a bearer token was sent over plain HTTP and is refused: send it over HTTPS only (publish to the PublishUrl output, or /v1/publish of the HTTPS edge)';

/** A request header, whatever its case (ALB events keep the client's, HTTP APIs lower-case them). */
function header(event: ALBEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

async function httpPublish(deps: EdgeDeps, event: ALBEvent): Promise<ALBResult> {
  const authorization = header(event, 'authorization') ?? '';
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

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ALBResult => ({
  statusCode,
  statusDescription: `${statusCode} ${STATUS_CODES[statusCode]}`,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  isBase64Encoded: false,
  body: JSON.stringify(body),
});

export type EdgeEvent = ALBEvent | APIGatewayProxyEventV2;
export type EdgeResult = ALBResult | APIGatewayProxyStructuredResultV2;

export interface EdgeAdapterOptions {
  /** This region's HTTPS publish URL, added to /v1/connect answers so clients know where a token may go. */
  publishUrl?: string;
}

const isHttpApiEvent = (event: EdgeEvent): event is APIGatewayProxyEventV2 => 'requestContext' in event && 'http' in (event.requestContext ?? {});

/**
 * The edge function as deployed: the same handler serves the ALB (ALB events) and the regional
 * HTTPS endpoint, an API Gateway HTTP API (payload format 2.0, always TLS). HTTP API events are
 * turned into ALB events marked `x-forwarded-proto: https`, and answers back; /v1/connect answers
 * also name the HTTPS publish URL.
 */
export function edgeAdapter(handle: (event: ALBEvent) => Promise<ALBResult>, options: EdgeAdapterOptions = {}): (event: EdgeEvent) => Promise<EdgeResult> {
  return async (event) => {
    const albEvent = isHttpApiEvent(event) ? fromHttpApiEvent(event) : event;
    let result = await handle(albEvent);
    if (options.publishUrl && albEvent.httpMethod === 'GET' && albEvent.path === '/v1/connect' && result.statusCode === 200) {
      result = { ...result, body: JSON.stringify({ ...(JSON.parse(result.body ?? '{}') as object), publishUrl: options.publishUrl }) };
    }
    if (!isHttpApiEvent(event)) return result;
    const { statusCode, headers, body, isBase64Encoded } = result;
    return { statusCode, headers: headers as Record<string, string> | undefined, body, isBase64Encoded };
  };
}

function fromHttpApiEvent(event: APIGatewayProxyEventV2): ALBEvent {
  const headers: Record<string, string> = { ...(event.headers as Record<string, string>), 'x-forwarded-proto': 'https' };
  if (event.cookies?.length) headers.cookie = event.cookies.join('; ');
  return {
    requestContext: { elb: { targetGroupArn: '' } },
    httpMethod: event.requestContext.http.method,
    path: event.rawPath,
    queryStringParameters: (event.queryStringParameters ?? {}) as Record<string, string>,
    headers,
    body: event.body ?? '',
    isBase64Encoded: event.isBase64Encoded,
  };
}
