import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { loadConfig, type CapacitySettings, type EventClassSettings } from './config';
import type { EventClassQueue } from './event-class-queue';
import { RelaymeshFunction } from './relaymesh-function';
import { sizeDeliveryWorker, workerSizingProblem } from './worker-sizing';

export interface DeliveryWorkerProps {
  /** The class's queue it consumes. */
  readonly source: EventClassQueue;
  /** Batch size, batching window, maximum concurrency, visibility and TTL of the class. */
  readonly settings: EventClassSettings;
  /** The common Relaymesh runtime environment; EVENT_CLASS and EVENT_TTL_SECONDS are added. */
  readonly environment: Record<string, string>;
  /**
   * The capacity model (lib/worker-sizing.ts): a full batch to the largest channel must fit the timeout.
   * @default the config's defaults (1,000 subscribers, 1.2 ms per post, 1.5 × headroom)
   */
  readonly capacity?: CapacitySettings;
  /**
   * Memory, MB; it must fit a full batch to the largest channel in the timeout.
   * @default the smallest that does, by the capacity model
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
    const capacity = props.capacity ?? loadConfig().capacity;
    const problem = workerSizingProblem(settings, capacity, props.memoryMb);
    if (problem) throw new Error(`DeliveryWorker ${id}: ${problem.setting}: ${problem.message}`);
    // The timeout is a sixth of the visibility timeout (AWS's guidance for SQS event sources), so a
    // batch is never redelivered while an invocation (or its retry after a throttle) still works on
    // it, which would post every event twice.
    const sizing = sizeDeliveryWorker(settings, capacity);
    this.function = new RelaymeshFunction(this, 'Function', {
      handler: 'delivery-worker',
      timeout: Duration.seconds(sizing.timeoutSeconds),
      memorySize: props.memoryMb ?? sizing.memoryMb,
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
