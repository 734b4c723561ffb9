// LikeStore contract, memory, Redis and Redis Cluster.
import { describe, expect, it } from 'vitest';
import { MemoryLikeStore, type LikeStore } from '../../src/channels/likes.js';
import { RedisLikeStore } from '../../src/channels/redis-likes.js';
import { hashSlot } from '../../src/redis/keys.js';
import { useRedis } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

describe.each([
  ['memory', async (): Promise<LikeStore> => new MemoryLikeStore()],
  ['redis', async (): Promise<LikeStore> => new RedisLikeStore(redis.client)],
  ['redis-cluster', async (): Promise<LikeStore> => new RedisLikeStore(cluster.client)],
] as const)('LikeStore contract: %s', (_name, make) => {
  it('counts channel likes per channel', async () => {
    const likes = await make();
    expect(await likes.total('room:a')).toBe(0);
    expect(await likes.likeChannel('room:a')).toEqual({ total: 1 });
    expect(await likes.likeChannel('room:a')).toEqual({ total: 2 });
    expect(await likes.likeChannel('room:b')).toEqual({ total: 1 });
    expect(await likes.total('room:a')).toBe(2);
    expect(await likes.total('room:b')).toBe(1);
  });

  it('counts one like per user per message, and message likes in the channel total', async () => {
    const likes = await make();
    await likes.likeChannel('room:a');
    expect(await likes.likeMessage('room:a', 'm1', 'u1')).toEqual({ total: 2, messageLikes: 1 });
    expect(await likes.likeMessage('room:a', 'm1', 'u1')).toBeNull();
    expect(await likes.total('room:a')).toBe(2);
    expect(await likes.likeMessage('room:a', 'm1', 'u2')).toEqual({ total: 3, messageLikes: 2 });
    expect(await likes.likeMessage('room:a', 'm2', 'u1')).toEqual({ total: 4, messageLikes: 1 });
    // The same message id in another channel is another message.
    expect(await likes.likeMessage('room:b', 'm1', 'u1')).toEqual({ total: 1, messageLikes: 1 });
  });

  it('never counts a duplicate, even when the same like arrives many times at once', async () => {
    const likes = await make();
    const results = await Promise.all(Array.from({ length: 25 }, () => likes.likeMessage('room:a', 'm1', 'u1')));
    expect(results.filter((r) => r !== null)).toEqual([{ total: 1, messageLikes: 1 }]);
    const many = await Promise.all(Array.from({ length: 25 }, (_, i) => likes.likeMessage('room:a', 'm2', `u${i}`)));
    expect(many.every((r) => r !== null)).toBe(true);
    expect(await likes.total('room:a')).toBe(26);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('LikeStore, %s across processes', (_name, fixture) => {
  it('shares totals and per-message likers between processes', async () => {
    const a = new RedisLikeStore(fixture.client);
    const b = new RedisLikeStore(await fixture.connect());
    await a.likeChannel('room:a');
    expect(await b.likeChannel('room:a')).toEqual({ total: 2 });
    expect(await a.likeMessage('room:a', 'm1', 'u1')).toEqual({ total: 3, messageLikes: 1 });
    expect(await b.likeMessage('room:a', 'm1', 'u1')).toBeNull();
    expect(await b.likeMessage('room:a', 'm1', 'u2')).toEqual({ total: 4, messageLikes: 2 });
  });

  it('lets message likers expire (bounded memory); channel totals stay', async () => {
    const likes = new RedisLikeStore(fixture.client, { messageTtlS: 60 });
    await likes.likeMessage('room:a', 'm1', 'u1');
    const keys = await fixture.keys('cp:*likes:msg:*');
    expect(keys).toEqual(['cp:{ch:room:a}:likes:msg:m1']);
    const ttl = await fixture.client.ttl(keys[0] as string);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    expect(await fixture.client.ttl('cp:{ch:room:a}:likes:total')).toBe(-1);
    // A channel's likes share its slot (one script), whatever the message id.
    expect(hashSlot(keys[0] as string)).toBe(hashSlot('cp:{ch:room:a}:likes:total'));
  });
});
