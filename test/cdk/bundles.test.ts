import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerName } from '../../lib/relaymesh-function';
import { buildBundles, type BuiltBundle } from '../../bench/bundles';

/** The AWS SDK clients each function uses (lambdas/<name>.ts): no bundle may hold another. */
const CLIENTS: Record<HandlerName, string[]> = {
  authorizer: ['@aws-sdk/client-secrets-manager'],
  connect: ['@aws-sdk/client-dynamodb'],
  disconnect: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sns'],
  'message-router': ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sns', '@aws-sdk/client-apigatewaymanagementapi'],
  'delivery-worker': ['@aws-sdk/client-dynamodb', '@aws-sdk/client-apigatewaymanagementapi', '@aws-sdk/client-sqs'],
  edge: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-sns', '@aws-sdk/client-ssm', '@aws-sdk/client-secrets-manager'],
};

/** The functions that report metrics (lambdas/metrics.ts): only their bundles hold Powertools Metrics. */
const METERED: readonly HandlerName[] = ['message-router', 'delivery-worker'];

/**
 * Ceilings, bytes, untraced: the sizes plus ~2.5 %, so a dependency that creeps back in fails
 * here. Every bundle holds the bundled SDK's shared core (~140 kB) plus its clients (README,
 * Benchmark) and the Powertools Logger (~24 kB); the metered ones Powertools Metrics (~12 kB).
 * Only the authorizer is within the 250 kB budget (BUNDLE_BUDGET_BYTES); the README says why
 * the others are not.
 */
const CEILING_BYTES: Record<HandlerName, number> = {
  authorizer: 236_000,
  connect: 279_000,
  disconnect: 318_000,
  'message-router': 380_000,
  'delivery-worker': 358_000,
  edge: 448_000,
};

/** SDK code that the SDK imports lazily and these functions never reach (lib/relaymesh-function.ts). */
const UNREACHED = ['node_modules/@smithy/core/dist-es/submodules/event-streams/', 'node_modules/@aws-sdk/credential-provider-ini/', 'node_modules/@aws-sdk/nested-clients/'];

describe('GIVEN every Lambda entry built with the CDK bundling options', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'relaymesh-bundles-'));
  let untraced: BuiltBundle[];
  let traced: BuiltBundle[];

  beforeAll(async () => {
    [untraced, traced] = await Promise.all([buildBundles(join(outDir, 'off'), { tracing: false }), buildBundles(join(outDir, 'on'), { tracing: true })]);
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('THEN each bundle holds the SDK clients its function uses and no other', () => {
    for (const bundle of untraced) {
      const clients = [...bundle.packages].filter((name) => name.startsWith('@aws-sdk/client-')).sort();
      expect(clients, bundle.handler).toEqual([...CLIENTS[bundle.handler]].sort());
    }
  });

  it('THEN no bundle holds classic zod, only zod/mini', () => {
    for (const bundle of untraced) {
      expect(bundle.inputs.filter((path) => path.includes('node_modules/zod/v4/mini/')), bundle.handler).not.toEqual([]);
      expect(bundle.inputs.filter((path) => path.includes('node_modules/zod/v4/classic/')), bundle.handler).toEqual([]);
    }
  });

  it('THEN an untraced bundle leaves the Tracer and the X-Ray SDK out, and a traced one has them', () => {
    for (const bundle of untraced) expect(bundle.packages.has('aws-xray-sdk-core'), bundle.handler).toBe(false);
    for (const bundle of traced) expect(bundle.packages.has('aws-xray-sdk-core'), bundle.handler).toBe(true);
  });

  it('THEN every bundle holds the Powertools Logger, and only the metered ones (delivery worker, router) Powertools Metrics', () => {
    for (const bundle of untraced) {
      expect(bundle.packages.has('@aws-lambda-powertools/logger'), bundle.handler).toBe(true);
      expect(bundle.packages.has('@aws-lambda-powertools/metrics'), bundle.handler).toBe(METERED.includes(bundle.handler));
    }
  });

  it('THEN no bundle holds the event-stream codec or the credential sources a Lambda function never reaches', () => {
    for (const bundle of [...untraced, ...traced]) {
      expect(bundle.inputs.filter((path) => UNREACHED.some((prefix) => path.includes(prefix))), bundle.handler).toEqual([]);
    }
  });

  it('THEN every bundle stays within its size ceiling', () => {
    for (const bundle of untraced) expect(bundle.bytes, bundle.handler).toBeLessThanOrEqual(CEILING_BYTES[bundle.handler]);
  });
});
