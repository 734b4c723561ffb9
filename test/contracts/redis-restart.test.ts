// Redis going away and coming back (killed, restarted empty on the same port) under running drivers:
// nothing throws while it is down, and afterwards the bus delivers again (channels watched before and
// during the outage), presence is re-registered and the rate limiter is shared again. The same for a Redis
// Cluster whose every node is killed and restarted empty (same ports, same cluster identity).
import { describe, expect, it } from 'vitest';
import type { BusEvent } from '../../src/channels/bus.js';
import { RedisChannelBus } from '../../src/channels/redis-bus.js';
import { RedisPresenceStore } from '../../src/channels/redis-presence.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { isReady, waitReady } from '../../src/redis/connection.js';
import { useRedis, waitFor } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

describe('Redis drivers across a Redis restart', () => {
  it('bus, presence and rate limits degrade while Redis is down and recover when it is back', async () => {
    const pubClient = await redis.connect();
    const busA = new RedisChannelBus(pubClient, await redis.subscriber());
    const busB = new RedisChannelBus(await redis.connect(), await redis.subscriber());
    redis.defer(() => busA.close());
    redis.defer(() => busB.close());
    const gotB: BusEvent[] = [];
    busB.onEvent((e) => gotB.push(e));
    void busB.watch('room:before');
    await busB.synced();

    const presClient = await redis.connect();
    const presence = new RedisPresenceStore(presClient, { processId: 'p1', heartbeatMs: 200 });
    redis.defer(() => presence.close());
    await presence.join('room:before', 'c1');
    await presence.join('room:gone', 'c9');

    const limiter = new RedisRateLimiter(pubClient, 2, 30, 'chat');
    expect((await limiter.consume('u1')).remaining).toBe(1);

    busA.publish({ kind: 'presence', channel: 'room:before', viewers: 1 });
    await waitFor(() => gotB.length === 1, 5_000, 'delivery before the outage');

    await redis.server.stop();
    await waitFor(() => !isReady(pubClient) && !isReady(presClient), 5_000, 'clients to notice');

    // Down: publishing drops events without throwing; presence answers local counts; the limiter
    // falls back to its in-memory insurance (a fresh per-process budget of 2, still enforced).
    expect(() => busA.publish({ kind: 'closed', channel: 'room:before' })).not.toThrow();
    void busB.watch('room:during');
    expect(await presence.join('room:before', 'c2')).toBe(2);
    expect(await presence.join('room:during', 'c1')).toBe(1);
    expect(await presence.leave('room:gone', 'c9')).toBe(0);
    expect(await presence.count('room:before')).toBe(2);
    expect((await limiter.consume('u1')).allowed).toBe(true);
    expect((await limiter.consume('u1')).allowed).toBe(true);
    expect((await limiter.consume('u1')).allowed).toBe(false);

    await redis.server.restart();
    await waitReady(redis.client);

    // The bus re-subscribes both channels: the one watched before and the one watched during the outage.
    await busB.synced();
    gotB.length = 0;
    busA.publish({ kind: 'presence', channel: 'room:before', viewers: 7 });
    busA.publish({ kind: 'presence', channel: 'room:during', viewers: 8 });
    // The publisher may reconnect a moment after the subscriber: publish again until it gets through.
    await waitFor(
      () => {
        if (gotB.length < 2) {
          busA.publish({ kind: 'presence', channel: 'room:before', viewers: 7 });
          busA.publish({ kind: 'presence', channel: 'room:during', viewers: 8 });
        }
        return gotB.some((e) => e.channel === 'room:before') && gotB.some((e) => e.channel === 'room:during');
      },
      5_000,
      'delivery after the restart',
    );

    // Presence was written again from the local counts (the restarted Redis was empty), as seen by
    // another process; the channel emptied during the outage is zero.
    const observer = new RedisPresenceStore(redis.client, { processId: 'observer' });
    redis.defer(() => observer.close());
    await waitFor(
      async () => (await observer.count('room:before')) === 2 && (await observer.count('room:during')) === 1,
      5_000,
      'presence re-registered',
    );
    expect(await observer.count('room:gone')).toBe(0);

    // The limiter is back on the shared (and, after the restart, empty) Redis budget.
    await waitReady(pubClient);
    expect((await limiter.consume('u1')).remaining).toBe(1);
  });
});

describe('Redis Cluster drivers across a restart of the whole cluster', () => {
  it('presence and rate limits degrade while the cluster is down and recover when it is back', async () => {
    const presClient = await cluster.connect();
    const presence = new RedisPresenceStore(presClient, { processId: 'p1', heartbeatMs: 200 });
    cluster.defer(() => presence.close());
    await presence.join('room:before', 'c1');
    await presence.join('room:gone', 'c9');
    const limClient = await cluster.connect();
    const limiter = new RedisRateLimiter(limClient, 2, 30, 'chat');
    expect((await limiter.consume('u1')).remaining).toBe(1);

    for (const node of cluster.cluster.nodes) await cluster.cluster.kill(node);
    await waitFor(() => !isReady(presClient) && !isReady(limClient), 10_000, 'clients to notice');

    // Down: presence answers local counts; the limiter falls back to its in-memory insurance.
    expect(await presence.join('room:before', 'c2')).toBe(2);
    expect(await presence.join('room:during', 'c1')).toBe(1);
    expect(await presence.leave('room:gone', 'c9')).toBe(0);
    expect((await limiter.consume('u1')).allowed).toBe(true);
    expect((await limiter.consume('u1')).allowed).toBe(true);
    expect((await limiter.consume('u1')).allowed).toBe(false);

    for (const node of cluster.cluster.nodes) await cluster.cluster.restart(node);
    await cluster.cluster.waitHealthy();
    await waitReady(cluster.client, 15_000);

    const observer = new RedisPresenceStore(cluster.client, { processId: 'observer' });
    cluster.defer(() => observer.close());
    await waitFor(
      async () => (await observer.count('room:before')) === 2 && (await observer.count('room:during')) === 1,
      10_000,
      'presence re-registered',
    );
    expect(await observer.count('room:gone')).toBe(0);
    await waitReady(limClient, 15_000);
    expect((await limiter.consume('u1')).remaining).toBe(1);
  });
});
