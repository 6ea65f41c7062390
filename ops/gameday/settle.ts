import { setTimeout as sleep } from 'node:timers/promises';

export interface SettleOptions {
  /** Whether every subscriber has everything it is owed. */
  readonly done: () => boolean;
  /** A count that grows whenever something owed arrives (deliveries handed to apps). */
  readonly progress: () => number;
  /** Give up once nothing has arrived for this long. */
  readonly quietMs: number;
  /** Give up after this long in all, even while things still trickle in. */
  readonly maxMs: number;
  readonly pollMs: number;
}

/**
 * Waits for the last deliveries after a drill. A cloud that fell behind is still delivering
 * its backlog: a fixed deadline would call those messages lost when they are only late. So the
 * wait ends when everything arrived, when nothing has arrived for `quietMs` (what is missing
 * then is lost), or at `maxMs`. Resolves to whether everything arrived.
 */
export async function awaitSettled({ done, progress, quietMs, maxMs, pollMs }: SettleOptions): Promise<boolean> {
  const giveUpAt = Date.now() + maxMs;
  let seen = progress();
  let lastArrivalAt = Date.now();
  while (!done()) {
    const now = Date.now();
    if (now - lastArrivalAt >= quietMs || now >= giveUpAt) return false;
    await sleep(pollMs);
    const current = progress();
    if (current !== seen) [seen, lastArrivalAt] = [current, Date.now()];
  }
  return true;
}
