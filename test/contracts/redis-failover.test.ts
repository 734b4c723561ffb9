// Redis Cluster failover under running drivers: a real cluster of 3 masters, each with a replica, and
// `cluster-node-timeout` 2 s. A manual failover (CLUSTER FAILOVER on a replica: it catches up first, so
// nothing is lost) and a killed master (the replica takes over after the node timeout; what was replicated
// survives, so the writes are made to wait for their replica with WAIT first): in both cases every
// acknowledged write reads back, the drivers serve again within a bounded wait, and no process-side state
// has to be rebuilt. Also the Cluster subscriber: sharded pub/sub keeps delivering across both.
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisLikeStore } from '../../src/channels/redis-likes.js';
import { RedisRoomStore, roomKeys } from '../../src/channels/redis-rooms.js';
import type { RoomRecord } from '../../src/channels/rooms.js';
import { RedisUserStore } from '../../src/auth/redis-stores.js';
import { RedisLeaseManager } from '../../src/ingest/redis-lease.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { isReady, type RedisClient } from '../../src/redis/connection.js';
import { ClusterEpoch } from '../../src/redis/epoch.js';
import { hashSlot } from '../../src/redis/keys.js';
import type { RedisClusterNode } from '../redis-server.js';
import { sleep, useRedis, waitFor } from './redis-fixture.js';

// 2 s: short for the test, long enough that a loaded CI machine does not fail a master over by mistake.
const redis = useRedis({ cluster: { masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2_000 } });

/** How long the drivers may fail after a master was killed: node timeout, election, the client's retries. */
const KILL_RECOVERY_MS = 20_000;
/** After a manual failover (no timeout to wait out): the client's slot map refresh and retries. */
const MANUAL_RECOVERY_MS = 5_000;

const room = (id: string): RoomRecord => ({
  id,
  title: `Room ${id}`,
  ownerId: 'owner',
  moderators: [],
  opensAt: null,
  closesAt: null,
  closedAt: null,
  createdAt: 1_700_000_000_000,
  timeouts: {},
});

/** The master serving `key`'s slot (as the cluster sees it now). */
async function masterOf(key: string): Promise<RedisClusterNode | undefined> {
  const slot = hashSlot(key);
  return (await redis.cluster.topology()).find(
    (n) => n.role === 'master' && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b),
  );
}

/** The master serving `key`'s slot, and its replica. */
async function holders(key: string): Promise<{ master: RedisClusterNode; replica: RedisClusterNode }> {
  const master = await masterOf(key);
  const replica = (await redis.cluster.topology()).find((n) => n.role === 'replica' && n.masterId === master?.id && !n.failing);
  if (!master || !replica) throw new Error(`no master with a replica for ${key}: ${JSON.stringify(await redis.cluster.topology())}`);
  return { master, replica };
}

/**
 * Every write so far has reached a replica (Redis replicates asynchronously): WAIT on each of the client's
 * connections to a current master (WAIT counts what was written through the connection it is sent on).
 */
async function replicated(client: RedisClient): Promise<void> {
  const current = new Set((await redis.cluster.topology()).filter((n) => n.role === 'master' && !n.failing).map((n) => n.address));
  const nodes = (client as Cluster).nodes('master').filter((node) => current.has(`${node.options.host}:${node.options.port}`));
  expect(nodes).toHaveLength(3);
  const acks = await Promise.all(nodes.map((node) => node.call('WAIT', 1, 5_000)));
  expect(acks.every((n) => Number(n) >= 1)).toBe(true);
}

/** Retries `check` (any error counts as "not yet") until it passes; how long it took. */
async function recovers(check: () => Promise<void>, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - start;
    } catch (err) {
      if (Date.now() - start > timeoutMs) throw new Error(`${what} not back after ${timeoutMs} ms: ${String(err)}`, { cause: err });
    }
    await sleep(100);
  }
}

