import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { Log } from './log';
import * as z from './zod';

/**
 * Token claims. A token names the channel patterns its holder may subscribe to and publish
 * on; `*` matches any run of characters, so `room:*` allows `room:1` and `room:1:typing`.
 */
export const ClaimsSchema = z.object({
  sub: z.string().check(z.minLength(1)),
  subscribe: z.array(z.string().check(z.minLength(1))).check(z.maxLength(100)),
  publish: z.array(z.string().check(z.minLength(1))).check(z.maxLength(100)),
});
export type Claims = z.output<typeof ClaimsSchema>;

/** What the authorizer hands API Gateway as context: values must be strings, numbers or booleans. */
export const AuthorizerContextSchema = z.object({
  sub: z.string(),
  subscribe: z.pipe(z.string(), z.transform((s) => JSON.parse(s) as string[])),
  publish: z.pipe(z.string(), z.transform((s) => JSON.parse(s) as string[])),
});

export function claimsToContext(claims: Claims): Record<string, string> {
  return { sub: claims.sub, subscribe: JSON.stringify(claims.subscribe), publish: JSON.stringify(claims.publish) };
}

/** Reads the claims the authorizer attached to every event of the connection. */
export function claimsFromContext(context: unknown): Claims {
  return AuthorizerContextSchema.parse(context);
}

export function channelAllowed(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) => globMatches(pattern, channel));
}

/**
 * `*` glob matching without backtracking: the parts between stars must occur in order, the
 * first as a prefix and the last as a suffix, and the leftmost occurrence of each middle part
 * is always the best choice. Linear in the channel per part, whatever a token's pattern holds
 * (a regular expression with several `.*` can take seconds on a hostile channel name).
 */
export function globMatches(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0]!;
  const last = parts.at(-1)!;
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  let position = first.length;
  const end = value.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = value.indexOf(part, position);
    if (found === -1 || found + part.length > end) return false;
    position = found + part.length;
  }
  return true;
}

export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

/** How long a token may live and how far clocks may disagree. */
export interface TokenPolicy {
  /** A token must expire, at most this long after it was issued (or after now, without `iat`). */
  maxLifetimeSeconds: number;
  /** Slack for `exp`, `nbf` and `iat` between the issuer's clock and ours. */
  clockToleranceSeconds: number;
}

/** Verifies an HS256 token and its Relaymesh claims; any failure is a TokenRejected naming the rule. */
export async function verifyToken(token: string, secret: string, policy: TokenPolicy): Promise<Claims> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      clockTolerance: policy.clockToleranceSeconds,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw new TokenRejected(error.code);
    throw error;
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.iat !== undefined && payload.iat > now + policy.clockToleranceSeconds) throw new TokenRejected('token issued in the future (iat)');
  const lifetime = payload.exp! - (payload.iat ?? now);
  if (lifetime > policy.maxLifetimeSeconds) {
    throw new TokenRejected(`token lives ${lifetime} s, more than the ${policy.maxLifetimeSeconds} s allowed (exp - iat)`);
  }
  const claims = ClaimsSchema.safeParse(payload);
  if (!claims.success) throw new TokenRejected(`token claims are invalid: ${claims.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  return claims.data;
}

/**
 * The REQUEST authorizer of `$connect`. A missing, forged or expired token is refused with
 * 401 (API Gateway's answer to the exact error 'Unauthorized'); a valid token yields an
 * Allow policy carrying the claims as context.
 */
export async function authorizeConnect(
  event: APIGatewayRequestAuthorizerEvent,
  secret: () => Promise<string>,
  policy: TokenPolicy,
  log: Log,
): Promise<APIGatewayAuthorizerResult> {
  const token = event.queryStringParameters?.token;
  if (!token) throw new Error('Unauthorized');
  let claims: Claims;
  try {
    claims = await verifyToken(token, await secret(), policy);
  } catch (error) {
    if (error instanceof TokenRejected) {
      log.warn('token rejected', { reason: error.message });
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
