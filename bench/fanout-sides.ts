import { join } from 'node:path';
import { BenchChild } from './child';

/** The two fan-outs `--compare-sample` runs side by side. */
export type FanoutSideName = 'relaymesh' | 'baseline';

/** What one round (one batch of messages) cost a side, as its process measured it. */
export interface FanoutCost {
  /** CPU (user + system) of the side's process while the round ran, µs. */
  cpuMicros: number;
  /** The system (kernel) part of cpuMicros: sockets, mostly. */
  systemCpuMicros: number;
  /** From handing the messages over to the last invocation's return, ms. */
  wallMs: number;
  /** Handler invocations: Relaymesh one per batch (plus redeliveries of failed records), the baseline one per message. */
  invocations: number;
  failedInvocations: number;
  /** PostToConnection calls that succeeded. */
  posted: number;
  /** DynamoDB items read (Query or Scan). */
  itemsRead: number;
  gone: number;
  /** Baseline only: Scans that had more than one page, whose later pages the sample style skips. */
  truncated: number;
  firstError?: string;
}

export type ToFanout =
  | { type: 'init'; side: FanoutSideName; env: Record<string, string> }
  | { type: 'run'; bodies: string[] }
  | { type: 'close' };

export type FromFanout = { type: 'ready' } | { type: 'ran'; cost?: FanoutCost; error?: string };

/** One side's process (fanout-process.ts), holding its handler and SDK clients warm between rounds. */
export class FanoutSide {
  private constructor(
    readonly name: FanoutSideName,
    private readonly child: BenchChild<ToFanout, FromFanout>,
  ) {}

  /**
   * `env` is the Lambda environment of the region it delivers in; `cpuProfileDir`, when set,
   * runs the process under `node --cpu-prof` and writes its profiles to `<dir>/<side>/` on close.
   */
  static async start(name: FanoutSideName, env: Record<string, string>, cpuProfileDir?: string): Promise<FanoutSide> {
    // A directory per side: Node names the files itself, one per thread (tsx's module loader has one too).
    const execArgv = cpuProfileDir ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${join(cpuProfileDir, name)}`] : undefined;
    const child = new BenchChild<ToFanout, FromFanout>(new URL('./fanout-process.ts', import.meta.url), `${name} fan-out process`, { ...(execArgv && { execArgv }) });
    const side = new FanoutSide(name, child);
    try {
      await child.request({ type: 'init', side: name, env }, 'ready');
    } catch (error) {
      await side.close();
      throw error;
    }
    return side;
  }

  /** Delivers these SQS message bodies (envelopes) as one round; throws when the side's code threw. */
  async run(bodies: string[]): Promise<FanoutCost> {
    const { cost, error } = await this.child.request({ type: 'run', bodies }, 'ran');
    if (!cost) throw new Error(`${this.name}: ${error}`);
    return cost;
  }

  close(): Promise<void> {
    return this.child.close({ type: 'close' });
  }
}
