import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

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
