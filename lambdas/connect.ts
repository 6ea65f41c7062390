// $connect route: registers the connection.
import { dynamoClient } from './core/aws-clients';
import { createConnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { lambdaPowertools } from './powertools';
import { traceClients, traced } from './tracing';

const powertools = lambdaPowertools();
export const handler = powertools.handler(
  traced('connect', createConnectHandler(traceClients(runtimeFromEnv(process.env, { dynamo: dynamoClient }, powertools.runtimeOptions)))),
);
