import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { LogLevel } from '../lib/config';
import type { Log } from '../lambdas/core/log';
import { functionLogger, powertoolsLog, type InvocationContext } from '../lambdas/powertools';

/**
 * One invocation of a local function, as the code running inside it sees it: its Lambda
 * context, and kill(), which ends it as a timeout or a crashed sandbox does: whatever the
 * handler returns afterwards is ignored and the invocation fails with the reason (an event
 * source mapping then deletes nothing of its batch). Fault injection kills invocations through
 * it (handler-faults.ts).
 */
export class LambdaInvocation {
  #killedBy: Error | undefined;

  constructor(
    readonly context: InvocationContext,
    /** Whether fault injection may kill it: the delivery workers' invocations, by an event source mapping. */
    readonly killable: boolean,
  ) {}

  get killedBy(): Error | undefined {
    return this.#killedBy;
  }

  kill(reason: Error): void {
    this.#killedBy ??= reason;
  }
}

/**
 * The invocation each local handler call runs in. One store for every function a thread runs:
 * each AsyncLocalStorage adds a little to every async operation of the thread.
 */
const invocations = new AsyncLocalStorage<LambdaInvocation>();

/** The invocation the current code runs in, if any. */
export const currentInvocation = (): LambdaInvocation | undefined => invocations.getStore();

export interface LocalFunctionOptions {
  readonly serviceName: string;
  readonly region: string;
  /** The function's display name, as its alarms name it (e.g. messageRouter, delivery-critical). */
  readonly name: string;
  readonly memoryMb: number;
  readonly logLevel: LogLevel;
  /** See LambdaInvocation.killable; default false. */
  readonly killable?: boolean;
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
    log: powertoolsLog(logger, () => invocations.getStore()?.context),
    invoke: (handler) => async (event) => {
      const invocation = new LambdaInvocation(
        {
          awsRequestId: randomUUID(),
          functionName: name,
          functionVersion: '$LATEST',
          invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${name}`,
          memoryLimitInMB: String(options.memoryMb),
        },
        options.killable ?? false,
      );
      const outcome = await invocations.run(invocation, () => handler(event)).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      // A killed invocation reports the kill, as Lambda reports the timeout, whatever its handler did next.
      if (invocation.killedBy) throw invocation.killedBy;
      if ('error' in outcome) throw outcome.error;
      return outcome.value;
    },
  };
}
