// $connect route: registers the connection.
import { dynamoClient } from './core/aws-clients';
import { createConnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { traceClients, traced } from './tracing';

export const handler = traced('connect', createConnectHandler(traceClients(runtimeFromEnv(process.env, { dynamo: dynamoClient }))));
