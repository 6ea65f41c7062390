import WebSocket from 'ws';
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

  /** Waits until a frame matching `predicate` has arrived, and returns it. */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) before the expected frame`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Sends a frame with a fresh ref and waits for the ack, error or pong that answers it. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const ref = `r${++this.refCounter}`;
    this.socket.send(JSON.stringify({ ...frame, ref }));
    return this.waitFor((f) => f.ref === ref);
  }

  messages(channel?: string): Frame[] {
    return this.frames.filter((f) => f.type === 'message' && (channel === undefined || f.channel === channel));
  }

  async waitForClose(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.closeCode === undefined) throw new Error('socket did not close');
    return this.closeCode;
  }

  close(): void {
    this.socket.close();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}
