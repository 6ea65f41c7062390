// SQS consumer of one event class's queue: fans events out to this region's subscribers.
import { connectionsClient, dynamoClient, sqsClient } from './core/aws-clients';
import { createDeliveryWorkerHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { powertoolsMetrics } from './metrics';
import { lambdaPowertools } from './powertools';
import { traceClients, traced } from './tracing';

const powertools = lambdaPowertools();
export const handler = powertools.handler(
  traced(
    'delivery-worker',
    createDeliveryWorkerHandler(
      traceClients(
        runtimeFromEnv(
          process.env,
          { dynamo: dynamoClient, connections: connectionsClient, sqs: sqsClient },
          { ...powertools.runtimeOptions, metrics: powertoolsMetrics() },
        ),
      ),
    ),
  ),
);
