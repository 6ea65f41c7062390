import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** HS256 wants a key at least as long as its 256-bit hash; 32 characters are the floor. */
export const MIN_JWT_SECRET_LENGTH = 32;

/**
 * The local cloud's token secret when `--jwt-secret` is not given: `$RELAYMESH_JWT_SECRET`, else
 * the secret an earlier start kept in `file`, else a new one kept there (mode 0600) for the next
 * start, so tokens minted once keep working across restarts.
 */
export async function keptJwtSecret(file: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.RELAYMESH_JWT_SECRET;
  if (fromEnv !== undefined) {
    if (fromEnv.length < MIN_JWT_SECRET_LENGTH) throw new Error(`RELAYMESH_JWT_SECRET must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
    return fromEnv;
  }
  const kept = await readFile(file, 'utf8').then((text) => text.trim(), () => undefined);
  if (kept && kept.length >= MIN_JWT_SECRET_LENGTH) return kept;
  const secret = randomBytes(32).toString('base64url');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
