import { BenchChild } from './child';
import type { PhaseSummary } from './recorder';

/**
 * The subscribers live in a child process: the cloud's server-side sockets and the clients'
 * sockets then do not share one file-descriptor limit (10,000 subscribers need 20,000 fds),
 * and the cloud's memory figure is the cloud's alone.
 */

export interface SubscriberPoolOptions {
  /** Subscriber i connects to websocketUrls[i % length]: spread evenly over the regions. */
  websocketUrls: string[];
  /** The region of each of websocketUrls, when latency is to be told apart by route (same-region or cross-region). */
  regions?: string[];
  token: string;
  count: number;
  channel: string;
  /** Sockets connecting and subscribing at once. */
  concurrency: number;
  /** Per connect and per subscribe request. */
  timeoutMs: number;
}

export interface ProcessMemory {
  rssBytes: number;
  peakRssBytes: number;
}

export type ToSubscribers =
  | ({ type: 'start' } & SubscriberPoolOptions)
  | { type: 'phase' }
  | { type: 'summarize'; expectedKeys: string[] }
  | { type: 'close' };

export interface ReadyReport {
  subscribed: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
}

export type FromSubscribers =
  | { type: 'connecting'; subscribed: number; failed: number }
  | ({ type: 'ready' } & ReadyReport)
  | { type: 'progress'; delivered: number }
  | { type: 'summary'; summary: PhaseSummary; memory: ProcessMemory }
  | { type: 'closed' };

export class SubscriberPool {
  /** Distinct deliveries of the current phase so far, as last reported. */
  delivered = 0;

  private constructor(private readonly child: BenchChild<ToSubscribers, FromSubscribers>) {
    child.listen((message) => {
      if (message.type === 'progress') this.delivered = message.delivered;
    });
  }

  /** Forks the subscriber process and resolves once every socket has connected and subscribed (or failed to). */
  static async start(
    options: SubscriberPoolOptions,
    onConnecting: (subscribed: number, failed: number) => void,
  ): Promise<{ pool: SubscriberPool; ready: ReadyReport }> {
    const pool = new SubscriberPool(new BenchChild(new URL('./subscriber-process.ts', import.meta.url), 'subscriber process'));
    const stopListening = pool.child.listen((message) => {
      if (message.type === 'connecting') onConnecting(message.subscribed, message.failed);
    });
    try {
      const { type: _type, ...report } = await pool.child.request({ type: 'start', ...options }, 'ready');
      return { pool, ready: report };
    } catch (error) {
      await pool.close();
      throw error;
    } finally {
      stopListening();
    }
  }

  /** Starts counting frames and deliveries afresh; what arrived before still counts for duplicates. */
  beginPhase(): void {
    this.delivered = 0;
    this.child.send({ type: 'phase' });
  }

  /** What arrived of these messages (by `deliveryKey`) over the whole run, with this phase's frame counts. */
  async summarize(expectedKeys: string[]): Promise<{ summary: PhaseSummary; memory: ProcessMemory }> {
    return this.child.request({ type: 'summarize', expectedKeys }, 'summary');
  }

  /** Closes every subscriber socket and waits for the process to exit. */
  close(): Promise<void> {
    return this.child.close({ type: 'close' });
  }
}
