// REQUEST authorizer of $connect: verifies the JWT in the `token` query parameter.
import { createAuthorizerHandler } from './core/authorizer-handler';
import { runtimeFromEnv } from './core/runtime';
import { traced } from './tracing';

export const handler = traced('authorizer', createAuthorizerHandler(runtimeFromEnv(process.env, {})));
