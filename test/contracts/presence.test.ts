// PresenceStore contract, memory and Redis; plus what only a cluster store does: counts shared between
// processes, and the viewers of a process that stops heart-beating (died) disappearing within the TTL.
import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore, type PresenceStore } from '../../src/channels/presence.js';
import { RedisPresenceStore, type RedisPresenceStoreOptions } from '../../src/channels/redis-presence.js';
import { sleep, useRedis, waitFor } from './redis-fixture.js';

const redis = useRedis();

async function makeRedisPresence(options: RedisPresenceStoreOptions = {}, ownClient = false): Promise<RedisPresenceStore> {
  const store = new RedisPresenceStore(ownClient ? await redis.connect() : redis.client, options);
  redis.defer(() => store.close());
  return store;
}

describe.each([
  ['memory', async (): Promise<PresenceStore> => new MemoryPresenceStore()],
  ['redis', async (): Promise<PresenceStore> => makeRedisPresence()],
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

describe('PresenceStore, Redis across processes', () => {
  it('shares counts between processes', async () => {
    const a = await makeRedisPresence({ processId: 'proc-a' });
    const b = await makeRedisPresence({ processId: 'proc-b' }, true);
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
    const alive = await makeRedisPresence({ processId: 'alive', ttlMs, heartbeatMs: 150 });
    const doomedClient = await redis.connect();
    const doomed = new RedisPresenceStore(doomedClient, { processId: 'doomed', ttlMs, heartbeatMs: 150 });
    redis.defer(() => doomed.close());

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
    expect(await redis.client.hkeys('cp:pres:room:a')).toEqual(['alive']);
  });

  it('writes its viewers again when its heartbeat key was lost (stall, or a Redis that forgot)', async () => {
    const a = await makeRedisPresence({ processId: 'proc-a', ttlMs: 2_000, heartbeatMs: 100 });
    await a.join('room:a', 'c1');
    await a.join('room:b', 'c1');
    await redis.client.flushall();
    expect(await redis.client.exists('cp:pres:room:a')).toBe(0);
    await waitFor(async () => (await a.count('room:a')) === 1 && (await a.count('room:b')) === 1, 5_000, 're-registration');
  });

  it('restores all its channels when a join is what finds its heartbeat lapsed (others pruned it meanwhile)', async () => {
    // A heartbeat far apart from a short TTL: the timer cannot be what repairs it within the test.
    const a = await makeRedisPresence({ processId: 'stalled', ttlMs: 60_000, heartbeatMs: 60_000 });
    await a.join('room:a', 'c1');
    await a.join('room:b', 'c1');
    // As if this process stalled past its TTL and another process's count pruned its fields.
    await redis.client.del('cp:proc:stalled');
    expect(await a.count('room:a')).toBe(0);
    expect(await a.count('room:b')).toBe(0);
    expect(await a.join('room:a', 'c2')).toBe(2);
    await waitFor(async () => (await a.count('room:b')) === 1, 5_000, 'room:b re-registered');
  });
});
