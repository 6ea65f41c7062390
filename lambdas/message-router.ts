// $default route: subscribe, unsubscribe, publish, ping.
import { connectionsClient, dynamoClient, snsClient } from './core/aws-clients';
import { createMessageRouterHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { powertoolsMetrics } from './metrics';
import { lambdaPowertools } from './powertools';
import { traceClients, traced } from './tracing';

const powertools = lambdaPowertools();
export const handler = powertools.handler(
  traced(
    'message-router',
    createMessageRouterHandler(
      traceClients(
        runtimeFromEnv(
          process.env,
          { dynamo: dynamoClient, sns: snsClient, connections: connectionsClient },
          { ...powertools.runtimeOptions, metrics: powertoolsMetrics() },
        ),
      ),
    ),
  ),
);
