/**
 * What crosses between the local cloud (function-thread.ts, on the main thread) and a function's
 * sandbox (function-sandbox.ts, a worker thread of its own): the function's configuration as
 * worker data, invocations and fault settings in, results, failures and reports out. Each side
 * checks what it receives. zod/mini, as the Lambda code: the sandbox's bundle stays small.
 */
import type { LogLevel } from '../lib/config';
import * as z from '../lambdas/core/zod';
import { FAULT_KINDS } from './handler-faults';

export const FunctionConfigSchema = z.object({
  serviceName: z.string().check(z.minLength(1)),
  region: z.string().check(z.minLength(1)),
  /** The function's display name, as its alarms name it (e.g. messageRouter, delivery-critical). */
  name: z.string().check(z.minLength(1)),
  memoryMb: z.int().check(z.positive()),
  // The cloud's config checked the level; Powertools names any other.
  logLevel: z.custom<LogLevel>((value) => typeof value === 'string'),
  /** Whether fault injection may kill its invocations (lambda-function.ts LambdaInvocation). */
  killable: z.boolean(),
  /** The Lambda environment its runtime is built from (lambdas/core/runtime.ts runtimeFromEnv). */
  env: z.record(z.string(), z.string()),
  /** Its own seed of the cloud's fault schedule, so each function's faults repeat with the cloud's seed. */
  faultSeed: z.int(),
  /** The region's drain switch, one Int32 the cloud sets to 1 while the region is drained or failed: the edge reads it as its SSM parameter. */
  drainSwitch: z.instanceof(SharedArrayBuffer),
});
export type FunctionConfig = z.output<typeof FunctionConfigSchema>;

const HandlerFaultSettingsSchema = z.object({
  snsFailureRate: z.number().check(z.minimum(0), z.maximum(1)),
  dynamodbFailureRate: z.number().check(z.minimum(0), z.maximum(1)),
  dynamodbOperations: z.array(z.string()),
  killRate: z.number().check(z.minimum(0), z.maximum(1)),
  killAfterCalls: z.int().check(z.minimum(0)),
});

/** To the sandbox: an invocation (its event as the caller built it), or new fault settings for its AWS calls. */
export const SandboxRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('invoke'), id: z.int(), event: z.unknown() }),
  z.object({ type: z.literal('faults'), settings: HandlerFaultSettingsSchema }),
]);
export type SandboxRequest = z.output<typeof SandboxRequestSchema>;

const CountsSchema = z.record(z.string(), z.number());

/** What a sandbox has counted since it started, sent with every answer: the cloud keeps the latest. */
const ReportSchema = z.object({
  /** The Count metrics its handler reported, totalled by `<region>/<dimension values>` (cloud.ts metrics()). */
  metrics: z.record(z.string(), CountsSchema),
  /** The faults its AWS calls got (handler-faults.ts FaultStats). */
  faults: z.record(z.enum(FAULT_KINDS), z.number()),
});
export type Report = z.output<typeof ReportSchema>;

/** A thrown error, as much of it as its callers read: the API answers 500 and logs it, the event source mapping counts it. */
const ThrownSchema = z.object({ name: z.string(), message: z.string(), stack: z.optional(z.string()) });
export type Thrown = z.output<typeof ThrownSchema>;

/** From the sandbox: ready (its handler built), and per invocation its result or its failure. */
export const SandboxReplySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('result'), id: z.int(), value: z.unknown(), report: ReportSchema }),
  z.object({ type: z.literal('failure'), id: z.int(), error: ThrownSchema, report: ReportSchema }),
]);
export type SandboxReply = z.output<typeof SandboxReplySchema>;

/** Checks a message that crossed the boundary, naming what it should have been. */
export function received<S extends z.ZodMiniType>(schema: S, message: unknown, what: string): z.output<S> {
  const parsed = z.safeParse(schema, message);
  if (!parsed.success) throw new Error(`Invalid ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function thrown(error: unknown): Thrown {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: 'Error', message: String(error) };
}

/** The error a caller on this side sees: the same name and message, the stack of where it was thrown. */
export function rethrown({ name, message, stack }: Thrown): Error {
  const error = new Error(message);
  error.name = name;
  if (stack !== undefined) error.stack = stack;
  return error;
}
