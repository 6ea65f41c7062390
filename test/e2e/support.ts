import WebSocket from 'ws';
import { afterEach, beforeEach } from 'vitest';
import { loadConfig, type RelaymeshConfigInput } from '../../lib/config';
import type { Claims } from '../../lambdas/core/auth';
import { startLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../local/cloud';
import { mintToken } from '../../local/dev-token';

export const TEST_SECRET = 'relaymesh-end-to-end-test-secret-0123456789';

/** A whole local cloud on free ports, with a short replication lag and fast health checks; `faults` are injected from the start. */
/**
 * The capacity model for a test cloud whose visibility timeouts are a second or two, so redeliveries
 * and dead letters come fast: workers with such short timeouts are sized for small channels only.
 */
export const SMALL_CHANNELS = { largestChannelSubscribers: 10 };

export async function startTestCloud(
  overrides: RelaymeshConfigInput = {},
  faults: Pick<LocalCloudOptions, 'faults' | 'faultSeed'> = {},
): Promise<LocalCloud> {
  return startLocalCloud({
    config: loadConfig({ ...overrides, local: { replicationLagMs: 100, ...overrides.local } }),
    jwtSecret: TEST_SECRET,
    healthCheckIntervalMs: 200,
    ...faults,
  });
}

export const tokenFor = (claims: Partial<Claims> = {}) =>
  mintToken(TEST_SECRET, { sub: 'tester', subscribe: ['*'], publish: ['*'], ...claims });

export type Frame = Record<string, unknown> & { type?: string };

/** A WebSocket client that records every frame, for asserting what arrived and what did not. */
export class TestClient {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  private waiters: Array<() => void> = [];
  private refCounter = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      // A batch frame carries several events for this connection: record them one by one, and the batch too.
      this.frames.push(...(frame.type === 'batch' ? [frame, ...(frame.frames as Frame[])] : [frame]));
      this.notify();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.notify();
    });
  }

  static async connect(websocketUrl: string, token: string | undefined): Promise<TestClient> {
    const url = token === undefined ? websocketUrl : `${websocketUrl}?token=${encodeURIComponent(token)}`;
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      socket.once('error', reject);
    });
    return new TestClient(socket);
  }

  private notify() {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * Waits until a frame matching `predicate` has arrived, and returns it. It has no deadline of
   * its own: the test's timeout bounds it, and a test that fails while it waits says what it awaited.
   */
  async waitFor(predicate: (frame: Frame) => boolean, awaited = 'a matching frame'): Promise<Frame> {
    return this.until(() => {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) before ${awaited}; got ${JSON.stringify(this.frames)}`);
      return undefined;
    }, awaited);
  }

  /** Waits until the socket has closed, and returns the close code. */
  async waitForClose(): Promise<number> {
    return this.until(() => this.closeCode, 'the socket to close');
  }

  /** Checks `outcome` on every frame and on close until it gives a value. */
  private until<T>(outcome: () => T | undefined, awaited: string): Promise<T> {
    return untilTestEnds(awaited, async (ended) => {
      let wake = () => {};
      const onEnd = () => wake();
      ended.addEventListener('abort', onEnd, { once: true });
      try {
        for (;;) {
          ended.throwIfAborted();
          const value = outcome();
          if (value !== undefined) return value;
          await new Promise<void>((resolve) => {
            wake = resolve;
            this.waiters.push(resolve);
          });
        }
      } finally {
        ended.removeEventListener('abort', onEnd);
      }
    });
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Sends a frame with a fresh ref and waits for the ack, error or pong that answers it. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const ref = `r${++this.refCounter}`;
    this.socket.send(JSON.stringify({ ...frame, ref }));
    return this.waitFor((f) => f.ref === ref, `the answer to ${String(frame.action)} ${ref}`);
  }

  messages(channel?: string): Frame[] {
    return this.frames.filter((f) => f.type === 'message' && (channel === undefined || f.channel === channel));
  }

  close(): void {
    this.socket.close();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns a truthy value. Like every wait here it has no deadline of its
 * own, so a loaded machine only makes it slower: the test's timeout bounds it.
 */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, awaited = 'a condition', intervalMs = 100): Promise<T> {
  return untilTestEnds(awaited, async (ended) => {
    for (;;) {
      ended.throwIfAborted();
      const value = await check();
      if (value) return value;
      await sleep(intervalMs);
    }
  });
}

/**
 * Waits until no delivery is pending in `regions`: every queue, event class and region, is empty
 * with nothing in flight (a message being delivered or waiting for a retry stays in flight), so
 * whatever was going to reach a client has reached it, and a duplicate would have shown up.
 */
export async function deliveriesSettled(cloud: LocalCloud, regions = Object.keys(cloud.regions)): Promise<void> {
  await eventually(async () => {
    const { regions: statuses } = await cloud.status();
    return statuses
      .filter((status) => regions.includes(status.region))
      .every((status) => status.queues.every((queue) => queue.visible === 0 && queue.inFlight === 0));
  }, `every queue in ${regions.join(', ')} to be empty with nothing in flight`);
}

/** What the tests of this file are waiting for right now, and the signal that ends those waits with the test. */
const pendingWaits = new Set<{ awaited: string }>();
let testEnded = new AbortController();

beforeEach(() => {
  testEnded = new AbortController();
});

afterEach(({ task }) => {
  // A wait is bounded by its test's timeout: when that fires, say what the test was waiting for.
  if (task.result?.state === 'fail' && pendingWaits.size > 0) console.error(`"${task.name}" was still waiting for: ${[...pendingWaits].map((w) => w.awaited).join('; ')}`);
  pendingWaits.clear();
  testEnded.abort();
});

async function untilTestEnds<T>(awaited: string, wait: (ended: AbortSignal) => Promise<T>): Promise<T> {
  const pending = { awaited };
  pendingWaits.add(pending);
  const ended = testEnded.signal;
  try {
    return await wait(ended);
  } catch (error) {
    // The test is over (its timeout fired) and nobody awaits this any more: stay pending, as the
    // abandoned test does, rather than reject where no one listens (an unhandled rejection).
    if (ended.aborted) return new Promise<never>(() => undefined);
    throw error;
  } finally {
    pendingWaits.delete(pending);
  }
}
