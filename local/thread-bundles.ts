/**
 * Bundles for the local cloud's worker threads: a thread loads plain JavaScript, without the
 * TypeScript loader the cloud itself may run under (tsx, vitest), and starts in a fraction of
 * the time the sources would take through one.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

export interface ThreadBundles<N extends string> {
  /** The bundle of an entry, a file a worker thread loads. */
  file(name: N): string;
  /** Deletes the bundles: a started thread no longer needs its file. */
  remove(): Promise<void>;
}

/** A file of this directory, as an absolute path an entry can import. */
export const localSource = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/**
 * Builds one bundle per entry (name → entry module, resolved by `plugins` if they say so) in
 * one esbuild run, into a directory of its own under the system's temporary directory.
 */
export async function buildThreadBundles<N extends string>(entryPoints: Record<N, string>, plugins: Plugin[] = []): Promise<ThreadBundles<N>> {
  const dir = await mkdtemp(join(tmpdir(), 'relaymesh-threads-'));
  // process.exit() while the cloud starts (npm start's Ctrl-C) skips remove(): the files go anyway.
  const removeAtExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeAtExit);
  const remove = async () => {
    process.off('exit', removeAtExit);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { outputFiles } = await build({
      // Written here, not by esbuild's own process, which could write into the directory after an exit removed it.
      write: false,
      entryPoints,
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      // As the Lambda bundles (lib/relaymesh-function.ts): the SDK's ES modules, and require() for the CommonJS dependencies.
      mainFields: ['module', 'main'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      plugins,
      logLevel: 'error',
    });
    await Promise.all(outputFiles.map((file) => writeFile(file.path, file.contents)));
  } catch (error) {
    await remove();
    throw error;
  }
  return { file: (name) => join(dir, `${name}.mjs`), remove };
}
