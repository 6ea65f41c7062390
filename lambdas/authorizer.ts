// REQUEST authorizer of $connect: verifies the JWT in the `token` query parameter.
import { createAuthorizerHandler } from './core/authorizer-handler';
import { runtimeFromEnv } from './core/runtime';
import { lambdaPowertools } from './powertools';
import { traced } from './tracing';

const powertools = lambdaPowertools();
export const handler = powertools.handler(traced('authorizer', createAuthorizerHandler(runtimeFromEnv(process.env, {}, powertools.runtimeOptions))));
