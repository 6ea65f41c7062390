/**
 * The delivery workers' capacity model: how much CPU one invocation of a full batch needs, and the
 * memory (Lambda's CPU share grows with it) that fits it inside the function's timeout.
 *
 * A delivery worker is CPU-bound: its posts run concurrently, and each PostToConnection costs the
 * same CPU whatever the concurrency (README, Benchmark). A full batch to the largest channel is
 * `batchSize` events × `largestChannelSubscribers` posts in the worst case: events share a
 * subscriber's frame only while their bytes fit one frame, and one event may fill a frame on its
 * own. Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB; Node
 * runs the handler on one thread, so memory past that buys this worker nothing.
 */
import type { CapacitySettings, EventClass, EventClassSettings, RelaymeshConfig } from './config';

/** Memory at which Lambda allocates one full vCPU (Lambda Developer Guide, "Configure Lambda function memory"). */
export const ONE_VCPU_MEMORY_MB = 1769;
/** The derived memory is rounded up to a multiple of this (Lambda itself takes 1 MB steps). */
const MEMORY_STEP_MB = 64;
const MIN_MEMORY_MB = 256;
/** Lambda's ceiling and a floor for a function timeout. */
const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
const MIN_FUNCTION_TIMEOUT_SECONDS = 3;

/** Which config field of each class holds its worker's memory. */
export const DELIVERY_MEMORY_KEY = { critical: 'deliveryCritical', ephemeral: 'deliveryEphemeral' } as const satisfies Record<EventClass, string>;

export interface WorkerSizing {
  /** The function's timeout: AWS's guidance for SQS event sources is visibility ≥ 6 × timeout. */
  readonly timeoutSeconds: number;
  /** Posts of a full batch to the largest channel, the worst case. */
  readonly postsPerInvocation: number;
  /** CPU seconds those posts take at one full vCPU. */
  readonly cpuSeconds: number;
  /** The smallest memory (a multiple of 64 MB, at least 256 MB) whose CPU share fits them, with headroom, in the timeout. */
  readonly memoryMb: number;
  /** False when even a full vCPU cannot: the timeout, the batch or the largest channel has to change. */
  readonly feasible: boolean;
}

type SizingSettings = Pick<EventClassSettings, 'batchSize' | 'visibilityTimeoutSeconds'>;

export function sizeDeliveryWorker(settings: SizingSettings, capacity: CapacitySettings): WorkerSizing {
  const timeoutSeconds = Math.min(
    MAX_FUNCTION_TIMEOUT_SECONDS,
    Math.max(MIN_FUNCTION_TIMEOUT_SECONDS, Math.floor(settings.visibilityTimeoutSeconds / 6)),
  );
  const postsPerInvocation = settings.batchSize * capacity.largestChannelSubscribers;
  const cpuSeconds = (postsPerInvocation * capacity.cpuMsPerPost) / 1000;
  const neededShare = (cpuSeconds * capacity.headroom) / timeoutSeconds;
  const memoryMb = Math.max(MIN_MEMORY_MB, Math.ceil((neededShare * ONE_VCPU_MEMORY_MB) / MEMORY_STEP_MB) * MEMORY_STEP_MB);
  return { timeoutSeconds, postsPerInvocation, cpuSeconds, memoryMb: Math.min(memoryMb, ONE_VCPU_MEMORY_MB), feasible: neededShare <= 1 };
}

/** Seconds a full batch to the largest channel takes at `memoryMb`, headroom included. */
export function fullBatchSeconds(sizing: WorkerSizing, memoryMb: number, headroom: number): number {
  return (sizing.cpuSeconds * headroom) / Math.min(1, memoryMb / ONE_VCPU_MEMORY_MB);
}

/**
 * Why a worker with these settings (and `memoryMb`, when one is set) cannot deliver a full batch to
 * the largest channel inside its timeout, naming the setting to change; undefined when it can.
 */
export function workerSizingProblem(
  settings: SizingSettings,
  capacity: CapacitySettings,
  memoryMb: number | undefined,
): { setting: 'visibilityTimeoutSeconds' | 'memoryMb'; message: string } | undefined {
  const sizing = sizeDeliveryWorker(settings, capacity);
  const work =
    `a full batch to the largest channel (${settings.batchSize} events × ${capacity.largestChannelSubscribers} subscribers = ` +
    `${sizing.postsPerInvocation} posts, ${sizing.cpuSeconds.toFixed(1)} s of CPU at one vCPU, × ${capacity.headroom} headroom)`;
  if (!sizing.feasible) {
    return {
      setting: 'visibilityTimeoutSeconds',
      message:
        `${work} does not fit the worker's ${sizing.timeoutSeconds} s timeout (a sixth of ${settings.visibilityTimeoutSeconds} s) even on a full vCPU: ` +
        `raise it to at least ${6 * Math.ceil(sizing.cpuSeconds * capacity.headroom)}, or lower batchSize or capacity.largestChannelSubscribers`,
    };
  }
  if (memoryMb === undefined) return undefined;
  const seconds = fullBatchSeconds(sizing, memoryMb, capacity.headroom);
  if (seconds <= sizing.timeoutSeconds) return undefined;
  return {
    setting: 'memoryMb',
    message: `${memoryMb} MB takes ${seconds.toFixed(1)} s for ${work}, past the worker's ${sizing.timeoutSeconds} s timeout: use at least ${sizing.memoryMb} MB, or leave it unset to derive it`,
  };
}

/** A class's worker memory under a config: the one set, or else the capacity model's. */
export function deliveryWorkerMemoryMb(config: RelaymeshConfig, eventClass: EventClass): number {
  return config.functions.memoryMb[DELIVERY_MEMORY_KEY[eventClass]] ?? sizeDeliveryWorker(config.eventClasses[eventClass], config.capacity).memoryMb;
}
