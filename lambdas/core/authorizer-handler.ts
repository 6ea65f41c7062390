import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { authorizeConnect, type TokenPolicy } from './auth';
import { loggedInvocations } from './log';
import type { Runtime } from './runtime';

/**
 * The $connect authorizer and the token settings it shares with the edge. Apart from the other
 * handlers (./handlers) because it needs no AWS client but Secrets Manager's.
 */

/** The HS256 secret: given directly (local cloud) or read from Secrets Manager and cached (AWS). */
export function jwtSecret(runtime: Runtime): () => Promise<string> {
  const { JWT_SECRET, JWT_SECRET_ARN } = runtime.env;
  if (JWT_SECRET) return async () => JWT_SECRET;
  if (!JWT_SECRET_ARN) throw new Error('Relaymesh Lambda environment is invalid: set JWT_SECRET or JWT_SECRET_ARN');
  return async () => {
    const secret = await getSecret(JWT_SECRET_ARN, { maxAge: 300 });
    if (typeof secret !== 'string' || secret.length < 32) throw new Error('JWT secret must be a string of at least 32 characters');
    return secret;
  };
}

export function tokenPolicy(runtime: Runtime): TokenPolicy {
  return { maxLifetimeSeconds: runtime.env.TOKEN_MAX_LIFETIME_SECONDS, clockToleranceSeconds: runtime.env.TOKEN_CLOCK_TOLERANCE_SECONDS };
}

export function createAuthorizerHandler(runtime: Runtime) {
  const secret = jwtSecret(runtime);
  const policy = tokenPolicy(runtime);
  return loggedInvocations(runtime.log, (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => authorizeConnect(event, secret, policy, runtime.log));
}

