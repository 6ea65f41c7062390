import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../local/cloud';
import { launchChromium } from './browser';
import { startTestCloud } from './support';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
/** The budget for the client in a browser bundle. */
const MAX_BROWSER_BUNDLE_GZIP_BYTES = 20 * 1024;

/** The environment without what `npm test` itself sets for npm (its config, its workspace), so each npm below runs as a user's would. */
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: userEnv, timeout: 180_000 });

/**
 * As a user would: the client packed to a tarball, each example copied into a folder of its
 * own outside the repository, the tarball installed there (zod and ws come from the npm cache),
 * and run against a local cloud described by a state file like `npm start`'s.
 */
describe('the examples, each from a folder of its own outside the repository, against the packed client', () => {
  let cloud: LocalCloud;
  let work: string;
  let tarball: string;
  let stateFile: string;
  let browser: Browser | undefined;

  const installs = new Map<string, Promise<string>>();
  /** The example copied out of the repo with the tarball installed into it, once per example. */
  function installed(name: string): Promise<string> {
    if (!installs.has(name)) installs.set(name, install(name));
    return installs.get(name)!;
  }
  async function install(name: string): Promise<string> {
    const folder = join(work, name);
    await cp(join(REPO, 'examples', name), folder, { recursive: true, filter: (source) => !/node_modules|dist/.test(source.slice(REPO.length)) });
    await npm(['install', tarball, '--prefer-offline'], folder);
    return folder;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relaymesh-examples-'));
    // Packing runs the package's prepare script: the build.
    const packing = npm(['pack', '--pack-destination', work], join(REPO, 'client'));
    cloud = await startTestCloud();
    await packing;
    tarball = join(work, (await readdir(work)).find((file) => file.endsWith('.tgz'))!);
    stateFile = join(work, 'local.json');
    await writeFile(stateFile, JSON.stringify(cloud.description));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await cloud?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('examples/node-basic: subscribes, publishes with a fresh id, receives its message and exits 0, run twice', async () => {
    const folder = await installed('node-basic');
    for (let time = 1; time <= 2; time++) {
      const { stdout } = await run('node', ['index.mjs', stateFile], { cwd: folder, env: userEnv, timeout: 60_000 });
      expect(stdout).toContain('initialized → connecting');
      expect(stdout).toContain('connecting → connected');
      expect(stdout).toMatch(/received \{"text":"hello"\} from us-east-1, seq \d+/);
    }
  }, 240_000);

  it("the README's client example runs as written, from the same folder, and exits", async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const example = /```js\n(import \{ readFileSync \}[\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain("from '@relaymesh/client'");
    const folder = await installed('node-basic');
    await writeFile(join(folder, 'readme-example.mjs'), example!);
    const { stdout } = await run('node', ['readme-example.mjs'], { cwd: folder, env: { ...userEnv, RELAYMESH_STATE: stateFile }, timeout: 60_000 });
    expect(stdout).toContain("{ text: 'hi' }");
  }, 240_000);

  it('examples/node-basic: says what is wrong, without a stack trace, when the state file is missing', async () => {
    const folder = await installed('node-basic');
    const failure = await run('node', ['index.mjs', join(work, 'absent.json')], { cwd: folder, env: userEnv }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining("Cannot read the local cloud's state file") });
    expect((failure as { stderr: string }).stderr).not.toContain('    at ');
  }, 240_000);

  it(`examples/browser: bundled within ${MAX_BROWSER_BUNDLE_GZIP_BYTES} bytes gzip, the page in headless Chromium receives its message from the local cloud, and the server exits 0`, async () => {
    const folder = await installed('browser');
    await npm(['run', 'build'], folder);
    const gzipped = gzipSync(await readFile(join(folder, 'dist/main.js')), { level: 9 }).length;
    expect(gzipped).toBeLessThanOrEqual(MAX_BROWSER_BUNDLE_GZIP_BYTES);

    const server = spawn('node', ['serve.mjs', stateFile, '0'], { cwd: folder, env: userEnv });
    let output = '';
    server.stdout.on('data', (chunk) => (output += chunk));
    server.stderr.on('data', (chunk) => (output += chunk));
    const exited = once(server, 'exit');
    const [line] = (await once(server.stdout, 'data')) as [Buffer];
    const pageUrl = /open (http:\S+) in a browser/.exec(line.toString())?.[1];
    expect(pageUrl, output).toBeDefined();

    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(pageUrl!);
    const [code] = await exited;
    expect({ code, output }).toMatchObject({ code: 0, output: expect.stringMatching(/the page received \{"text":"hello from a browser"\} from us-east-1, seq \d+/) });
    expect(await page.locator('#log').innerText()).toContain('connecting → connected');
  }, 240_000);
});
