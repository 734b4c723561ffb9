// PresenceStore contract, memory, Redis and Redis Cluster; plus what only a cluster store does: counts
// shared between processes, and the viewers of a process that stops heart-beating (died) disappearing
// within the TTL.
import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore, type PresenceStore } from '../../src/channels/presence.js';
import { RedisPresenceStore, type RedisPresenceStoreOptions } from '../../src/channels/redis-presence.js';
import type { RedisClient } from '../../src/redis/connection.js';
import { hashSlot } from '../../src/redis/keys.js';
import { sleep, useRedis, waitFor, type RedisFixture } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

async function makeRedisPresence(
  fixture: RedisFixture<RedisClient>,
  options: RedisPresenceStoreOptions = {},
  ownClient = false,
): Promise<RedisPresenceStore> {
  const store = new RedisPresenceStore(ownClient ? await fixture.connect() : fixture.client, options);
  fixture.defer(() => store.close());
  return store;
}

describe.each([
  ['memory', async (): Promise<PresenceStore> => new MemoryPresenceStore()],
  ['redis', async (): Promise<PresenceStore> => makeRedisPresence(redis)],
  ['redis-cluster', async (): Promise<PresenceStore> => makeRedisPresence(cluster)],
] as const)('PresenceStore contract: %s', (_name, make) => {
  it('counts joins and leaves per channel and returns the new count', async () => {
    const p = await make();
    expect(await p.count('room:a')).toBe(0);
    expect(await p.join('room:a', 'c1')).toBe(1);
    expect(await p.join('room:a', 'c2')).toBe(2);
    expect(await p.join('room:b', 'c1')).toBe(1);
    expect(await p.count('room:a')).toBe(2);
    expect(await p.leave('room:a', 'c1')).toBe(1);
    expect(await p.count('room:a')).toBe(1);
    expect(await p.count('room:b')).toBe(1);
    expect(await p.leave('room:a', 'c2')).toBe(0);
    expect(await p.count('room:a')).toBe(0);
  });

  it('counts a connection once however often it joins, and ignores leaves of strangers', async () => {
    const p = await make();
    await p.join('room:a', 'c1');
    expect(await p.join('room:a', 'c1')).toBe(1);
    expect(await p.leave('room:a', 'nobody')).toBe(1);
    expect(await p.leave('room:none', 'c1')).toBe(0);
    expect(await p.leave('room:a', 'c1')).toBe(0);
    expect(await p.leave('room:a', 'c1')).toBe(0);
  });

  it('stays exact under concurrent joins and leaves', async () => {
    const p = await make();
    await Promise.all(Array.from({ length: 50 }, (_, i) => p.join('room:a', `c${i}`)));
    expect(await p.count('room:a')).toBe(50);
    await Promise.all(Array.from({ length: 30 }, (_, i) => p.leave('room:a', `c${i}`)));
    expect(await p.count('room:a')).toBe(20);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('PresenceStore, %s across processes', (_name, fixture) => {
  it('shares counts between processes', async () => {
    const a = await makeRedisPresence(fixture, { processId: 'proc-a' });
    const b = await makeRedisPresence(fixture, { processId: 'proc-b' }, true);
    expect(await a.join('room:a', 'c1')).toBe(1);
    expect(await b.join('room:a', 'c1')).toBe(2); // A connection id is local to its process.
    expect(await b.join('room:a', 'c2')).toBe(3);
    expect(await a.count('room:a')).toBe(3);
    expect(await a.leave('room:a', 'c1')).toBe(2);
    expect(await b.count('room:a')).toBe(2);
    // close() withdraws a process's viewers at once.
    await b.close();
    expect(await a.count('room:a')).toBe(0);
  });

  it('keeps a live process counted past its TTL, and drops a dead one within the TTL', async () => {
    const ttlMs = 800;
    const alive = await makeRedisPresence(fixture, { processId: 'alive', ttlMs, heartbeatMs: 150 });
    const doomedClient = await fixture.connect();
    const doomed = new RedisPresenceStore(doomedClient, { processId: 'doomed', ttlMs, heartbeatMs: 150 });
    fixture.defer(() => doomed.close());

    await alive.join('room:a', 'c1');
    await doomed.join('room:a', 'c1');
    await doomed.join('room:a', 'c2');
    expect(await alive.count('room:a')).toBe(3);

    // Heartbeats keep both counted well past one TTL.
    await sleep(ttlMs * 2);
    expect(await alive.count('room:a')).toBe(3);

    // The doomed process loses Redis for good (as if it crashed): no more heartbeats, no clean-up.
    doomedClient.disconnect();
    const lostAt = Date.now();
    await waitFor(async () => (await alive.count('room:a')) === 1, 5_000, 'the dead process to drop out');
    expect(Date.now() - lostAt).toBeLessThan(ttlMs + 1_000);
    // Its field was removed, not just skipped.
    expect(await fixture.client.hkeys(alive.keyOf('room:a'))).toEqual(['alive']);
  });

  it('writes its viewers again when Redis forgot them (a Redis restarted empty)', async () => {
    const a = await makeRedisPresence(fixture, { processId: 'proc-a', ttlMs: 2_000, heartbeatMs: 100 });
    await a.join('room:a', 'c1');
    await a.join('room:b', 'c1');
    await Promise.all([a.keyOf('room:a'), a.keyOf('room:b')].map((key) => fixture.client.del(key)));
    expect(await fixture.client.exists(a.keyOf('room:a'))).toBe(0);
    await waitFor(async () => (await a.count('room:a')) === 1 && (await a.count('room:b')) === 1, 5_000, 're-registration');
  });

  it('restores all its channels when a join is what finds its field lapsed (others pruned it meanwhile)', async () => {
    // A heartbeat far apart from the TTL: the timer cannot be what repairs it within the test.
    const a = await makeRedisPresence(fixture, { processId: 'stalled', ttlMs: 60_000, heartbeatMs: 60_000 });
    await a.join('room:a', 'c1');
    await a.join('room:b', 'c1');
    // As if this process stalled past its TTL and another process's count pruned its fields.
    for (const channel of ['room:a', 'room:b']) await fixture.client.hdel(a.keyOf(channel), 'stalled');
    expect(await a.count('room:a')).toBe(0);
    expect(await a.count('room:b')).toBe(0);
    expect(await a.join('room:a', 'c2')).toBe(2);
    await waitFor(async () => (await a.count('room:b')) === 1, 5_000, 'room:b re-registered');
  });

  it('lets a stale field expire on the server clock, and the hash with its last live field', async () => {
    const a = await makeRedisPresence(fixture, { processId: 'proc-a', ttlMs: 60_000, heartbeatMs: 60_000 });
    await a.join('room:a', 'c1');
    const key = a.keyOf('room:a');
    // Another process's claim that ran out a moment ago (its value: count, then expiry in server ms).
    await fixture.client.hset(key, 'gone', `5:${Date.now() - 1_000}`);
    expect(await a.count('room:a')).toBe(1);
    expect(await fixture.client.hkeys(key)).toEqual(['proc-a']);
    const ttl = await fixture.client.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});

describe('PresenceStore, Redis Cluster layout', () => {
  it("keeps a channel's presence in the channel's slot, channels spread over slots", async () => {
    const a = await makeRedisPresence(cluster, { processId: 'proc-a' });
    expect(a.keyOf('room:lobby')).toBe('cp:{ch:room:lobby}:pres');
    const channels = Array.from({ length: 10 }, (_, i) => `room:r${i}`);
    for (const channel of channels) await a.join(channel, 'c1');
    const keys = await cluster.keys('cp:*:pres');
    expect(keys.sort()).toEqual(channels.map((c) => a.keyOf(c)).sort());
    expect(new Set(keys.map(hashSlot)).size).toBeGreaterThan(1);
    for (const channel of channels) expect(await a.count(channel)).toBe(1);
  });
});
