import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root: handler entries live in `<root>/lambdas/<name>.ts`. */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda entry files of lambdas/, each exporting `handler`. */
export const HANDLER_NAMES = ['authorizer', 'connect', 'disconnect', 'message-router', 'delivery-worker', 'edge'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** The entry file of a handler. */
export function handlerEntry(handler: HandlerName): string {
  return `${repoRoot}lambdas/${handler}.ts`;
}

/**
 * Credential sources the SDK's default chain imports lazily (`await import(...)`) and a Lambda
 * function never reaches: the runtime builds its clients with the credentials Lambda puts in
 * the environment. Left out of the bundle (~75 kB); were one ever reached, it would resolve to
 * the Node.js runtime's own SDK copy, as every external does.
 */
const UNREACHED_CREDENTIAL_SOURCES = [
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

/**
 * The event-stream codec (~15-20 kB), which the SDK's protocols import lazily (`await
 * import(...)`) only to send or read an operation's event-stream member. No client the handlers
 * use (DynamoDB, SNS, SQS, SSM, Secrets Manager, API Gateway Management) has an operation with
 * one; a client that does (Kinesis SubscribeToShard, a Bedrock stream, S3 SelectObjectContent)
 * would need it back in the bundle.
 */
const UNREACHED_EVENT_STREAMS = ['@smithy/core/event-streams'];

/**
 * How every handler is bundled: one minified ESM file with a source map file beside it. The
 * tracing choice is written into the bundle (POWERTOOLS_TRACE_ENABLED, read by
 * lambdas/tracing.ts), so an untraced bundle leaves the Tracer and the X-Ray SDK out. The
 * bundle bench (bench/bundles.ts) and the bundle size test build with exactly these options.
 */
export function functionBundling(options: { tracing: boolean }): BundlingOptions {
  return {
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    mainFields: ['module', 'main'],
    // The same SDK version the local cloud tests run, not whatever the runtime ships.
    bundleAwsSDK: true,
    externalModules: [...UNREACHED_CREDENTIAL_SOURCES, ...UNREACHED_EVENT_STREAMS],
    minify: true,
    sourceMap: true,
    target: 'node22',
    define: { 'process.env.POWERTOOLS_TRACE_ENABLED': JSON.stringify(String(options.tracing)) },
    // Some bundled dependencies are CommonJS and call require(); ESM bundles need a shim.
    banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  };
}

/** Every Relaymesh Lambda runs on this runtime and architecture. */
export const FUNCTION_RUNTIME = Runtime.NODEJS_22_X;
export const FUNCTION_ARCHITECTURE = Architecture.ARM_64;

export interface RelaymeshFunctionProps {
  /** Which lambdas/<handler>.ts to bundle. */
  readonly handler: HandlerName;
  /** Environment: the runtime contract of lambdas/core/runtime.ts plus function-specific variables. */
  readonly environment: Record<string, string>;
  /**
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * X-Ray active tracing, recorded by the Powertools Tracer in lambdas/tracing.ts.
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * Source maps are always written beside the bundle; this applies them to stack traces at
   * run time (`--enable-source-maps`), which costs init CPU on every cold start.
   * @default false
   */
  readonly sourceMaps?: boolean;
}

/**
 * A Relaymesh handler as a NodejsFunction: bundled by the locally installed esbuild (never
 * Docker) into one ESM file, nodejs22.x on ARM64, with its own log group so retention is set,
 * and X-Ray active tracing unless turned off.
 */
export class RelaymeshFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: RelaymeshFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const tracing = props.tracing ?? true;
    super(scope, id, {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: `${repoRoot}package-lock.json`,
      runtime: FUNCTION_RUNTIME,
      architecture: FUNCTION_ARCHITECTURE,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      logGroup,
      tracing: tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: {
        ...props.environment,
        ...(props.sourceMaps && { NODE_OPTIONS: '--enable-source-maps' }),
        POWERTOOLS_TRACE_ENABLED: String(tracing),
        // Responses carry user data (frames, tokens' claims); traces keep timings and errors only.
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
      },
      bundling: functionBundling({ tracing }),
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The AWS-maintained execution policy grants only CreateLogGroup/CreateLogStream/PutLogEvents; every other permission is a scoped grant.',
    });
    if (tracing) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions; test/cdk checks they are the only wildcard any function gets.',
      });
    }
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to nodejs22.x, the runtime the handlers are bundled (esbuild target node22) and tested for; a runtime bump is a deliberate, tested change.',
    });
  }
}
