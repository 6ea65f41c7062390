import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { jsonLinesWritten } from '../lambdas/core/testing';
import { currentInvocation, localFunction } from './lambda-function';

describe('localFunction', () => {
  it('gives each of two invocations running at once its own request id on every line it logs, with the function name, region and service', async () => {
    const fn = localFunction({ serviceName: 'relaymesh', region: 'eu-west-1', name: 'connect', memoryMb: 256, logLevel: 'INFO' });
    const handler = fn.invoke(async (connectionId: string) => {
      fn.log.info('registering', { connectionId });
      await sleep(5);
      fn.log.warn('registered late', { connectionId });
    });
    const lines = await jsonLinesWritten(() => Promise.all([handler('c-1'), handler('c-2')]));
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toMatchObject({ service: 'relaymesh', region: 'eu-west-1', function_name: 'connect', function_memory_size: '256' });
    const requestIdOf = (connectionId: string) => [...new Set(lines.filter((line) => line.connectionId === connectionId).map((line) => line.function_request_id))];
    expect(requestIdOf('c-1')).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    expect(requestIdOf('c-2')).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    expect(requestIdOf('c-1')).not.toEqual(requestIdOf('c-2'));
  });

  it('writes nothing below its level: at WARN, neither debug nor info lines', async () => {
    const fn = localFunction({ serviceName: 'relaymesh', region: 'us-east-1', name: 'delivery-critical', memoryMb: 1088, logLevel: 'WARN' });
    const lines = await jsonLinesWritten(() =>
      fn.invoke(async () => {
        fn.log.debug('batch delivered');
        fn.log.info('note');
        fn.log.error('invalid envelope');
      })(undefined),
    );
    expect(lines.map((line) => [line.level, line.message, line.function_name])).toEqual([['ERROR', 'invalid envelope', 'delivery-critical']]);
  });

  it('fails an invocation killed while it ran with the kill, whatever its handler returned after, as Lambda reports a timeout', async () => {
    const fn = localFunction({ serviceName: 'relaymesh', region: 'us-east-1', name: 'delivery-critical', memoryMb: 1088, logLevel: 'WARN', killable: true });
    const timeout = new Error('Task timed out');
    const killedThenSucceeds = fn.invoke(async () => {
      expect(currentInvocation()?.killable).toBe(true);
      currentInvocation()!.kill(timeout);
      return { batchItemFailures: [] };
    });
    await expect(killedThenSucceeds(undefined)).rejects.toBe(timeout);
    // Each invocation is a new one.
    await expect(fn.invoke(async () => currentInvocation()?.killedBy)(undefined)).resolves.toBeUndefined();
    expect(currentInvocation()).toBeUndefined();
  });
});
