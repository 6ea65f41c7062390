import { z } from 'zod';

export const TokenBucketOptionsSchema = z.object({
  /** Tokens added per second (steady rate). */
  ratePerSecond: z.number().positive(),
  /** Capacity: the most requests allowed at once after a quiet spell. */
  burst: z.number().int().min(1),
});

export type TokenBucketOptions = z.input<typeof TokenBucketOptionsSchema>;

/**
 * The token bucket API Gateway throttles with: it starts full, refills continuously at
 * `ratePerSecond` up to `burst`, and each request takes one token or is refused.
 */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly capacity: number;
  private tokens: number;
  private refilledAt: number;

  /** `now` returns milliseconds on a monotonic clock; tests pass their own. */
  constructor(
    options: TokenBucketOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    const { ratePerSecond, burst } = TokenBucketOptionsSchema.parse(options);
    this.ratePerMs = ratePerSecond / 1000;
    this.capacity = burst;
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Takes one token if there is one; false means "throttle this request". */
  tryTake(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.refilledAt) * this.ratePerMs);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
