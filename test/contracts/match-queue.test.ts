// MatchQueue contract: memory, Redis and Redis Cluster. The queue order, replacement on re-queue, and the one
// property matching rests on: `take` removes both tickets only if both are still queued as scored, so two
// processes pairing at once never pair a user twice.
import { describe, expect, it } from 'vitest';
import { hashSlot } from '../../src/redis/keys.js';
import { MemoryMatchQueue, type MatchQueue, type MatchTicket } from '../../src/social/queue.js';
import { RedisMatchQueue } from '../../src/social/redis-queue.js';
import { useRedis } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

const ticket = (userId: string, queuedAt: number, extra: Partial<MatchTicket> = {}): MatchTicket => ({
  ticket: `t-${userId}-${queuedAt}`,
  userId,
  name: `name-${userId}`,
  interests: ['chess'],
  languages: ['en'],
  mood: 0.25,
  queuedAt,
  ...extra,
});

describe.each([
  ['memory', async (): Promise<MatchQueue> => new MemoryMatchQueue()],
  ['redis', async (): Promise<MatchQueue> => new RedisMatchQueue(redis.client)],
  ['redis-cluster', async (): Promise<MatchQueue> => new RedisMatchQueue(cluster.client)],
] as const)('MatchQueue contract: %s', (_name, make) => {
  it('queues oldest first, with positions, and gives each ticket back whole', async () => {
    const q = await make();
    expect(await q.enqueue(ticket('a', 1000))).toBe(1);
    expect(await q.enqueue(ticket('b', 2000))).toBe(2);
    expect(await q.enqueue(ticket('c', 3000, { mood: null, interests: [] }))).toBe(3);
    expect(await q.size()).toBe(3);
    expect((await q.waiting(10)).map((t) => t.userId)).toEqual(['a', 'b', 'c']);
    expect((await q.waiting(2)).map((t) => t.userId)).toEqual(['a', 'b']);
    expect(await q.get('c')).toEqual({ ticket: ticket('c', 3000, { mood: null, interests: [] }), position: 3 });
    expect(await q.get('nobody')).toBeNull();
  });

  it('replaces a user ticket on re-queue, at the back', async () => {
    const q = await make();
    await q.enqueue(ticket('a', 1000));
    await q.enqueue(ticket('b', 2000));
    expect(await q.enqueue(ticket('a', 3000, { interests: ['go'] }))).toBe(2);
    expect(await q.size()).toBe(2);
    expect(await q.get('a')).toEqual({ ticket: ticket('a', 3000, { interests: ['go'] }), position: 2 });
  });

  it('leaves: true once, then false', async () => {
    const q = await make();
    await q.enqueue(ticket('a', 1000));
    expect(await q.leave('a')).toBe(true);
    expect(await q.leave('a')).toBe(false);
    expect(await q.get('a')).toBeNull();
    expect(await q.size()).toBe(0);
  });

  it('takes a pair only while both tickets are the ones scored, never a user with themself', async () => {
    const q = await make();
    const a = ticket('a', 1000);
    const b = ticket('b', 2000);
    await q.enqueue(a);
    await q.enqueue(b);
    expect(await q.take(a, a)).toBe(false);
    expect(await q.take(a, { ...b, ticket: 'stale' })).toBe(false);
    expect(await q.size()).toBe(2); // a refused take removes nothing
    expect(await q.take(a, b)).toBe(true);
    expect(await q.take(a, b)).toBe(false);
    expect(await q.size()).toBe(0);
    // A re-queued user has a new ticket: the old one cannot be taken.
    await q.enqueue(ticket('c', 3000));
    await q.enqueue(ticket('d', 3000));
    await q.enqueue(ticket('c', 4000));
    expect(await q.take(ticket('c', 3000), ticket('d', 3000))).toBe(false);
    expect(await q.take(ticket('c', 4000), ticket('d', 3000))).toBe(true);
  });

  it('pairs each user at most once when many overlapping takes race', async () => {
    const q = await make();
    const users = Array.from({ length: 12 }, (_, i) => ticket(`u${i}`, 1000 + i));
    for (const u of users) await q.enqueue(u);
    const attempts = users.flatMap((a, i) => users.slice(i + 1).map((b) => [a, b] as const));
    const won = (await Promise.all(attempts.map(([a, b]) => q.take(a, b).then((ok) => (ok ? [a.userId, b.userId] : []))))).flat();
    expect(new Set(won).size).toBe(won.length);
    expect(won.length).toBe(12);
    expect(await q.size()).toBe(0);
  });

  it('sweeps tickets not seen since the cutoff; a touch keeps one, and never brings one back', async () => {
    const q = await make();
    await q.enqueue(ticket('a', 1000));
    await q.enqueue(ticket('b', 1000));
    await q.touch(['a', 'ghost'], 5000);
    expect(await q.sweep(4000)).toEqual(['b']);
    expect((await q.waiting(10)).map((t) => t.userId)).toEqual(['a']);
    expect(await q.get('ghost')).toBeNull();
    expect(await q.sweep(6000)).toEqual(['a']);
    expect(await q.size()).toBe(0);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('MatchQueue, %s across processes', (_name, fixture) => {
  it('one queue for every process: a pair taken by one is gone for the other', async () => {
    const p1 = new RedisMatchQueue(fixture.client);
    const p2 = new RedisMatchQueue(await fixture.connect());
    const a = ticket('a', 1000);
    const b = ticket('b', 2000);
    await p1.enqueue(a);
    await p2.enqueue(b);
    expect((await p2.waiting(10)).map((t) => t.userId)).toEqual(['a', 'b']);
    const results = await Promise.all([p1.take(a, b), p2.take(a, b)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await p1.size()).toBe(0);
  });

  it('keeps every key in one slot (each script is single-slot)', async () => {
    const q = new RedisMatchQueue(fixture.client);
    await q.enqueue(ticket('a', 1000));
    const keys = await fixture.keys('cp:*match*');
    expect(keys).toEqual(['cp:{match}:queue', 'cp:{match}:seen', 'cp:{match}:tickets']);
    expect(new Set(keys.map(hashSlot)).size).toBe(1);
  });
});
