import { fork, type ChildProcess } from 'node:child_process';
import type { PhaseSummary } from './recorder';

/**
 * The subscribers live in a child process: the cloud's server-side sockets and the clients'
 * sockets then do not share one file-descriptor limit (10,000 subscribers need 20,000 fds),
 * and the cloud's memory figure is the cloud's alone.
 */

export interface SubscriberPoolOptions {
  /** Subscriber i connects to websocketUrls[i % length]: spread evenly over the regions. */
  websocketUrls: string[];
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
  | { type: 'phase'; ids: string[] }
  | { type: 'summarize' }
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

type Reply<T extends FromSubscribers['type']> = Extract<FromSubscribers, { type: T }>;

export class SubscriberPool {
  /** Distinct deliveries of the current phase so far, as last reported. */
  delivered = 0;
  private exited?: string;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: FromSubscribers) => {
      if (message.type === 'progress') this.delivered = message.delivered;
    });
    child.once('exit', (code, signal) => {
      this.exited = `the subscriber process exited (code ${code}, signal ${signal})`;
    });
  }

  /** Forks the subscriber process and resolves once every socket has connected and subscribed (or failed to). */
  static async start(
    options: SubscriberPoolOptions,
    onConnecting: (subscribed: number, failed: number) => void,
  ): Promise<{ pool: SubscriberPool; ready: ReadyReport }> {
    // The child inherits this process's execArgv, so under tsx it runs TypeScript too.
    const pool = new SubscriberPool(fork(new URL('./subscriber-process.ts', import.meta.url), { stdio: 'inherit' }));
    const onMessage = (message: FromSubscribers) => {
      if (message.type === 'connecting') onConnecting(message.subscribed, message.failed);
    };
    pool.child.on('message', onMessage);
    try {
      const ready = pool.reply('ready');
      pool.send({ type: 'start', ...options });
      const { type: _type, ...report } = await ready;
      return { pool, ready: report };
    } catch (error) {
      await pool.close();
      throw error;
    } finally {
      pool.child.off('message', onMessage);
    }
  }

  /** Starts counting deliveries of these message ids afresh. */
  beginPhase(ids: string[]): void {
    this.delivered = 0;
    this.send({ type: 'phase', ids });
  }

  async summarize(): Promise<{ summary: PhaseSummary; memory: ProcessMemory }> {
    const reply = this.reply('summary');
    this.send({ type: 'summarize' });
    return reply;
  }

  /** Closes every subscriber socket and waits for the process to exit. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.send({ type: 'close' });
    else this.child.kill();
    await exited;
  }

  private send(message: ToSubscribers): void {
    if (this.exited) throw new Error(this.exited);
    this.child.send(message);
  }

  private reply<T extends FromSubscribers['type']>(type: T): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromSubscribers) => {
        if (message.type !== type) return;
        this.child.off('exit', onExit);
        this.child.off('message', onMessage);
        resolve(message as Reply<T>);
      };
      const onExit = () => {
        this.child.off('message', onMessage);
        reject(new Error(this.exited));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }
}
