// REQUEST authorizer of $connect: verifies the JWT in the `token` query parameter.
import { createAuthorizerHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { traceClients, traced } from './tracing';

export const handler = traced('authorizer', createAuthorizerHandler(traceClients(runtimeFromEnv(process.env))));
