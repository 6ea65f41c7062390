// $disconnect route: removes the connection and its subscriptions.
import { createDisconnectHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { traceClients, traced } from './tracing';

export const handler = traced('disconnect', createDisconnectHandler(traceClients(runtimeFromEnv(process.env))));
