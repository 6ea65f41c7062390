/**
 * The code of each local function's sandbox: one esbuild bundle per function (one build for all),
 * whose entry runs function-sandbox.ts with that function's builder from function-handlers.ts.
 * As a Lambda bundle, each holds its function's code only; a sandbox loads it in a fresh worker
 * thread (thread-bundles.ts says why bundles).
 */
import type { Plugin } from 'esbuild';
import type * as handlers from './function-handlers';
import { buildThreadBundles, localSource, type ThreadBundles } from './thread-bundles';

export type FunctionHandlerName = keyof typeof handlers;
export const FUNCTION_HANDLER_NAMES = ['authorizer', 'connect', 'disconnect', 'messageRouter', 'deliveryWorker', 'edge'] as const satisfies readonly FunctionHandlerName[];

export type FunctionBundles<N extends string = FunctionHandlerName> = ThreadBundles<N>;

const ENTRY_PREFIX = 'relaymesh-function:';

/** Each entry is generated: the sandbox, given one builder of `builders` (a module's path). */
const functionEntries = (builders: string): Plugin => ({
  name: 'relaymesh-function-entries',
  setup(plugin) {
    plugin.onResolve({ filter: new RegExp(`^${ENTRY_PREFIX}`) }, ({ path }) => ({ path: path.slice(ENTRY_PREFIX.length), namespace: 'relaymesh-function' }));
    plugin.onLoad({ filter: /.*/, namespace: 'relaymesh-function' }, ({ path: handler }) => ({
      contents: [
        `import { runSandbox } from ${JSON.stringify(localSource('./function-sandbox.ts'))};`,
        `import { ${handler} } from ${JSON.stringify(builders)};`,
        `runSandbox(${handler});`,
      ].join('\n'),
      loader: 'ts',
      resolveDir: localSource('.'),
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
  builders: { module: string; names: readonly string[] } = { module: localSource('./function-handlers.ts'), names: FUNCTION_HANDLER_NAMES },
): Promise<FunctionBundles<string>> {
  return buildThreadBundles(
    Object.fromEntries(builders.names.map((handler) => [handler, `${ENTRY_PREFIX}${handler}`])),
    [functionEntries(builders.module)],
  );
}
