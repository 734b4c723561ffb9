import { RateLimiterMemory } from 'rate-limiter-flexible';
import { decide, type RateDecision, type RateLimiter } from './rate-limiter.js';

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
