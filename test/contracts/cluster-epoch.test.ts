// The cluster epoch (src/redis/epoch.ts) on a Redis Cluster, where one key on one slot can only speak for
// its own master: a per-master marker tells that ONE master came back empty (restarted without persistence
// before a replica took over) while the others kept their data. Real cluster of 3 masters, no replicas.
import { describe, expect, it } from 'vitest';
import { clusterFailure } from '../../src/redis/connection.js';
import { ClusterEpoch, EPOCH_KEY } from '../../src/redis/epoch.js';
import { hashSlot } from '../../src/redis/keys.js';
import type { RedisClusterNode } from '../redis-server.js';
import { useRedis, waitFor } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

const masterOfSlot = (topology: RedisClusterNode[], slot: number) =>
  topology.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b)) as RedisClusterNode;

/** Kills a master and starts it again at once: same slots, same cluster identity, no data. */
async function wipe(address: string): Promise<void> {
  await cluster.cluster.kill(address);
  await cluster.cluster.restart(address);
  await cluster.cluster.waitHealthy();
}

/** A master other than the one holding EPOCH_KEY. */
async function otherMaster(): Promise<string> {
  const topology = await cluster.cluster.topology();
  const epochHolder = masterOfSlot(topology, hashSlot(EPOCH_KEY)).address;
  return topology.find((n) => n.role === 'master' && n.address !== epochHolder)?.address as string;
}

/** check() until it gets through (right after a restart the client is still finding the node again). */
async function checked(epoch: ClusterEpoch): Promise<void> {
  await waitFor(
    () =>
      epoch.check().then(
        () => true,
        () => false,
      ),
    10_000,
    'an epoch check to get through',
  );
}

describe('cluster epoch on a Redis Cluster', () => {
  it('writes one marker per master, holding the epoch', async () => {
    const epoch = await ClusterEpoch.establish(cluster.client, 'hold');
    const markers = await cluster.keys('cp:{epoch:*}:marker');
    expect(markers).toHaveLength(3);
    const topology = await cluster.cluster.topology();
    expect(new Set(markers.map((k) => masterOfSlot(topology, hashSlot(k)).address)).size).toBe(3);
    for (const key of markers) expect(await cluster.client.get(key)).toBe(epoch.epoch);
    await epoch.check();
    expect(epoch.problem()).toBeNull();
  });

  it('hold: a master that came back empty is a loss, until an operator writes a new epoch', async () => {
    const epoch = await ClusterEpoch.establish(cluster.client, 'hold');
    await wipe(await otherMaster());
    // The epoch key itself is still there: only the marker tells.
    expect(await cluster.client.get(EPOCH_KEY)).toBe(epoch.epoch);
    await checked(epoch);
    expect(epoch.problem()).toMatch(/master answers without its epoch marker/);
    expect(epoch.problem()).toContain(EPOCH_KEY);

    // A process that starts now cannot tell (it writes the marker again), but this one stays out.
    const late = await ClusterEpoch.establish(cluster.client, 'hold');
    expect(late.problem()).toBeNull();
    await checked(epoch);
    expect(epoch.problem()).not.toBeNull();

    await cluster.client.set(EPOCH_KEY, 'acknowledged');
    await checked(epoch);
    expect(epoch.problem()).toBeNull();
    expect(epoch.epoch).toBe('acknowledged');
    for (const key of await cluster.keys('cp:{epoch:*}:marker')) expect(await cluster.client.get(key)).toBe('acknowledged');
  });

  it('reseed: the first process to notice writes a new epoch, once', async () => {
    const reseeds: string[] = [];
    const a = await ClusterEpoch.establish(cluster.client, 'reseed', (id) => reseeds.push(`a:${id}`));
    const b = await ClusterEpoch.establish(await cluster.connect(), 'reseed', (id) => reseeds.push(`b:${id}`));
    const before = a.epoch;
    await wipe(await otherMaster());
    await checked(a);
    await checked(b);
    expect(reseeds).toHaveLength(1);
    expect(a.epoch).not.toBe(before);
    expect(b.epoch).toBe(a.epoch);
    expect(a.problem()).toBeNull();
    expect(b.problem()).toBeNull();
    expect(await cluster.client.get(EPOCH_KEY)).toBe(a.epoch);
  });

  it("the epoch key's own master coming back empty is the loss it always was", async () => {
    const epoch = await ClusterEpoch.establish(cluster.client, 'hold');
    await wipe(masterOfSlot(await cluster.cluster.topology(), hashSlot(EPOCH_KEY)).address);
    await checked(epoch);
    expect(epoch.problem()).toMatch(/answers without cp:cluster:epoch/);
  });

  it('reports a cluster that cannot serve (a master without a replica down), and stops once it is back', async () => {
    expect(await clusterFailure(cluster.client)).toBeNull();
    const victim = await otherMaster();
    await cluster.cluster.kill(victim);
    // Asked of any one node: the dead one answers nothing, the others say fail once it is judged down.
    const says = () => clusterFailure(cluster.client).catch(() => null);
    await waitFor(async () => (await says()) === 'cluster_state:fail', 30_000, 'cluster_state:fail');
    await cluster.cluster.restart(victim);
    await cluster.cluster.waitHealthy();
    await waitFor(async () => (await says()) === null, 30_000, 'cluster_state:ok');
    expect(await clusterFailure(redis.client)).toBeNull(); // never on a single Redis
  });

  it('writes no markers on a single Redis (the epoch key covers it all)', async () => {
    const epoch = await ClusterEpoch.establish(redis.client, 'hold');
    expect(await redis.keys('cp:*')).toEqual([EPOCH_KEY]);
    await redis.client.flushall();
    await epoch.check();
    expect(epoch.problem()).not.toBeNull();
  });
});
