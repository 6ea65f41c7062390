import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { authorizeConnect, channelAllowed, claimsFromContext, globMatches, TokenRejected, verifyToken, type TokenPolicy } from './auth';
import { recordingLog } from './testing';

const secret = 'a-test-secret-that-is-at-least-32-chars';
const sign = (claims: Record<string, unknown>, key = secret, expiresIn = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(key));

const policy: TokenPolicy = { maxLifetimeSeconds: 86_400, clockToleranceSeconds: 30 };
const key = new TextEncoder().encode(secret);

const authorizerEvent = (token?: string): APIGatewayRequestAuthorizerEvent =>
  ({
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:000000000000:api/live/$connect',
    queryStringParameters: token === undefined ? {} : { token },
  }) as unknown as APIGatewayRequestAuthorizerEvent;

describe('channelAllowed', () => {
  it('matches exact names and * wildcards, anchored at both ends', () => {
    expect(channelAllowed(['room:1'], 'room:1')).toBe(true);
    expect(channelAllowed(['room:*'], 'room:1:typing')).toBe(true);
    expect(channelAllowed(['*'], 'anything')).toBe(true);
    expect(channelAllowed(['room:*'], 'lobby')).toBe(false);
    expect(channelAllowed(['room:1'], 'room:10')).toBe(false);
    expect(channelAllowed(['room.1'], 'roomx1')).toBe(false);
    expect(channelAllowed([], 'room:1')).toBe(false);
  });
});

describe('globMatches', () => {
  it('agrees with a regular-expression reference on many patterns and channels', () => {
    const reference = (pattern: string, value: string) =>
      new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(value);
    const alphabet = ['a', 'b', ':', '*'];
    const words = (length: number): string[] => (length === 0 ? [''] : words(length - 1).flatMap((w) => alphabet.map((c) => w + c)));
    const patterns = [0, 1, 2, 3, 4].flatMap(words);
    const values = [0, 1, 2, 3, 4].flatMap(words).filter((v) => !v.includes('*'));
    let checked = 0;
    for (const pattern of patterns) {
      for (const value of values) {
        expect(globMatches(pattern, value), `${pattern} vs ${value}`).toBe(reference(pattern, value));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40_000);
  });

  it('matches a hostile 128-character channel against a 6-wildcard claim in linear time', () => {
    const pattern = 'a*a*a*a*a*a*b';
    const channel = 'a'.repeat(128);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) expect(globMatches(pattern, channel)).toBe(false);
    // A backtracking regular expression takes seconds for one such match; 1,000 here take milliseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('verifyToken', () => {
  it('returns the claims of a valid token', async () => {
    const claims = await verifyToken(await sign({ sub: 'alice', subscribe: ['room:*'], publish: [] }), secret, policy);
    expect(claims).toEqual({ sub: 'alice', subscribe: ['room:*'], publish: [] });
  });

  it.each([
    ['a token signed with another secret', () => sign({ sub: 'a', subscribe: [], publish: [] }, 'another-secret-that-is-32-chars-long!!')],
    ['an expired token', () => sign({ sub: 'a', subscribe: [], publish: [] }, secret, '-1m')],
    ['a token without channel claims', () => sign({ sub: 'a' })],
    ['garbage', async () => 'not.a.jwt'],
  ])('rejects %s', async (_name, token) => {
    await expect(verifyToken(await token(), secret, policy)).rejects.toBeInstanceOf(TokenRejected);
  });

  it('rejects a token without exp, one living longer than the cap, and one issued in the future; accepts clock skew within the tolerance', async () => {
    const claims = { sub: 'a', subscribe: [], publish: [] };
    const noExp = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(key);
    await expect(verifyToken(noExp, secret, policy)).rejects.toThrow(/ERR_JWT_CLAIM_VALIDATION_FAILED/);
    const forever = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('25h').sign(key);
    await expect(verifyToken(forever, secret, policy)).rejects.toThrow(/more than the 86400 s allowed/);
    const fromTheFuture = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(Math.floor(Date.now() / 1000) + 120).setExpirationTime('1h').sign(key);
    await expect(verifyToken(fromTheFuture, secret, policy)).rejects.toThrow(/issued in the future/);
    const justExpired = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key);
    await expect(verifyToken(justExpired, secret, policy)).resolves.toMatchObject({ sub: 'a' });
    const notYet = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setNotBefore(Math.floor(Date.now() / 1000) + 10).setExpirationTime('1h').sign(key);
    await expect(verifyToken(notYet, secret, policy)).resolves.toMatchObject({ sub: 'a' });
  });

  it('rejects the none algorithm', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a","subscribe":["*"],"publish":["*"]}').toString('base64url')}.`;
    await expect(verifyToken(unsigned, secret, policy)).rejects.toBeInstanceOf(TokenRejected);
  });
});

describe('authorizeConnect', () => {
  it('allows a valid token and passes its claims as context that round-trips', async () => {
    const result = await authorizeConnect(authorizerEvent(await sign({ sub: 'bob', subscribe: ['a'], publish: ['b'] })), async () => secret, policy, recordingLog());
    expect(result.principalId).toBe('bob');
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: 'arn:aws:execute-api:us-east-1:000000000000:api/live/$connect' });
    expect(claimsFromContext(result.context)).toEqual({ sub: 'bob', subscribe: ['a'], publish: ['b'] });
  });

  it('answers a missing or invalid token with the exact error Unauthorized (API Gateway 401), logging at warn why a token was rejected', async () => {
    const log = recordingLog();
    await expect(authorizeConnect(authorizerEvent(), async () => secret, policy, log)).rejects.toThrow(/^Unauthorized$/);
    await expect(authorizeConnect(authorizerEvent('bad'), async () => secret, policy, log)).rejects.toThrow(/^Unauthorized$/);
    expect(log.lines).toEqual([{ level: 'warn', message: 'token rejected', fields: { reason: 'ERR_JWS_INVALID' } }]);
  });
});
