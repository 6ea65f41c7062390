// The Powertools Logger behind the core's log: the Lambda adapters (lambdas/<name>.ts) and the
// local cloud (local/lambda-function.ts) both log through it, so both write the same lines.
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';
import type { Log, LogFields } from './core/log';

/** What Powertools reads of a Lambda context (Logger.addContext): the rest of it is Lambda's business. */
export type InvocationContext = Pick<Context, 'awsRequestId' | 'functionName' | 'functionVersion' | 'invokedFunctionArn' | 'memoryLimitInMB'>;

export interface FunctionLoggerOptions {
  readonly region: string;
  /** Default: POWERTOOLS_SERVICE_NAME. */
  readonly serviceName?: string;
  /** Default: POWERTOOLS_LOG_LEVEL, else INFO. */
  readonly logLevel?: LogLevel;
}

/** A function's Logger. Powertools' own keys name the function but not its region, so every line gets a `region` key. */
export function functionLogger(options: FunctionLoggerOptions): Logger {
  return new Logger({ serviceName: options.serviceName, logLevel: options.logLevel, persistentKeys: { region: options.region } });
}

/**
 * The Log port on a Logger. On Lambda an invocation has its sandbox to itself, so the adapter
 * attaches its context once (lambdaPowertools). The local cloud runs many invocations of a
 * function at once in one process: it passes `invocation`, the context of whichever is running,
 * attached to the Logger right before each line is written (synchronously, so no other
 * invocation's line can come in between).
 */
export function powertoolsLog(logger: Logger, invocation?: () => InvocationContext | undefined): Log {
  const writer = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields: LogFields = {}) => {
    const context = invocation?.();
    if (context) logger.addContext(context as Context);
    logger[level](message, fields);
  };
  return { debug: writer('debug'), info: writer('info'), warn: writer('warn'), error: writer('error') };
}

/**
 * What a Lambda adapter needs: the runtime's log, and the Lambda handler around the core's,
 * which attaches each invocation's context (function name, request id, cold start) to the
 * Logger. Powertools reads the service and the level from the stack's POWERTOOLS_SERVICE_NAME
 * and POWERTOOLS_LOG_LEVEL (lib/region-stack.ts).
 */
export function lambdaPowertools() {
  const logger = functionLogger({ region: process.env.AWS_REGION ?? '' });
  return {
    runtimeOptions: { log: powertoolsLog(logger) },
    handler:
      <E, R>(handler: (event: E) => Promise<R>) =>
      (event: E, context: Context): Promise<R> => {
        logger.addContext(context);
        return handler(event);
      },
  };
}
