// $default route: subscribe, unsubscribe, publish, ping.
import { connectionsClient, dynamoClient, snsClient } from './core/aws-clients';
import { createMessageRouterHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { traceClients, traced } from './tracing';

export const handler = traced(
  'message-router',
  createMessageRouterHandler(
    traceClients(runtimeFromEnv(process.env, { dynamo: dynamoClient, sns: snsClient, connections: connectionsClient })),
  ),
);
