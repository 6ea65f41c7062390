/**
 * The code of each local function's sandbox: one esbuild bundle per function (one build for all),
 * whose entry runs function-sandbox.ts with that function's builder from function-handlers.ts.
 * As a Lambda bundle, each holds its function's code only: a sandbox loads it in a fresh worker
 * thread, without TypeScript loaders (the cloud itself may run under tsx or vitest), and starts
 * in a fraction of the time the sources would take through a loader.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type * as handlers from './function-handlers';

export type FunctionHandlerName = keyof typeof handlers;
export const FUNCTION_HANDLER_NAMES = ['authorizer', 'connect', 'disconnect', 'messageRouter', 'deliveryWorker', 'edge'] as const satisfies readonly FunctionHandlerName[];

export interface FunctionBundles<N extends string = FunctionHandlerName> {
  /** The bundle of a function, a file a worker thread loads. */
  file(handler: N): string;
  /** Deletes the bundles: a started sandbox no longer needs its file. */
  remove(): Promise<void>;
}

const ENTRY_PREFIX = 'relaymesh-function:';
const sourceOf = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Each entry is generated: the sandbox, given one builder of `builders` (a module's path). */
const functionEntries = (builders: string): Plugin => ({
  name: 'relaymesh-function-entries',
  setup(plugin) {
    plugin.onResolve({ filter: new RegExp(`^${ENTRY_PREFIX}`) }, ({ path }) => ({ path: path.slice(ENTRY_PREFIX.length), namespace: 'relaymesh-function' }));
    plugin.onLoad({ filter: /.*/, namespace: 'relaymesh-function' }, ({ path: handler }) => ({
      contents: [
        `import { runSandbox } from ${JSON.stringify(sourceOf('./function-sandbox.ts'))};`,
        `import { ${handler} } from ${JSON.stringify(builders)};`,
        `runSandbox(${handler});`,
      ].join('\n'),
      loader: 'ts',
      resolveDir: sourceOf('.'),
    }));
  },
});

/**
 * Builds every function's bundle into a directory of its own under the system's temporary
 * directory. By default the cloud's functions; a test names its own builders (a module whose
 * exports are FunctionBuilders, and which of them).
 */
export async function buildFunctionBundles(): Promise<FunctionBundles>;
export async function buildFunctionBundles<N extends string>(builders: { module: string; names: readonly N[] }): Promise<FunctionBundles<N>>;
export async function buildFunctionBundles(
  builders: { module: string; names: readonly string[] } = { module: sourceOf('./function-handlers.ts'), names: FUNCTION_HANDLER_NAMES },
): Promise<FunctionBundles<string>> {
  const dir = await mkdtemp(join(tmpdir(), 'relaymesh-functions-'));
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
      entryPoints: Object.fromEntries(builders.names.map((handler) => [handler, `${ENTRY_PREFIX}${handler}`])),
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      // As the Lambda bundles (lib/relaymesh-function.ts): the SDK's ES modules, and require() for the CommonJS dependencies.
      mainFields: ['module', 'main'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      plugins: [functionEntries(builders.module)],
      logLevel: 'error',
    });
    await Promise.all(outputFiles.map((file) => writeFile(file.path, file.contents)));
  } catch (error) {
    await remove();
    throw error;
  }
  return { file: (handler) => join(dir, `${handler}.mjs`), remove };
}
