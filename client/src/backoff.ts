export interface BackoffOptions {
  /** Delay ceiling of the first retry; it doubles with each failed attempt. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 30_000 };
/**
 * Reconnects: the first lands anywhere in the first second, so the clients of a failed region
 * arrive at ~N/s rather than all within 250 ms; those refused (429 past the quota) spread
 * over 2 s, 4 s, … from there.
 */
export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 30_000 };

/**
 * Exponential backoff with full jitter: a uniformly random delay in [0, min(maxMs, baseMs·2^attempt)).
 * Full jitter spreads a crowd of clients dropped by the same outage over the whole window, so
 * they do not reconnect to the surviving region in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  // Capping the exponent keeps 2^attempt finite however long an outage lasts.
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}
