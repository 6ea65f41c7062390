import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { EdgeFile } from '../edge-server';

let files: Promise<Record<string, EdgeFile>> | undefined;

/**
 * The dashboard's page and script by the path the edge serves them at. The script is bundled
 * from ./browser.ts by esbuild (already there for tsx and the CDK), once per process.
 */
export function loadDashboardFiles(): Promise<Record<string, EdgeFile>> {
  files ??= (async () => {
    const [page, bundle] = await Promise.all([
      readFile(new URL('dashboard.html', import.meta.url), 'utf8'),
      build({ entryPoints: [fileURLToPath(new URL('browser.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, minify: true, logLevel: 'silent' }),
    ]);
    return {
      '/dashboard': { contentType: 'text/html; charset=utf-8', body: page },
      '/dashboard/dashboard.js': { contentType: 'text/javascript; charset=utf-8', body: bundle.outputFiles[0]!.text },
    };
  })();
  return files;
}
