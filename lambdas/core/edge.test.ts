import type { ALBEvent, ALBResult, APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { edgeAdapter, type EdgeDeps, handleEdgeRequest, HEALTH_DEPENDENCY_TIMEOUT_MS, PLAIN_HTTP_TOKEN_REFUSED } from './edge';

const albEvent = (method: string, path: string, headers: Record<string, string>, query: Record<string, string> = {}): ALBEvent => ({
  requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/edge/1' } },
  httpMethod: method,
  path,
  queryStringParameters: query,
  headers,
  body: '{"channel":"room:1","data":1}',
  isBase64Encoded: false,
});

/** Dependencies whose secret is watched: a refused request must never get as far as reading it. */
function depsWithSecret() {
  const secret = vi.fn(async () => 'a-signing-key-of-at-least-thirty-two-characters');
  const deps = { region: 'us-east-1', websocketUrl: 'wss://ws.example', secret, tokenPolicy: { maxLifetimeSeconds: 86_400, clockToleranceSeconds: 30 } } as unknown as EdgeDeps;
  return { deps, secret };
}

describe('handleEdgeRequest over plain HTTP', () => {
  it.each([
    ['POST', '/v1/publish', { 'x-forwarded-proto': 'http', authorization: 'Bearer abc' }, {}],
    ['GET', '/v1/connect', { 'X-Forwarded-Proto': 'http', Authorization: 'Bearer abc' }, {}],
    ['GET', '/health', { 'x-forwarded-proto': 'http' }, { token: 'abc' }],
  ])('refuses %s %s carrying a token (%j %j) with 403 and code 4010, before reading the signing key', async (method, path, headers, query) => {
    const { deps, secret } = depsWithSecret();
    const result = await handleEdgeRequest(deps, albEvent(method, path, headers, query));
    expect(result.statusCode).toBe(403);
    expect(JSON.parse(result.body!)).toMatchObject({ type: 'error', code: 4010, retryable: false, message: expect.stringContaining(PLAIN_HTTP_TOKEN_REFUSED) });
    expect(secret).not.toHaveBeenCalled();
  });

  it('still answers /v1/connect over plain HTTP when no token comes with it', async () => {
    const { deps } = depsWithSecret();
    const result = await handleEdgeRequest(deps, albEvent('GET', '/v1/connect', { 'x-forwarded-proto': 'http' }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body!)).toEqual({ region: 'us-east-1', websocketUrl: 'wss://ws.example' });
  });

  it('lets a browser page of any origin read /v1/connect (CORS), where the SDK asks which region to connect to', async () => {
    const { deps } = depsWithSecret();
    const result = await handleEdgeRequest(deps, albEvent('GET', '/v1/connect', { origin: 'http://app.example' }));
    expect(result.headers).toMatchObject({ 'access-control-allow-origin': '*' });
  });

  it('checks a token that came over HTTPS', async () => {
    const { deps, secret } = depsWithSecret();
    const result = await handleEdgeRequest(deps, albEvent('POST', '/v1/publish', { 'x-forwarded-proto': 'https', authorization: 'Bearer not-a-jwt' }));
    expect(result.statusCode).toBe(401);
    expect(secret).toHaveBeenCalled();
  });
});

describe('edgeAdapter', () => {
  const answer = (body: unknown): ALBResult => ({
    statusCode: 200,
    statusDescription: '200 OK',
    headers: { 'content-type': 'application/json' },
    isBase64Encoded: false,
    body: JSON.stringify(body),
  });

  it('turns an HTTP API (payload 2.0) request into an ALB event marked HTTPS, and the answer back, naming the publish URL', async () => {
    const inner = vi.fn(async (_event: ALBEvent) => answer({ region: 'eu-west-1', websocketUrl: 'wss://x' }));
    const httpApiEvent = {
      version: '2.0',
      routeKey: 'GET /v1/connect',
      rawPath: '/v1/connect',
      rawQueryString: 'a=1',
      headers: { host: 'abc.execute-api.eu-west-1.amazonaws.com', authorization: 'Bearer t' },
      queryStringParameters: { a: '1' },
      requestContext: { http: { method: 'GET', path: '/v1/connect', protocol: 'HTTP/1.1', sourceIp: '1.2.3.4', userAgent: 'x' } },
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    const result = await edgeAdapter(inner, { publishUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/v1/publish' })(httpApiEvent);
    expect(inner.mock.calls[0]![0]).toMatchObject({
      httpMethod: 'GET',
      path: '/v1/connect',
      queryStringParameters: { a: '1' },
      headers: { 'x-forwarded-proto': 'https', authorization: 'Bearer t' },
    });
    expect(result).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      isBase64Encoded: false,
      body: JSON.stringify({ region: 'eu-west-1', websocketUrl: 'wss://x', publishUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/v1/publish' }),
    });
  });

  it('passes ALB events through as they are, and leaves other answers alone', async () => {
    const inner = vi.fn(async (event: ALBEvent) => (event.path === '/health' ? answer({ status: 'ok' }) : answer({ region: 'us-east-1' })));
    const adapter = edgeAdapter(inner, { publishUrl: 'https://p/v1/publish' });
    const health = albEvent('GET', '/health', { 'x-forwarded-proto': 'http' });
    expect(await adapter(health)).toEqual(answer({ status: 'ok' }));
    expect(inner).toHaveBeenCalledWith(health);
    expect(JSON.parse((await adapter(albEvent('GET', '/v1/connect', {}))).body!)).toEqual({ region: 'us-east-1', publishUrl: 'https://p/v1/publish' });
  });
});

describe('deep health', () => {
  it('fails within the dependency timeout when DynamoDB never answers (a frozen table drains the region)', async () => {
    const never = new Promise<never>(() => undefined);
    const deps = {
      region: 'us-east-1',
      connectionsTableName: 't',
      dynamo: { send: () => never },
      sns: { send: async () => ({}) },
      publisher: { topicArn: 'arn:aws:sns:us-east-1:123456789012:t' },
      isDrained: async () => false,
    } as unknown as EdgeDeps;
    const started = Date.now();
    const result = await handleEdgeRequest(deps, albEvent('GET', '/health', { 'x-forwarded-proto': 'https' }));
    expect(Date.now() - started).toBeLessThan(HEALTH_DEPENDENCY_TIMEOUT_MS + 3000);
    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body!)).toMatchObject({ status: 'unhealthy', dynamodb: 'failing', sns: 'ok', drained: false });
  });
});
