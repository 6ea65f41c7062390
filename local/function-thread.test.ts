import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_ENV } from '../lambdas/core/testing';
import { FaultInjector } from './faults';
import { buildFunctionBundles, type FunctionBundles } from './function-bundles';
import type { FunctionConfig } from './function-protocol';
import { startFunctionThread, type FunctionThread } from './function-thread';

const FIXTURES = { module: fileURLToPath(new URL('./function-thread.fixtures.ts', import.meta.url)), names: ['counter', 'drainReader', 'reader', 'stuck', 'crasher', 'broken'] as const };
type Fixture = (typeof FIXTURES.names)[number];

const REGION = 'eu-west-1';
/** A valid Lambda environment whose endpoints nothing listens on: a call that got out would fail to connect. */
const ENV = {
  AWS_REGION: REGION,
  ...TABLE_ENV,
  REGIONS: REGION,
  TOPIC_ARN: `arn:aws:sns:${REGION}:000000000000:fanout`,
  CONNECTIONS_ENDPOINT: 'http://127.0.0.1:9/live',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

let bundles: FunctionBundles<Fixture>;
const started: FunctionThread<never>[] = [];

beforeAll(async () => {
  bundles = await buildFunctionBundles(FIXTURES);
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((fn) => fn.stop()));
});
afterAll(async () => {
  await bundles?.remove();
});

async function start<E = unknown, R = unknown>(
  fixture: Fixture,
  config: Partial<FunctionConfig> = {},
  onCrash: (error: Error) => void = (error) => expect.fail(`unexpected crash: ${error.message}`),
): Promise<FunctionThread<E, R>> {
  const fn = await startFunctionThread<E, R>({
    file: bundles.file(fixture),
    config: {
      serviceName: 'relaymesh',
      region: REGION,
      name: fixture,
      memoryMb: 128,
      logLevel: 'ERROR',
      killable: false,
      env: ENV,
      faultSeed: 1,
      drainSwitch: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
      ...config,
    },
    onCrash,
  });
  started.push(fn);
  return fn;
}

describe('a function thread', () => {
  it('answers each invocation with what its handler returned, and fails it with the name and message the handler threw', async () => {
    const fn = await start<{ fail?: string }, { calls: number; region: string }>('counter');
    await expect(fn.invoke({})).resolves.toEqual({ calls: 1, region: REGION });
    const failure = await fn.invoke({ fail: 'out of range' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ name: 'RangeError', message: 'out of range' });
    expect((failure as Error).stack).toContain('RangeError: out of range');
    // Every call is counted, the failed one too, under the function's region.
    expect(fn.metrics()).toEqual({ [`${REGION}/counter`]: { calls: 2 } });
  });

  it('runs each function with a module instance of its own: two functions of the same code count apart', async () => {
    const [first, second] = await Promise.all([start<object, { calls: number }>('counter'), start<object, { calls: number }>('counter')]);
    for (let i = 0; i < 3; i += 1) await first.invoke({});
    await expect(second.invoke({})).resolves.toMatchObject({ calls: 1 });
    await expect(first.invoke({})).resolves.toMatchObject({ calls: 4 });
  });

  it('reads the drain switch the main thread sets', async () => {
    const drainSwitch = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    const fn = await start<object, boolean>('drainReader', { drainSwitch });
    await expect(fn.invoke({})).resolves.toBe(false);
    Atomics.store(new Int32Array(drainSwitch), 0, 1);
    await expect(fn.invoke({})).resolves.toBe(true);
  });

  it("injects the cloud's faults into the function's AWS calls, set while it runs, and reports them to the injector", async () => {
    const faults = new FaultInjector({}, 7);
    const fn = await start('reader', { killable: true });
    faults.attach(fn);
    faults.set({ killRate: 1, killAfterCalls: 0 });
    // Killed at its first call, before anything is sent: nothing listens at the endpoint, so a sent call would fail otherwise.
    await expect(fn.invoke({})).rejects.toMatchObject({ name: 'InvocationKilledError' });
    expect(faults.stats().invocationsKilled).toBe(1);
    faults.set({ killRate: 0 });
    await expect(fn.invoke({})).rejects.toThrow(/ECONNREFUSED/);
    expect(faults.stats().invocationsKilled).toBe(1);
  });

  it('fails to start with the error of its init', async () => {
    await expect(start('broken')).rejects.toThrow('Function broken (eu-west-1) failed to start: Relaymesh Lambda environment is invalid: TOPIC_ARN: missing');
  });

  it('fails the invocations in flight and every later one when its code crashes the sandbox, and says so', async () => {
    const crashes: Error[] = [];
    const fn = await start('crasher', {}, (error) => crashes.push(error));
    await expect(fn.invoke({})).rejects.toThrow('Function crasher (eu-west-1) crashed: uncaught in a timer');
    await expect(fn.invoke({})).rejects.toThrow(/crashed/);
    expect(crashes.map((error) => error.message)).toEqual(['Function crasher (eu-west-1) crashed: uncaught in a timer']);
  });

  it('stop() ends the thread: an invocation in flight fails, and so does every later one', async () => {
    const fn = await start('stuck');
    const inFlight = expect(fn.invoke({})).rejects.toThrow('Function stuck (eu-west-1) is stopped');
    await fn.stop();
    await inFlight;
    await expect(fn.invoke({})).rejects.toThrow(/is stopped/);
  });
});
