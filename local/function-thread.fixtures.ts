/**
 * Functions for function-thread.test.ts, each bundled into a sandbox of its own as the cloud's
 * functions are (function-bundles.ts). Module state here is what isolation is tested on.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoClient } from '../lambdas/core/aws-clients';
import { count, runtimeFromEnv } from '../lambdas/core/runtime';
import type { FunctionBuilder } from './function-sandbox';

/** Invocations of this module instance so far. */
let calls = 0;

export interface CounterEvent {
  /** Throw a RangeError with this message instead of answering. */
  readonly fail?: string;
}

/** Counts its calls in module state and reports each as a metric; fails on request. */
export const counter: FunctionBuilder = ({ env, runtimeOptions }) => {
  const runtime = runtimeFromEnv(env, {}, runtimeOptions);
  return async (event: CounterEvent) => {
    calls += 1;
    runtime.metrics({ Function: 'counter' }, { calls: count(1) });
    if (event.fail !== undefined) throw new RangeError(event.fail);
    return { calls, region: runtime.region };
  };
};

/** Answers whether the region's drain switch is on. */
export const drainReader: FunctionBuilder = ({ isDrained }) => isDrained;

/** One DynamoDB read per invocation, through the sandbox's fault injection. */
export const reader: FunctionBuilder = ({ env, runtimeOptions }) => {
  const runtime = runtimeFromEnv(env, { dynamo: dynamoClient }, runtimeOptions);
  return async () => runtime.dynamo.send(new GetCommand({ TableName: runtime.env.CONNECTIONS_TABLE, Key: { connectionId: 'c-1' } }));
};

/** Never answers. */
export const stuck: FunctionBuilder = () => () => new Promise(() => undefined);

/** Throws outside the invocation's promise: the sandbox crashes, as a Lambda sandbox does on an uncaught error. */
export const crasher: FunctionBuilder = () => () => {
  setTimeout(() => {
    throw new Error('uncaught in a timer');
  });
  return new Promise(() => undefined);
};

/** Fails its init, as a function whose environment is invalid does. */
export const broken: FunctionBuilder = () => {
  throw new Error('Relaymesh Lambda environment is invalid: TOPIC_ARN: missing');
};
