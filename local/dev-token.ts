import { SignJWT } from 'jose';
import type { Claims } from '../lambdas/core/auth';

/** Mints an HS256 token the authorizer accepts; what a user's own auth service would issue. */
export async function mintToken(secret: string, claims: Claims, expiresIn: string | number = '12h'): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}
