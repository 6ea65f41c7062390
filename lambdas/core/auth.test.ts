import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { authorizeConnect, channelAllowed, claimsFromContext, TokenRejected, verifyToken } from './auth';

const secret = 'a-test-secret-that-is-at-least-32-chars';
const sign = (claims: Record<string, unknown>, key = secret, expiresIn = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(key));

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

describe('verifyToken', () => {
  it('returns the claims of a valid token', async () => {
    const claims = await verifyToken(await sign({ sub: 'alice', subscribe: ['room:*'], publish: [] }), secret);
    expect(claims).toEqual({ sub: 'alice', subscribe: ['room:*'], publish: [] });
  });

  it.each([
    ['a token signed with another secret', () => sign({ sub: 'a', subscribe: [], publish: [] }, 'another-secret-that-is-32-chars-long!!')],
    ['an expired token', () => sign({ sub: 'a', subscribe: [], publish: [] }, secret, '-1m')],
    ['a token without channel claims', () => sign({ sub: 'a' })],
    ['garbage', async () => 'not.a.jwt'],
  ])('rejects %s', async (_name, token) => {
    await expect(verifyToken(await token(), secret)).rejects.toBeInstanceOf(TokenRejected);
  });

  it('rejects the none algorithm', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a","subscribe":["*"],"publish":["*"]}').toString('base64url')}.`;
    await expect(verifyToken(unsigned, secret)).rejects.toBeInstanceOf(TokenRejected);
  });
});

describe('authorizeConnect', () => {
  it('allows a valid token and passes its claims as context that round-trips', async () => {
    const result = await authorizeConnect(authorizerEvent(await sign({ sub: 'bob', subscribe: ['a'], publish: ['b'] })), async () => secret);
    expect(result.principalId).toBe('bob');
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: 'arn:aws:execute-api:us-east-1:000000000000:api/live/$connect' });
    expect(claimsFromContext(result.context)).toEqual({ sub: 'bob', subscribe: ['a'], publish: ['b'] });
  });

  it('answers a missing or invalid token with the exact error Unauthorized (API Gateway 401)', async () => {
    await expect(authorizeConnect(authorizerEvent(), async () => secret)).rejects.toThrow(/^Unauthorized$/);
    await expect(authorizeConnect(authorizerEvent('bad'), async () => secret)).rejects.toThrow(/^Unauthorized$/);
  });
});
