// SQS consumer of one event class's queue: fans events out to this region's subscribers.
import { createDeliveryWorkerHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';

export const handler = createDeliveryWorkerHandler(runtimeFromEnv(process.env));
