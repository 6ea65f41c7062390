import { describe, expect, it } from 'vitest';
import { loggedInvocations } from './log';
import { recordingLog } from './testing';

describe('loggedInvocations', () => {
  it('logs one debug line per invocation, with its duration and what describe says of the event, and returns what the handler returned', async () => {
    const log = recordingLog();
    const handler = loggedInvocations(log, async (event: { id: string }) => `done ${event.id}`, (event) => ({ connectionId: event.id }));
    expect(await handler({ id: 'c-1' })).toBe('done c-1');
    expect(await handler({ id: 'c-2' })).toBe('done c-2');
    expect(log.lines).toEqual([
      { level: 'debug', message: 'invocation', fields: { connectionId: 'c-1', durationMs: expect.any(Number) } },
      { level: 'debug', message: 'invocation', fields: { connectionId: 'c-2', durationMs: expect.any(Number) } },
    ]);
  });

  it('logs the error of an invocation that threw, still at debug, and throws it on to whoever invoked the handler', async () => {
    const log = recordingLog();
    const failure = new Error('DynamoDB did not answer');
    const handler = loggedInvocations(log, async () => {
      throw failure;
    });
    await expect(handler({})).rejects.toBe(failure);
    expect(log.lines).toEqual([{ level: 'debug', message: 'invocation', fields: { durationMs: expect.any(Number), error: failure } }]);
  });
});
