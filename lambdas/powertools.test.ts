import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loggedInvocations } from './core/log';
import { jsonLinesWritten } from './core/testing';
import { lambdaPowertools } from './powertools';

const contextOf = (awsRequestId: string) =>
  ({
    awsRequestId,
    functionName: 'relaymesh-eu-west-1-connect',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:relaymesh-eu-west-1-connect',
    memoryLimitInMB: '256',
  }) as Context;

/** A Lambda adapter as lambdas/<name>.ts builds one, around a core handler that logs through the runtime's log. */
function adapter() {
  const powertools = lambdaPowertools();
  const { log } = powertools.runtimeOptions;
  return powertools.handler(
    loggedInvocations(log, async (connectionId: string) => {
      log.warn('post failed', { connectionId, outcome: 'throttled' });
      return 'done';
    }),
  );
}

describe('lambdaPowertools, the Lambda adapters\' logger', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('GIVEN the stack\'s environment WHEN a handler logs THEN each line is JSON with level, timestamp, service, region, function name and request id beside its fields', async () => {
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'relaymesh');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    const handler = adapter();
    const lines = await jsonLinesWritten(() => handler('c-1', contextOf('6f1c9e2a-request-1')));
    const common = {
      service: 'relaymesh',
      region: 'eu-west-1',
      function_name: 'relaymesh-eu-west-1-connect',
      function_request_id: '6f1c9e2a-request-1',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}/),
    };
    expect(lines).toEqual([
      expect.objectContaining({ ...common, level: 'WARN', message: 'post failed', connectionId: 'c-1', outcome: 'throttled' }),
      expect.objectContaining({ ...common, level: 'DEBUG', message: 'invocation', durationMs: expect.any(Number) }),
    ]);
  });

  it('GIVEN POWERTOOLS_LOG_LEVEL unset WHEN two invocations log THEN there is no debug line (INFO) and each line names its own invocation', async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const handler = adapter();
    const lines = await jsonLinesWritten(async () => {
      await handler('c-1', contextOf('request-1'));
      await handler('c-2', contextOf('request-2'));
    });
    expect(lines.map((line) => [line.level, line.connectionId, line.function_request_id, line.region])).toEqual([
      ['WARN', 'c-1', 'request-1', 'us-east-1'],
      ['WARN', 'c-2', 'request-2', 'us-east-1'],
    ]);
  });

  it('writes an Error field with its name, message and stack', async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const powertools = lambdaPowertools();
    const lines = await jsonLinesWritten(async () => powertools.runtimeOptions.log.error('edge failure', { route: 'GET /health', error: new TypeError('boom') }));
    expect(lines).toEqual([
      expect.objectContaining({ level: 'ERROR', message: 'edge failure', route: 'GET /health', error: expect.objectContaining({ name: 'TypeError', message: 'boom', stack: expect.stringContaining('TypeError: boom') }) }),
    ]);
  });
});
