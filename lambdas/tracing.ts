// X-Ray tracing of the Lambda adapters (Powertools Tracer). The core stays free of it: the
// local cloud runs the same core without X-Ray. The stack sets POWERTOOLS_SERVICE_NAME,
// POWERTOOLS_TRACE_ENABLED and POWERTOOLS_TRACER_CAPTURE_RESPONSE (off: responses carry user data).
import type { AwsClients } from './core/runtime';

/**
 * Loaded only when tracing is on: the Tracer and the X-Ray SDK under it are ~128 kB and ~50 ms
 * of init CPU. The stack also writes POWERTOOLS_TRACE_ENABLED into the bundle (esbuild define,
 * lib/relaymesh-function.ts), so an untraced function's bundle does not contain them at all.
 */
const tracer =
  process.env.POWERTOOLS_TRACE_ENABLED === 'true' ? new (await import('@aws-lambda-powertools/tracer')).Tracer() : undefined;

const CLIENT_NAMES: ReadonlyArray<keyof AwsClients> = ['dynamo', 'sns', 'connections', 'sqs'];

/** Records each AWS SDK call of the runtime's clients as an X-Ray subsegment. */
export function traceClients<R extends Partial<AwsClients>>(runtime: R): R {
  if (tracer?.isTracingEnabled()) {
    for (const name of CLIENT_NAMES) {
      const client = runtime[name];
      if (client) tracer.captureAWSv3Client(client);
    }
  }
  return runtime;
}

/** Runs the handler in a `## <name>` subsegment annotated with cold start and service name. */
export function traced<E, R>(name: string, handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
  if (!tracer) return handler;
  return async (event) => {
    const segment = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
    if (!segment) return handler(event);
    const subsegment = segment.addNewSubsegment(`## ${name}`);
    tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      const result = await handler(event);
      tracer.addResponseAsMetadata(result, name);
      return result;
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      subsegment.close();
      tracer.setSegment(segment);
    }
  };
}
