import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

/** `npm start` with these arguments, as npm runs it (through tsx). */
const npmStart = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'local/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

describe('npm start options', () => {
  it('refuses --log-level nonsense with one line naming the levels, before starting anything', () => {
    const { status, stderr, stdout } = npmStart('--log-level', 'nonsense');
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe("error: option '--log-level <debug|info|warn|error>' argument 'nonsense' is invalid. must be one of debug, info, warn, error\n");
  });

  it('refuses a --jwt-secret shorter than 32 characters with one line, before starting anything', () => {
    const { status, stderr, stdout } = npmStart('--jwt-secret', 'too-short');
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe("error: option '--jwt-secret <secret>' argument 'too-short' is invalid. must be at least 32 characters\n");
  });
});
