// The rate-limit port and its memory driver (one process's budget); redis-rate-limiter.ts shares it cluster-wide.
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until one more point is available. */
  retryAfterMs: number;
  remaining: number;
}

/** A fixed budget of points per key per window. */
export interface RateLimiter {
  consume(key: string, points?: number): Promise<RateDecision>;
  /** Forgets what `key` spent in this window (a failure counter cleared by a success). */
  reset(key: string): Promise<void>;
}

/** One consume on a rate-limiter-flexible limiter (any store), as a decision instead of a rejection. */
export async function decide(limiter: RateLimiterAbstract, key: string, points: number): Promise<RateDecision> {
  try {
    const res = await limiter.consume(key, points);
    return { allowed: true, retryAfterMs: 0, remaining: res.remainingPoints };
  } catch (err) {
    // The library rejects with a RateLimiterRes when the budget is spent, and with an Error otherwise.
    if (err instanceof RateLimiterRes) return { allowed: false, retryAfterMs: err.msBeforeNext, remaining: 0 };
    throw err;
  }
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(points: number, windowS: number, keyPrefix: string) {
    this.limiter = new RateLimiterMemory({ points, duration: windowS, keyPrefix });
  }

  consume(key: string, points = 1): Promise<RateDecision> {
    return decide(this.limiter, key, points);
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}
