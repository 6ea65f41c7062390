import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keptJwtSecret } from './jwt-secret';

const fileIn = () => join(mkdtempSync(join(tmpdir(), 'relaymesh-secret-')), '.relaymesh', 'jwt-secret');
const LONG_ENOUGH = 'an-environment-secret-of-40-characters!!';

describe('the local JWT secret', () => {
  it('is generated once, kept readable by its owner only, and the same on the next start', async () => {
    const file = fileIn();
    const first = await keptJwtSecret(file, {});
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(file, 'utf8').trim()).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await keptJwtSecret(file, {})).toBe(first);
  });

  it('comes from $RELAYMESH_JWT_SECRET when set, over a kept one, and nothing is written', async () => {
    const file = fileIn();
    expect(await keptJwtSecret(file, { RELAYMESH_JWT_SECRET: LONG_ENOUGH })).toBe(LONG_ENOUGH);
    expect(() => statSync(file)).toThrow();
    const kept = await keptJwtSecret(file, {});
    expect(await keptJwtSecret(file, { RELAYMESH_JWT_SECRET: LONG_ENOUGH })).toBe(LONG_ENOUGH);
    expect(await keptJwtSecret(file, {})).toBe(kept);
  });

  it('refuses a $RELAYMESH_JWT_SECRET shorter than 32 characters with a message naming it', async () => {
    await expect(keptJwtSecret(fileIn(), { RELAYMESH_JWT_SECRET: 'short' })).rejects.toThrow('RELAYMESH_JWT_SECRET must be at least 32 characters');
  });

  it('replaces a kept secret too short to sign with (a truncated file) by a new one', async () => {
    const file = fileIn();
    await keptJwtSecret(file, {});
    writeFileSync(file, 'cut\n');
    const replaced = await keptJwtSecret(file, {});
    expect(replaced).not.toBe('cut');
    expect(readFileSync(file, 'utf8').trim()).toBe(replaced);
  });
});
