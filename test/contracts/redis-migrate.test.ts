// A single Redis written by the version before hash tags: the first start of this version renames its keys
// (src/redis/migrate.ts), and every driver then reads what the earlier one wrote.
import { describe, expect, it } from 'vitest';
import { RedisApiKeyStore, RedisUserStore } from '../../src/auth/redis-stores.js';
import { RedisLikeStore } from '../../src/channels/redis-likes.js';
import { RedisRoomStore } from '../../src/channels/redis-rooms.js';
import { RedisLeaseManager } from '../../src/ingest/redis-lease.js';
import { RedisIngestStore } from '../../src/ingest/redis-store.js';
import { EPOCH_KEY } from '../../src/redis/epoch.js';
import { LAYOUT_KEY, migrateKeyLayout, renamedKey } from '../../src/redis/migrate.js';
import { useRedis } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

const alice = { id: 'u1', username: 'Alice', passwordHash: 'x', role: 'user', createdAt: 1, disabled: false };
const key1 = { id: 'k1', userId: 'u1', name: 'ci', prefix: 'cp_k1', hash: 'h1', createdAt: 10, lastUsedAt: null };
const lobby = {
  id: 'lobby',
  title: 'Lobby',
  ownerId: 'u1',
  moderators: [],
  opensAt: null,
  closesAt: null,
  closedAt: null,
  createdAt: 1,
  timeouts: {},
};
const def = { id: 'i1', source: 'twitch', channel: 'chan', createdBy: 'u1', createdAt: 1 };

describe('moving an earlier version’s keys to the hash-tagged layout', () => {
  it('renames what the drivers read, drops presence, leaves the rest, and runs once', async () => {
    const c = redis.client;
    // As the earlier drivers wrote them.
    await c.set('cp:users:id:u1', JSON.stringify(alice));
    await c.set('cp:users:name:alice', 'u1');
    await c.hset('cp:users:roles', 'user', 1);
    await c.zadd('cp:users:all', 0, 'u1');
    await c.hset('cp:keys:id:k1', 'rec', JSON.stringify(key1), 'used', '');
    await c.set('cp:keys:hash:h1', 'k1');
    await c.zadd('cp:keys:user:u1', 10, 'k1');
    await c.zadd('cp:keys:all', 0, 'k1');
    await c.set('cp:room:lobby', JSON.stringify(lobby));
    await c.zadd('cp:rooms', 1, 'lobby');
    await c.set('cp:rooms:seq', 1);
    await c.sadd('cp:rooms:owner:u1', 'lobby');
    await c.hset('cp:ingest:defs', 'i1', JSON.stringify(def));
    await c.hset('cp:ingest:keys', 'twitch:chan', 'i1');
    await c.set('cp:likes:total:room:lobby', 5);
    await c.sadd('cp:likes:msg:room%3Alobby:m1', 'u1');
    await c.set('cp:lease:fence:job', 7);
    await c.set('cp:lease:name:job', '7:proc-a', 'PX', 60_000);
    await c.hset('cp:pres:room:lobby', 'p1', 3);
    await c.set('cp:proc:p1', '1');
    await c.set('cp:revoked:j1', '1');
    await c.set('cp:rl:chat:u1', '2');
    await c.set(EPOCH_KEY, 'epoch');

    await migrateKeyLayout(c);

    const users = new RedisUserStore(c);
    expect(await users.findByUsername('ALICE')).toEqual(alice);
    expect(await users.countByRole()).toEqual({ user: 1, admin: 0 });
    expect((await users.list(10)).map((u) => u.id)).toEqual(['u1']);
    const keys = new RedisApiKeyStore(c);
    expect(await keys.findByHash('h1')).toEqual(key1);
    expect((await keys.listByUser('u1')).map((k) => k.id)).toEqual(['k1']);
    const rooms = new RedisRoomStore(c);
    expect(await rooms.get('lobby')).toEqual(lobby);
    expect((await rooms.list(10)).map((r) => r.id)).toEqual(['lobby']);
    expect(await rooms.countByOwner('u1')).toBe(1);
    await rooms.create({ ...lobby, id: 'next' });
    expect((await rooms.list(10)).map((r) => r.id)).toEqual(['lobby', 'next']);
    const ingest = new RedisIngestStore(c);
    expect((await ingest.find('twitch', 'chan'))?.id).toBe('i1');
    const likes = new RedisLikeStore(c);
    expect(await likes.total('room:lobby')).toBe(5);
    expect(await likes.likeMessage('room:lobby', 'm1', 'u1')).toBeNull();
    const leases = new RedisLeaseManager(c);
    expect(await leases.current('job')).toMatchObject({ owner: 'proc-a', token: 7 });
    expect(await c.pttl('cp:{lease:job}:holder')).toBeGreaterThan(0);

    expect(await redis.keys('cp:pres:*')).toEqual([]);
    expect(await redis.keys('cp:proc:*')).toEqual([]);
    for (const kept of ['cp:revoked:j1', 'cp:rl:chat:u1', EPOCH_KEY]) expect(await c.exists(kept)).toBe(1);
    expect((await redis.keys('cp:*')).filter((k) => !k.includes('{')).sort()).toEqual(
      [EPOCH_KEY, LAYOUT_KEY, 'cp:revoked:j1', 'cp:rl:chat:u1'].sort(),
    );

    // Once: an old-looking key written later (by a process of the earlier version) is left alone.
    await c.set('cp:room:late', '{}');
    await migrateKeyLayout(c);
    expect(await c.exists('cp:room:late')).toBe(1);
  });

  it('keeps a key already written under its new name', async () => {
    await redis.client.set('cp:room:lobby', 'old');
    await redis.client.set('cp:{ch:room:lobby}:room', 'new');
    await migrateKeyLayout(redis.client);
    expect(await redis.client.get('cp:{ch:room:lobby}:room')).toBe('new');
    expect(await redis.client.get('cp:room:lobby')).toBe('old');
  });

  it('names every kind of key as the drivers do, and leaves keys it does not know', () => {
    expect(renamedKey('cp:likes:msg:twitch%3Asome_one:01HX')).toBe('cp:{ch:twitch:some_one}:likes:msg:01HX');
    expect(renamedKey('cp:rooms:owner:u%3A1')).toBe('cp:{u:u%3A1}:rooms');
    expect(renamedKey('cp:lease:name:ingest:twitch:x')).toBe('cp:{lease:ingest:twitch:x}:holder');
    for (const other of ['cp:ingest:state:i1', 'cp:revoked:x', 'cp:rl:api:k', 'cp:cluster:epoch', 'cp:{users}:all', 'other:users:all'])
      expect(renamedKey(other), other).toBeUndefined();
  });

  it('does nothing on a cluster (no earlier version ran on one)', async () => {
    await migrateKeyLayout(cluster.client);
    expect(await cluster.keys('cp:*')).toEqual([]);
  });
});
