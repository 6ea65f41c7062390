import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { claimsToContext } from './auth';
import { connectionsClient, dynamoClient, snsClient } from './aws-clients';
import { createMessageRouterHandler } from './handlers';
import { REQUEST_TIMEOUT_MS, runtimeFromEnv } from './runtime';
import { recordingLog, recordingPorts } from './testing';

/** A TCP server that takes connections and never answers: a frozen DynamoDB. */
async function frozenServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: a DynamoDB that is down. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function routerAgainst(dynamodbEndpoint: string) {
  const runtime = runtimeFromEnv(
    {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      CONNECTIONS_TABLE: 'c',
      SUBSCRIPTIONS_TABLE: 's',
      PRESENCE_TABLE: 'p',
      SEQUENCES_TABLE: 'q',
      HISTORY_TABLE: 'h',
      DEDUP_TABLE: 'd',
      REGIONS: 'us-east-1,eu-west-1',
      TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:relaymesh-fanout',
      CONNECTIONS_ENDPOINT: 'http://127.0.0.1:1/live',
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
      AWS_ENDPOINT_URL_SNS: 'http://127.0.0.1:1',
    },
    { dynamo: dynamoClient, sns: snsClient, connections: connectionsClient },
    recordingPorts(),
  );
  const route = createMessageRouterHandler(runtime);
  const publish = async () => {
    const started = Date.now();
    const result = await route({
      body: JSON.stringify({ action: 'publish', channel: 'room:1', data: 'x', id: 'm-1', ref: 'r1' }),
      requestContext: { connectionId: 'c-1', authorizer: claimsToContext({ sub: 'u', subscribe: ['*'], publish: ['*'] }) },
    });
    return { answer: JSON.parse((result as { body: string }).body) as Record<string, unknown>, elapsedMs: Date.now() - started };
  };
  return { publish, log: runtime.log as ReturnType<typeof recordingLog>, destroy: () => runtime.dynamo.destroy() };
}

describe('the message router when DynamoDB is down or frozen', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('answers a publish 5030 (retry), not 5000, when DynamoDB refuses connections, logging the failure at error and the invocation at debug', async () => {
    const router = routerAgainst(await closedPort());
    cleanups.push(router.destroy);
    const { answer } = await router.publish();
    expect(answer).toMatchObject({ type: 'error', code: 5030, retryable: true, ref: 'r1' });
    expect(router.log.lines).toEqual([
      { level: 'error', message: 'router failure', fields: { action: 'publish', error: expect.objectContaining({ code: 'ECONNREFUSED' }) } },
      { level: 'debug', message: 'invocation', fields: { connectionId: 'c-1', durationMs: expect.any(Number) } },
    ]);
  });

  it('answers a publish 5030 within the SDK attempts × the 3 s request timeout when DynamoDB accepts and never answers, long before API Gateway\'s 29 s', async () => {
    const frozen = await frozenServer();
    cleanups.push(frozen.close);
    const router = routerAgainst(frozen.endpoint);
    cleanups.push(router.destroy);
    const { answer, elapsedMs } = await router.publish();
    expect(answer).toMatchObject({ type: 'error', code: 5030, retryable: true, ref: 'r1' });
    expect(elapsedMs).toBeLessThan(29_000);
    expect(elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
  }, 40_000);
});
