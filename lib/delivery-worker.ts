import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { EventClassSettings } from './config';
import type { EventClassQueue } from './event-class-queue';
import { RelaymeshFunction } from './relaymesh-function';

/** Lambda's ceiling and a floor for a function timeout. */
const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
const MIN_FUNCTION_TIMEOUT_SECONDS = 3;

export interface DeliveryWorkerProps {
  /** The class's queue it consumes. */
  readonly source: EventClassQueue;
  /** Batch size, batching window, maximum concurrency, visibility and TTL of the class. */
  readonly settings: EventClassSettings;
  /** The common Relaymesh runtime environment; EVENT_CLASS and EVENT_TTL_SECONDS are added. */
  readonly environment: Record<string, string>;
  /**
   * Memory, MB: a batch fans out to up to DELIVERY_CONCURRENCY posts at once.
   * @default 1024
   */
  readonly memoryMb?: number;
  /** @default true */
  readonly tracing?: boolean;
  /** Apply source maps to stack traces at run time (RelaymeshFunctionProps.sourceMaps). @default false */
  readonly sourceMaps?: boolean;
}

/**
 * The delivery worker of one event class: its own function and event source, so one class
 * cannot starve another (bulkhead). Partial batch failures are reported per message, and the
 * event source's maximum concurrency caps how hard one class can hit PostToConnection.
 */
export class DeliveryWorker extends Construct {
  readonly function: RelaymeshFunction;

  constructor(scope: Construct, id: string, props: DeliveryWorkerProps) {
    super(scope, id);
    const { settings, source } = props;
    // AWS's guidance for SQS event sources: visibility timeout at least 6 × the function
    // timeout, so a batch is never redelivered while an invocation (or its retry after a
    // throttle) still works on it, which would post every event twice.
    const timeoutSeconds = Math.min(
      MAX_FUNCTION_TIMEOUT_SECONDS,
      Math.max(MIN_FUNCTION_TIMEOUT_SECONDS, Math.floor(settings.visibilityTimeoutSeconds / 6)),
    );
    this.function = new RelaymeshFunction(this, 'Function', {
      handler: 'delivery-worker',
      timeout: Duration.seconds(timeoutSeconds),
      memorySize: props.memoryMb ?? 1024,
      tracing: props.tracing,
      sourceMaps: props.sourceMaps,
      environment: {
        ...props.environment,
        EVENT_CLASS: source.eventClass,
        EVENT_TTL_SECONDS: String(settings.ttlSeconds),
        // Failed records are made visible again within seconds (consuming grants ChangeMessageVisibility).
        QUEUE_URL: source.queue.queueUrl,
      },
    });
    this.function.addEventSource(
      new SqsEventSource(source.queue, {
        batchSize: settings.batchSize,
        maxBatchingWindow: settings.maxBatchingWindowSeconds > 0 ? Duration.seconds(settings.maxBatchingWindowSeconds) : undefined,
        maxConcurrency: settings.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
