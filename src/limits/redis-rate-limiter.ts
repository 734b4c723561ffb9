// A rate limit shared by every process: rate-limiter-flexible's RateLimiterRedis keeps one counter per key
// in Redis (`cp:rl:<keyPrefix>:<key>`, a script that increments and sets the window's expiry at once),
// so N gateway processes together grant `points` per window, not N x `points`.
//
// Redis down: neither fail open (no limits at all during an outage, exactly when a flood hurts most) nor
// fail closed (every request refused because a cache is away). With `rejectIfRedisNotReady` the limiter
// does not even try Redis while the client is not ready and, like on any Redis error, asks its
// `insuranceLimiter` instead: an in-memory limiter with the same budget, so each process still enforces
// the limit on its own (the cluster-wide allowance becomes up to N x `points` until Redis is back).
//
// Redis Cluster: the library's script touches one key per call, so the counters need no hash tag and spread
// over the masters; a master that is down (until its replica takes over) sends the keys it serves to the
// insurance limiter, like an outage of a single Redis.
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { KEY_PREFIX, type RedisClient } from '../redis/connection.js';
import { decide, type RateDecision, type RateLimiter } from './rate-limiter.js';

export interface RedisRateLimiterOptions {
  /** Redis key prefix before the limiter's own, `cp:` by default. */
  prefix?: string;
  /** Per-process budget while Redis is unreachable; `points` by default. */
  insurancePoints?: number;
}

export class RedisRateLimiter implements RateLimiter {
  private readonly limiter: RateLimiterRedis;

  constructor(client: RedisClient, points: number, windowS: number, keyPrefix: string, options: RedisRateLimiterOptions = {}) {
    this.limiter = new RateLimiterRedis({
      storeClient: client,
      // ioredis, not node-redis: the library then calls ioredis's API (and defines its script on the client).
      useRedisPackage: false,
      rejectIfRedisNotReady: true,
      points,
      duration: windowS,
      keyPrefix: `${options.prefix ?? KEY_PREFIX}rl:${keyPrefix}`,
      insuranceLimiter: new RateLimiterMemory({ points: options.insurancePoints ?? points, duration: windowS, keyPrefix }),
    });
  }

  consume(key: string, points = 1): Promise<RateDecision> {
    return decide(this.limiter, key, points);
  }

  async reset(key: string): Promise<void> {
    // Redis unreachable: the library clears the insurance limiter's count instead.
    await this.limiter.delete(key);
  }
}
