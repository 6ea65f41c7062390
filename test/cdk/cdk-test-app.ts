import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';

/**
 * An App for template tests: bundling is skipped (the standard `aws:cdk:bundling-stacks`
 * context), so no esbuild run and no handler entry file is needed, and the cloud assembly
 * goes to a fresh temporary directory.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({
    context: { 'aws:cdk:bundling-stacks': [], ...context },
    outdir: mkdtempSync(join(tmpdir(), 'relaymesh-cdk-')),
  });
}

/** A bare stack in a concrete region, for construct tests. */
export function testStack(region = 'us-east-1', app: App = testApp()): Stack {
  return new Stack(app, `test-${region}`, { env: { account: '123456789012', region } });
}

export interface ValidationViolation {
  readonly ruleName: string;
  readonly severity?: string;
  readonly violatingConstructs: readonly { readonly constructPath?: string }[];
}

/** The unacknowledged violations the synth's policy validation report (cdk-nag v3) lists. */
export function validationViolations(assemblyDirectory: string): ValidationViolation[] {
  const report = JSON.parse(readFileSync(join(assemblyDirectory, 'validation-report.json'), 'utf8')) as {
    pluginReports: { violations: ValidationViolation[] }[];
  };
  return report.pluginReports.flatMap((r) => r.violations);
}

/** Every stack of the app, the edge stack included when the edge mode has one. */
export function allStacks(stacks: { data: Stack; regions: readonly Stack[]; fanouts: readonly Stack[]; edge?: Stack }): Stack[] {
  return [stacks.data, ...stacks.regions, ...stacks.fanouts, ...(stacks.edge ? [stacks.edge] : [])];
}
