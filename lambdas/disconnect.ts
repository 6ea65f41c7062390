// $disconnect route: removes the connection and its subscriptions.
import { dynamoClient, snsClient } from './core/aws-clients';
import { createDisconnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { traceClients, traced } from './tracing';

export const handler = traced(
  'disconnect',
  createDisconnectHandler(traceClients(runtimeFromEnv(process.env, { dynamo: dynamoClient, sns: snsClient }))),
);
