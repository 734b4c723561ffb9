// LeaseManager contract, memory, Redis and Redis Cluster.
import { describe, expect, it } from 'vitest';
import { MemoryLeaseManager, type LeaseManager } from '../../src/ingest/lease.js';
import { RedisLeaseManager } from '../../src/ingest/redis-lease.js';
import { hashSlot } from '../../src/redis/keys.js';
import { sleep, useRedis } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

describe.each([
  ['memory', async (): Promise<LeaseManager> => new MemoryLeaseManager()],
  ['redis', async (): Promise<LeaseManager> => new RedisLeaseManager(redis.client)],
  ['redis-cluster', async (): Promise<LeaseManager> => new RedisLeaseManager(cluster.client)],
] as const)('LeaseManager contract: %s', (_name, make) => {
  it('grants a name to one owner at a time, with increasing fencing tokens', async () => {
    const leases = await make();
    const before = Date.now();
    const a = await leases.acquire('ingest:twitch:x', 'proc-a', 10_000);
    expect(a).toMatchObject({ name: 'ingest:twitch:x', owner: 'proc-a' });
    expect(a?.expiresAt).toBeGreaterThanOrEqual(before + 10_000);
    expect(a?.expiresAt).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(await leases.acquire('ingest:twitch:x', 'proc-b', 10_000)).toBeNull();
    expect(await leases.acquire('ingest:twitch:x', 'proc-a', 10_000)).toBeNull(); // Not re-entrant.
    expect(await leases.current('ingest:twitch:x')).toMatchObject({ owner: 'proc-a', token: a?.token });

    // Another name is independent.
    expect(await leases.acquire('ingest:twitch:y', 'proc-b', 10_000)).not.toBeNull();

    await leases.release(a!);
    expect(await leases.current('ingest:twitch:x')).toBeNull();
    const b = await leases.acquire('ingest:twitch:x', 'proc-b', 10_000);
    expect(b?.owner).toBe('proc-b');
    expect(b!.token).toBeGreaterThan(a!.token);
  });

  it('renews only for the holder, moving expiresAt', async () => {
    const leases = await make();
    const a = (await leases.acquire('job', 'proc-a', 300))!;
    const first = a.expiresAt;
    await sleep(20);
    expect(await leases.renew(a, 5_000)).toBe(true);
    expect(a.expiresAt).toBeGreaterThan(first);
    const current = await leases.current('job');
    expect(current?.expiresAt).toBeGreaterThan(Date.now() + 4_000);
    // An impostor with the right token but another owner, or the right owner with another token, cannot renew.
    expect(await leases.renew({ ...a, owner: 'proc-b' }, 5_000)).toBe(false);
    expect(await leases.renew({ ...a, token: a.token + 1 }, 5_000)).toBe(false);
    await leases.release({ ...a, token: a.token + 1 });
    expect((await leases.current('job'))?.owner).toBe('proc-a');
  });

  it('lets another owner take over once the lease lapsed; the stale owner can neither renew nor release', async () => {
    const leases = await make();
    const a = (await leases.acquire('job', 'proc-a', 150))!;
    await sleep(300);
    expect(await leases.current('job')).toBeNull();
    const b = (await leases.acquire('job', 'proc-b', 10_000))!;
    expect(b).not.toBeNull();
    expect(b.token).toBeGreaterThan(a.token);
    expect(await leases.renew(a, 10_000)).toBe(false);
    await leases.release(a);
    expect(await leases.current('job')).toMatchObject({ owner: 'proc-b', token: b.token });
    expect(await leases.renew(b, 10_000)).toBe(true);
  });

  it('grants exactly one of many simultaneous requests', async () => {
    const leases = await make();
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) => leases.acquire('job', `proc-${i}`, 10_000)));
    const winners = got.filter((l) => l !== null);
    expect(winners).toHaveLength(1);
    expect((await leases.current('job'))?.owner).toBe(winners[0]?.owner);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('LeaseManager, %s across processes', (_name, fixture) => {
  it('is exclusive between processes and fences with one token sequence', async () => {
    const a = new RedisLeaseManager(fixture.client);
    const b = new RedisLeaseManager(await fixture.connect());
    const la = (await a.acquire('job', 'proc-a', 10_000))!;
    expect(await b.acquire('job', 'proc-b', 10_000)).toBeNull();
    expect(await b.current('job')).toMatchObject({ owner: 'proc-a', token: la.token });
    await a.release(la);
    const lb = (await b.acquire('job', 'proc-b', 10_000))!;
    expect(lb.token).toBe(la.token + 1);
    expect(await a.renew(la, 10_000)).toBe(false);
  });
});

describe('LeaseManager, Redis Cluster layout', () => {
  it("keeps a lease and its fencing counter in the lease's slot, different leases on different slots", async () => {
    const leases = new RedisLeaseManager(cluster.client);
    for (const name of ['ingest:twitch:a', 'ingest:twitch:b', 'ingest:tiktok:c', 'odd}name{']) {
      expect(await leases.acquire(name, 'proc-a', 10_000)).not.toBeNull();
    }
    const keys = await cluster.keys('cp:{lease:*');
    expect(keys).toHaveLength(8);
    const slotsOf = (name: string) => new Set(keys.filter((k) => k.startsWith(`cp:{lease:${name}}`)).map(hashSlot));
    expect(slotsOf('ingest:twitch:a').size).toBe(1);
    expect(new Set(keys.map(hashSlot)).size).toBeGreaterThan(1);
  });
});
