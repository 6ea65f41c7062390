/**
 * The Lambda bundles as the CDK deploys them: each handler built with the stack's own esbuild
 * options (lib/relaymesh-function.ts functionBundling), its size, and its module init CPU
 * time: the bundle imported in a fresh `node` with a Lambda-like environment, the CPU time
 * (user + system) of that import measured around it, the median of several runs. `npm run
 * bench` prints these before the fan-out; `npm run bench -- --bundles-only` prints only them.
 */
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { build, type BuildOptions } from 'esbuild';
import { functionBundling, handlerEntry, HANDLER_NAMES, type HandlerName } from '../lib/relaymesh-function';
import { formatCount, formatDecimal, percentile, type TableSection } from './stats';

/** The budget of issue 12: every bundle at most 250 kB (1 kB = 1,000 bytes), init at most 60 ms CPU. */
export const BUNDLE_BUDGET_BYTES = 250_000;
export const INIT_BUDGET_MS = 60;

/**
 * The esbuild build the CDK runs for these bundling options (aws-lambda-nodejs turns the same
 * fields into the same esbuild flags); the CDK writes `index.mjs` for ESM.
 */
export function esbuildOptionsOf(bundling: BundlingOptions, entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: bundling.target,
    format: bundling.format,
    minify: bundling.minify,
    sourcemap: bundling.sourceMap,
    mainFields: bundling.mainFields,
    external: bundling.externalModules,
    define: bundling.define,
    banner: bundling.banner ? { js: bundling.banner } : undefined,
    logLevel: 'error',
  };
}

export interface BuiltBundle {
  readonly handler: HandlerName;
  readonly file: string;
  readonly bytes: number;
  /** The source files with code in the bundle, relative to the repository. */
  readonly inputs: readonly string[];
  /** The npm packages with code in the bundle, e.g. `@aws-sdk/client-sns`, `zod`. */
  readonly packages: ReadonlySet<string>;
}

/** Builds every handler into `<outDir>/<handler>/index.mjs`, as `cdk synth` would. */
export async function buildBundles(outDir: string, options: { tracing: boolean }): Promise<BuiltBundle[]> {
  const bundling = functionBundling(options);
  return Promise.all(
    HANDLER_NAMES.map(async (handler) => {
      const file = join(outDir, handler, 'index.mjs');
      const { metafile } = await build({ ...esbuildOptionsOf(bundling, handlerEntry(handler), file), metafile: true });
      const output = Object.values(metafile.outputs).find((o) => o.entryPoint)!;
      const inputs = Object.entries(output.inputs)
        .filter(([, input]) => input.bytesInOutput > 0)
        .map(([path]) => path);
      const packages = inputs.map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1]).filter((name) => name !== undefined);
      return { handler, file, bytes: statSync(file).size, inputs, packages: new Set(packages) };
    }),
  );
}

/**
 * What Lambda gives a function's module at init: the runtime contract (lambdas/core/runtime.ts)
 * with the variables each handler checks at init, and credentials in the environment.
 */
function lambdaEnvironment(handler: HandlerName, tracing: boolean): Record<string, string> {
  const region = 'us-east-1';
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: region,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `relaymesh-${handler}`,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: 'bench',
    CONNECTIONS_TABLE: 'relaymesh-connections',
    SUBSCRIPTIONS_TABLE: 'relaymesh-subscriptions',
    PRESENCE_TABLE: 'relaymesh-presence',
    SEQUENCES_TABLE: 'relaymesh-sequences',
    HISTORY_TABLE: 'relaymesh-history',
    DEDUP_TABLE: 'relaymesh-dedup',
    REGIONS: `${region},eu-west-1`,
    TOPIC_ARN: `arn:aws:sns:${region}:123456789012:relaymesh-fanout`,
    CONNECTIONS_ENDPOINT: `https://abc123.execute-api.${region}.amazonaws.com/live`,
    JWT_SECRET_ARN: `arn:aws:secretsmanager:${region}:123456789012:secret:relaymesh-jwt`,
    QUEUE_URL: `https://sqs.${region}.amazonaws.com/123456789012/relaymesh-critical`,
    EVENT_CLASS: 'critical',
    WEBSOCKET_URL: `wss://abc123.execute-api.${region}.amazonaws.com/live`,
    DRAIN_PARAMETER_NAME: '/relaymesh/drained',
    POWERTOOLS_SERVICE_NAME: 'relaymesh',
    POWERTOOLS_TRACE_ENABLED: String(tracing),
  };
}

/**
 * Imports the module and prints the CPU microseconds the import took. Lambda's Node.js runtime
 * is itself ES modules and has loaded its own files before it imports the handler, so an empty
 * module file is imported first: Node's first file import from `-e` costs ~7 ms of its own
 * loader set-up, which is no part of the bundle's init.
 */
const MEASURE_IMPORT =
  'await import(process.argv[2]); const start = process.cpuUsage(); await import(process.argv[1]); const used = process.cpuUsage(start); console.log(used.user + used.system);';

/** The empty module imported before the measured one, beside the bundles. */
function runtimeStandIn(outDir: string): string {
  const file = join(outDir, 'runtime-stand-in.mjs');
  writeFileSync(file, 'export {};\n');
  return file;
}

const run = promisify(execFile);

/** Module init CPU time of one bundle in a fresh process, ms. */
async function initCpuMs(bundle: BuiltBundle, tracing: boolean, standIn: string): Promise<number> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', MEASURE_IMPORT, bundle.file, standIn], {
    env: lambdaEnvironment(bundle.handler, tracing),
  });
  const micros = Number(stdout.trim().split('\n').at(-1));
  if (!Number.isFinite(micros)) throw new Error(`bench: ${bundle.handler} printed no init time: ${stdout}`);
  return micros / 1000;
}

export interface BundleFigures extends BuiltBundle {
  readonly initMs: number;
}

/** Sizes and median init CPU of every bundle; runs one process at a time, so they do not compete. */
export async function measureBundles(outDir: string, options: { tracing: boolean; runs: number }): Promise<BundleFigures[]> {
  const figures: BundleFigures[] = [];
  const bundles = await buildBundles(outDir, options);
  const standIn = runtimeStandIn(outDir);
  for (const bundle of bundles) {
    const times: number[] = [];
    for (let i = 0; i < options.runs; i++) times.push(await initCpuMs(bundle, options.tracing, standIn));
    figures.push({ ...bundle, initMs: percentile(times.sort((x, y) => x - y), 50) });
  }
  return figures;
}

/** One table section per tracing setting: size and init per function, against the budget. */
export function bundleSection(figures: readonly BundleFigures[], options: { tracing: boolean; runs: number }): TableSection {
  const within = (ok: boolean) => (ok ? 'ok' : 'OVER');
  return {
    title: `Lambda bundles, tracing ${options.tracing ? 'on' : 'off'} (kB = 1,000 bytes; init: median CPU of ${options.runs} imports; budget ${BUNDLE_BUDGET_BYTES / 1000} kB, ${INIT_BUDGET_MS} ms)`,
    rows: figures.map((f) => [
      f.handler,
      `${formatCount(f.bytes / 1000).padStart(5)} kB ${within(f.bytes <= BUNDLE_BUDGET_BYTES)}   init ${formatDecimal(f.initMs).padStart(7)} ms ${within(f.initMs <= INIT_BUDGET_MS)}`,
    ]),
  };
}
