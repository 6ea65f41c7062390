// REQUEST authorizer of $connect: verifies the JWT in the `token` query parameter.
import { createAuthorizerHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';

export const handler = createAuthorizerHandler(runtimeFromEnv(process.env));
