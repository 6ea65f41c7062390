// $disconnect route: removes the connection and its subscriptions.
import { dynamoClient, snsClient } from './core/aws-clients';
import { createDisconnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { lambdaPowertools } from './powertools';
import { traceClients, traced } from './tracing';

const powertools = lambdaPowertools();
export const handler = powertools.handler(
  traced('disconnect', createDisconnectHandler(traceClients(runtimeFromEnv(process.env, { dynamo: dynamoClient, sns: snsClient }, powertools.runtimeOptions)))),
);
