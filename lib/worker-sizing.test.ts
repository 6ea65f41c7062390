import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';
import { deliveryWorkerMemoryMb, fullBatchSeconds, sizeDeliveryWorker, workerSizingProblem } from './worker-sizing';

const capacity = { largestChannelSubscribers: 1000, cpuMsPerPost: 1.2, headroom: 1.5 };

describe('the delivery workers\' capacity model', () => {
  it('sizes a 10-event batch to 1,000 subscribers at 1.2 ms per post in a 30 s timeout at 1,088 MB: 10,000 posts, 12 s of one vCPU, 18 s with headroom', () => {
    // 18 s / 30 s = 0.6 vCPU = 1,061.4 MB, rounded up to a multiple of 64.
    expect(sizeDeliveryWorker({ batchSize: 10, visibilityTimeoutSeconds: 180 }, capacity)).toEqual({
      timeoutSeconds: 30,
      postsPerInvocation: 10_000,
      cpuSeconds: 12,
      memoryMb: 1088,
      feasible: true,
    });
  });

  it('never sizes below 256 MB, nor past one vCPU (1,769 MB), which is all one Node thread can use', () => {
    expect(sizeDeliveryWorker({ batchSize: 1, visibilityTimeoutSeconds: 180 }, { ...capacity, largestChannelSubscribers: 10 }).memoryMb).toBe(256);
    const tooBig = sizeDeliveryWorker({ batchSize: 10, visibilityTimeoutSeconds: 60 }, capacity);
    expect(tooBig).toMatchObject({ timeoutSeconds: 10, memoryMb: 1769, feasible: false });
  });

  it('times a full batch by the CPU share of the memory: 18 s of work takes 31.1 s at 1,024 MB and 18 s at 2,048 MB', () => {
    const sizing = sizeDeliveryWorker({ batchSize: 10, visibilityTimeoutSeconds: 180 }, capacity);
    expect(fullBatchSeconds(sizing, 1024, 1.5)).toBeCloseTo((12 * 1.5 * 1769) / 1024, 6);
    expect(fullBatchSeconds(sizing, 2048, 1.5)).toBe(18);
  });

  it('names the memory to set when the one given is too small, and the visibility timeout when no memory could do', () => {
    expect(workerSizingProblem({ batchSize: 10, visibilityTimeoutSeconds: 180 }, capacity, 1088)).toBeUndefined();
    expect(workerSizingProblem({ batchSize: 10, visibilityTimeoutSeconds: 180 }, capacity, 1024)).toEqual({
      setting: 'memoryMb',
      message:
        '1024 MB takes 31.1 s for a full batch to the largest channel (10 events × 1000 subscribers = 10000 posts, 12.0 s of CPU at one vCPU, × 1.5 headroom), ' +
        "past the worker's 30 s timeout: use at least 1088 MB, or leave it unset to derive it",
    });
    expect(workerSizingProblem({ batchSize: 10, visibilityTimeoutSeconds: 60 }, capacity, undefined)).toMatchObject({
      setting: 'visibilityTimeoutSeconds',
      message: expect.stringMatching(/does not fit the worker's 10 s timeout \(a sixth of 60 s\) even on a full vCPU: raise it to at least 108,/),
    });
  });
});

describe('the config\'s delivery worker sizes', () => {
  it('derives 1,088 MB for critical (30 s timeout) and 1,600 MB for ephemeral (20 s) by default, and keeps a memory that is set', () => {
    const config = loadConfig({});
    expect(config.functions.memoryMb.deliveryCritical).toBeUndefined();
    expect(deliveryWorkerMemoryMb(config, 'critical')).toBe(1088);
    expect(deliveryWorkerMemoryMb(config, 'ephemeral')).toBe(1600);
    expect(deliveryWorkerMemoryMb(loadConfig({ functions: { memoryMb: { deliveryCritical: 3008 } } }), 'critical')).toBe(3008);
  });

  it('refuses a config whose worker cannot deliver a full batch to its largest channel in time, naming the field', () => {
    expect(() => loadConfig({ functions: { memoryMb: { deliveryEphemeral: 512 } } })).toThrow(
      /^Invalid Relaymesh config: functions\.memoryMb\.deliveryEphemeral: 512 MB takes 62\.2 s for a full batch/,
    );
    expect(() => loadConfig({ capacity: { largestChannelSubscribers: 5000 } })).toThrow(
      /eventClasses\.critical\.visibilityTimeoutSeconds: a full batch to the largest channel \(10 events × 5000 subscribers = 50000 posts, 60\.0 s of CPU.*raise it to at least 540/,
    );
    expect(deliveryWorkerMemoryMb(loadConfig({ capacity: { largestChannelSubscribers: 5000 }, eventClasses: { critical: { visibilityTimeoutSeconds: 540 }, ephemeral: { visibilityTimeoutSeconds: 540 } } }), 'critical')).toBe(1769);
  });
});