describe('Redis Cluster failover under running drivers', () => {
  it('a manual failover loses nothing and the drivers carry on', async () => {
    const client = redis.client;
    const rooms = new RedisRoomStore(client);
    const users = new RedisUserStore(client);
    const leases = new RedisLeaseManager(client);
    const limiter = new RedisRateLimiter(client, 5, 60, 'chat');
    const ids = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const id of ids) await rooms.create(room(id));
    await users.create({ id: 'u1', username: 'alice', passwordHash: 'x', role: 'admin', createdAt: 1, disabled: false });
    const lease = (await leases.acquire('ingest:twitch:x', 'proc-a', 60_000))!;
    expect((await limiter.consume('u1', 2)).remaining).toBe(3);
    const epoch = await ClusterEpoch.establish(client, 'hold');

    // The master of a room's record (every master holds some of these twelve).
    const { master, replica } = await holders(roomKeys().record('m0'));
    await redis.cluster.failover(replica.address);
    expect((await masterOf(roomKeys().record('m0')))?.address).toBe(replica.address);
    expect(master.address).not.toBe(replica.address);

    const took = await recovers(
      async () => {
        for (const id of ids) expect((await rooms.get(id))?.id).toBe(id);
        expect((await rooms.list(100)).map((r) => r.id)).toEqual(ids);
        expect((await users.findByUsername('alice'))?.id).toBe('u1');
        expect(await leases.current('ingest:twitch:x')).toMatchObject({ owner: 'proc-a', token: lease.token });
      },
      MANUAL_RECOVERY_MS,
      'reads after a manual failover',
    );
    expect(took).toBeLessThan(MANUAL_RECOVERY_MS);
    // Writes too, and shared state that was there before: the same budget, the same lease.
    expect((await limiter.consume('u1', 2)).remaining).toBe(1);
    expect(await leases.renew(lease, 60_000)).toBe(true);
    await rooms.create(room('after'));
    expect(await rooms.count()).toBe(13);
    // The data moved with the slots: the epoch markers too, so this is no loss.
    await epoch.check();
    expect(epoch.problem()).toBeNull();
  });

  it('a killed master: its replica takes over within a bounded wait, and replicated writes read back', async () => {
    const client = redis.client;
    const rooms = new RedisRoomStore(client);
    const likes = new RedisLikeStore(client);
    const leases = new RedisLeaseManager(client);
    const ids = Array.from({ length: 12 }, (_, i) => `k${i}`);
    for (const id of ids) await rooms.create(room(id));
    for (const id of ids) await likes.likeChannel(`room:${id}`);
    const lease = (await leases.acquire('ingest:tiktok:y', 'proc-a', 60_000))!;
    const epoch = await ClusterEpoch.establish(client, 'hold');
    await replicated(client);

    const { master, replica } = await holders(roomKeys().record('k0'));
    const killedAt = Date.now();
    await redis.cluster.kill(master.address);
    // The client stays ready: the other masters still serve their slots.
    await sleep(200);
    expect(isReady(client)).toBe(true);

    const took = await recovers(
      async () => {
        for (const id of ids) expect((await rooms.get(id))?.id).toBe(id);
        for (const id of ids) expect(await likes.total(`room:${id}`)).toBe(1);
        expect(await leases.current('ingest:tiktok:y')).toMatchObject({ owner: 'proc-a', token: lease.token });
      },
      KILL_RECOVERY_MS,
      'reads after a master was killed',
    );
    expect(Date.now() - killedAt).toBeLessThan(KILL_RECOVERY_MS);
    expect(took).toBeLessThan(KILL_RECOVERY_MS);
    expect((await masterOf(roomKeys().record('k0')))?.address).toBe(replica.address);
    expect(await likes.likeChannel('room:k0')).toEqual({ total: 2 });
    await epoch.check();
    expect(epoch.problem()).toBeNull();

    // The old master comes back (empty) as a replica of the new one, and the cluster is whole again.
    await redis.cluster.restart(master.address);
    await redis.cluster.waitHealthy();
    const back = (await redis.cluster.topology()).find((n) => n.address === master.address);
    expect(back?.role).toBe('replica');
    expect((await rooms.list(100)).length).toBe(12);
  });

  it('the cluster subscriber keeps delivering sharded pub/sub across a failover', async () => {
    const publisher = redis.client;
    const subscriber = await redis.subscriber();
    const channels = Array.from({ length: 9 }, (_, i) => `cp:{ch:room:s${i}}:test`);
    const got = new Set<string>();
    subscriber.on('smessage', (channel: string, message: string) => got.add(`${channel} ${message}`));
    for (const channel of channels) await subscriber.ssubscribe(channel);
    // Channels on every master.
    const topology = await redis.cluster.topology();
    const owners = new Set(
      channels.map(
        (c) => topology.find((n) => n.role === 'master' && n.slots.some(([a, b]) => hashSlot(c) >= a && hashSlot(c) <= b))?.address,
      ),
    );
    expect(owners.size).toBe(3);

    const deliversAll = async (tag: string): Promise<void> => {
      await waitFor(
        async () => {
          await Promise.all(channels.map((c) => publisher.spublish(c, tag).catch(() => 0)));
          await sleep(100);
          return channels.every((c) => got.has(`${c} ${tag}`));
        },
        MANUAL_RECOVERY_MS + 5_000,
        `delivery of "${tag}" on every channel`,
      );
    };
    await deliversAll('before');
    const { replica } = await holders(channels[0] as string);
    await redis.cluster.failover(replica.address);
    await deliversAll('after');
  });
});
