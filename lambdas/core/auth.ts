import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';

/**
 * Token claims. A token names the channel patterns its holder may subscribe to and publish
 * on; `*` matches any run of characters, so `room:*` allows `room:1` and `room:1:typing`.
 */
export const ClaimsSchema = z.object({
  sub: z.string().min(1),
  subscribe: z.array(z.string().min(1)).max(100),
  publish: z.array(z.string().min(1)).max(100),
});
export type Claims = z.output<typeof ClaimsSchema>;

/** What the authorizer hands API Gateway as context: values must be strings, numbers or booleans. */
export const AuthorizerContextSchema = z.object({
  sub: z.string(),
  subscribe: z.string().transform((s) => JSON.parse(s) as string[]),
  publish: z.string().transform((s) => JSON.parse(s) as string[]),
});

export function claimsToContext(claims: Claims): Record<string, string> {
  return { sub: claims.sub, subscribe: JSON.stringify(claims.subscribe), publish: JSON.stringify(claims.publish) };
}

/** Reads the claims the authorizer attached to every event of the connection. */
export function claimsFromContext(context: unknown): Claims {
  return AuthorizerContextSchema.parse(context);
}

export function channelAllowed(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) => globToRegExp(pattern).test(channel));
}

const globCache = new Map<string, RegExp>();
function globToRegExp(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (!re) {
    const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*');
    re = new RegExp(`^${escaped}$`);
    globCache.set(pattern, re);
  }
  return re;
}

export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

/** Verifies an HS256 token and its Relaymesh claims; any failure is a TokenRejected. */
export async function verifyToken(token: string, secret: string): Promise<Claims> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'] });
    const claims = ClaimsSchema.safeParse(payload);
    if (!claims.success) throw new TokenRejected(`token claims are invalid: ${claims.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    return claims.data;
  } catch (error) {
    if (error instanceof TokenRejected) throw error;
    if (error instanceof joseErrors.JOSEError) throw new TokenRejected(error.code);
    throw error;
  }
}

/**
 * The REQUEST authorizer of `$connect`. A missing, forged or expired token is refused with
 * 401 (API Gateway's answer to the exact error 'Unauthorized'); a valid token yields an
 * Allow policy carrying the claims as context.
 */
export async function authorizeConnect(
  event: APIGatewayRequestAuthorizerEvent,
  secret: () => Promise<string>,
): Promise<APIGatewayAuthorizerResult> {
  const token = event.queryStringParameters?.token;
  if (!token) throw new Error('Unauthorized');
  let claims: Claims;
  try {
    claims = await verifyToken(token, await secret());
  } catch (error) {
    if (error instanceof TokenRejected) {
      console.warn(JSON.stringify({ msg: 'token rejected', reason: error.message }));
      throw new Error('Unauthorized');
    }
    throw error;
  }
  return {
    principalId: claims.sub,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
    context: claimsToContext(claims),
  };
}
