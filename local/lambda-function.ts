import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { LogLevel } from '../lib/config';
import type { Log } from '../lambdas/core/log';
import { functionLogger, powertoolsLog, type InvocationContext } from '../lambdas/powertools';

/**
 * The invocation each local handler call runs in. One store for every function of every
 * region: each AsyncLocalStorage adds a little to every async operation of the process.
 */
const invocations = new AsyncLocalStorage<InvocationContext>();

export interface LocalFunctionOptions {
  readonly serviceName: string;
  readonly region: string;
  /** The function's display name, as its alarms name it (e.g. messageRouter, delivery-critical). */
  readonly name: string;
  readonly memoryMb: number;
  readonly logLevel: LogLevel;
}

export interface LocalFunction {
  /** The function's log, for its runtime: each line names the invocation it was written in. */
  readonly log: Log;
  /** The handler, each call of it an invocation with a request id of its own, as Lambda gives it. */
  invoke<E, R>(handler: (event: E) => Promise<R>): (event: E) => Promise<R>;
}

/**
 * A Lambda function of the local cloud as its code sees one on AWS: a Powertools Logger of its
 * own (lambdas/powertools.ts) and a Lambda context per invocation, so its lines carry the same
 * keys as on Lambda: level, timestamp, service, region, function name and request id.
 */
export function localFunction(options: LocalFunctionOptions): LocalFunction {
  const { region, name } = options;
  const logger = functionLogger({ region, serviceName: options.serviceName, logLevel: options.logLevel });
  return {
    log: powertoolsLog(logger, () => invocations.getStore()),
    invoke: (handler) => (event) =>
      invocations.run(
        {
          awsRequestId: randomUUID(),
          functionName: name,
          functionVersion: '$LATEST',
          invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${name}`,
          memoryLimitInMB: String(options.memoryMb),
        },
        () => handler(event),
      ),
  };
}
