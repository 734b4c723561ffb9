// RateLimiter contract, memory, Redis and Redis Cluster; and the Redis limiter's budget being one for all
// processes.
import { describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import type { RateLimiter } from '../../src/limits/rate-limiter.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { useRedis } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

type Make = (points: number, windowS: number, prefix: string) => Promise<RateLimiter>;

describe.each([
  ['memory', (async (points, windowS, prefix) => new MemoryRateLimiter(points, windowS, prefix)) satisfies Make],
  ['redis', (async (points, windowS, prefix) => new RedisRateLimiter(redis.client, points, windowS, prefix)) satisfies Make],
  ['redis-cluster', (async (points, windowS, prefix) => new RedisRateLimiter(cluster.client, points, windowS, prefix)) satisfies Make],
] as const)('RateLimiter contract: %s', (_name, make) => {
  it('grants `points` per key per window, then refuses with a retry delay', async () => {
    const limiter = await make(3, 30, 'chat');
    expect(await limiter.consume('u1')).toEqual({ allowed: true, retryAfterMs: 0, remaining: 2 });
    expect(await limiter.consume('u1')).toEqual({ allowed: true, retryAfterMs: 0, remaining: 1 });
    expect(await limiter.consume('u1')).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0 });
    const refused = await limiter.consume('u1');
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(25_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(30_000);
    // Other keys have their own budget.
    expect((await limiter.consume('u2')).allowed).toBe(true);
  });

  it('consumes several points at once and keeps limiters with different prefixes apart', async () => {
    const a = await make(5, 10, 'api');
    const b = await make(5, 10, 'auth');
    expect((await a.consume('ip', 4)).remaining).toBe(1);
    expect((await a.consume('ip', 2)).allowed).toBe(false);
    expect((await b.consume('ip', 5)).remaining).toBe(0);
  });

  it('reset forgets what a key spent, and only that key', async () => {
    const limiter = await make(2, 30, 'fail');
    await limiter.consume('alice', 2);
    await limiter.consume('bob', 2);
    expect((await limiter.consume('alice')).allowed).toBe(false);
    await limiter.reset('alice');
    expect(await limiter.consume('alice')).toEqual({ allowed: true, retryAfterMs: 0, remaining: 1 });
    expect((await limiter.consume('bob')).allowed).toBe(false);
    await limiter.reset('never-seen'); // nothing to forget: no error
  });

  it('starts a fresh window once the old one is over', async () => {
    const limiter = await make(1, 1, 'short');
    expect((await limiter.consume('k')).allowed).toBe(true);
    const refused = await limiter.consume('k');
    expect(refused.allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 50));
    expect((await limiter.consume('k')).allowed).toBe(true);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('RateLimiter, %s across processes', (_name, fixture) => {
  it('shares one budget between processes', async () => {
    const a = new RedisRateLimiter(fixture.client, 3, 30, 'chat');
    const b = new RedisRateLimiter(await fixture.connect(), 3, 30, 'chat');
    expect((await a.consume('u1')).remaining).toBe(2);
    expect((await b.consume('u1')).remaining).toBe(1);
    expect((await a.consume('u1')).remaining).toBe(0);
    expect((await b.consume('u1')).allowed).toBe(false);
    expect((await a.consume('u1')).allowed).toBe(false);
  });
});
