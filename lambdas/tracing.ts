// X-Ray tracing of the Lambda adapters (Powertools Tracer). The core stays free of it: the
// local cloud runs the same core without X-Ray. The stack sets POWERTOOLS_SERVICE_NAME,
// POWERTOOLS_TRACE_ENABLED and POWERTOOLS_TRACER_CAPTURE_RESPONSE (off: responses carry user data).
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Runtime } from './core/runtime';

export const tracer = new Tracer();

/** Records each AWS SDK call of the runtime's clients as an X-Ray subsegment. */
export function traceClients(runtime: Runtime): Runtime {
  if (tracer.isTracingEnabled()) {
    tracer.captureAWSv3Client(runtime.dynamo);
    tracer.captureAWSv3Client(runtime.sns);
    tracer.captureAWSv3Client(runtime.connections);
  }
  return runtime;
}

/** Runs the handler in a `## <name>` subsegment annotated with cold start and service name. */
export function traced<E, R>(name: string, handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
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
