import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateDecision, RateLimiter } from './rate-limiter.js';

export class MemoryRateLimiter implements RateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(points: number, windowS: number, keyPrefix: string) {
    this.limiter = new RateLimiterMemory({ points, duration: windowS, keyPrefix });
  }

  async consume(key: string, points = 1): Promise<RateDecision> {
    try {
      const res = await this.limiter.consume(key, points);
      return { allowed: true, retryAfterMs: 0, remaining: res.remainingPoints };
    } catch (err) {
      // The library rejects with a RateLimiterRes when the budget is spent, and with an Error otherwise.
      if (err instanceof RateLimiterRes) return { allowed: false, retryAfterMs: err.msBeforeNext, remaining: 0 };
      throw err;
    }
  }
}
