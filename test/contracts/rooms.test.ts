// RoomStore contract, one suite for every driver: memory always, Redis (a redis-server per file), Redis Cluster
// (3 masters per file), and MongoDB when MONGODB_URL is set (a fresh database per file; skipped otherwise).
// To run the Mongo variants:
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/
import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryRoomStore, type RoomRecord, type RoomStore } from '../../src/channels/rooms.js';
import { RedisRoomStore, roomKeys } from '../../src/channels/redis-rooms.js';
import { hashSlot } from '../../src/redis/keys.js';
import { useRedis } from './redis-fixture.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });
const mongo = useMongo();

const room = (id: string, over: Partial<RoomRecord> = {}): RoomRecord => ({
  id,
  title: `Room ${id}`,
  ownerId: 'u1',
  moderators: [],
  opensAt: null,
  closesAt: null,
  closedAt: null,
  createdAt: 1_700_000_000_000,
  timeouts: {},
  ...over,
});

async function conflictOf(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

/** [name, a fresh store, why the driver cannot run here (its tests are then reported as skipped)]. */
type Driver = [name: string, make: () => Promise<RoomStore>, unavailable?: string];

const drivers: Driver[] = [
  ['memory', async () => new MemoryRoomStore()],
  ['redis', async () => new RedisRoomStore(redis.client)],
  ['redis-cluster', async () => new RedisRoomStore(cluster.client)],
  ['mongo', async () => (await mongo.fresh()).rooms, mongoUrl ? undefined : 'MONGODB_URL not set'],
];

describe.each(drivers)('RoomStore contract: %s', (_name, make, unavailable) => {
  beforeEach((ctx) => {
    if (unavailable) ctx.skip(unavailable);
  });

  it('stores and returns copies of rooms, nulls and empty collections included', async () => {
    const rooms = await make();
    const r = room('lobby', { moderators: ['u2'], opensAt: 5, ownerId: null, timeouts: { u3: 99 } });
    await rooms.create(r);
    expect(await rooms.get('lobby')).toEqual(r);
    expect(await rooms.get('missing')).toBeNull();
    await rooms.create(room('empty'));
    expect(await rooms.get('empty')).toEqual(room('empty'));
    // Neither the record passed in nor one handed out is the stored state.
    r.moderators.push('mutated');
    const got = (await rooms.get('lobby')) as RoomRecord;
    got.timeouts.x = 1;
    expect(await rooms.get('lobby')).toEqual(room('lobby', { moderators: ['u2'], opensAt: 5, ownerId: null, timeouts: { u3: 99 } }));
  });

  it('refuses an id that exists with a conflict, even when two creates race', async () => {
    const rooms = await make();
    await rooms.create(room('a'));
    const err = await conflictOf(rooms.create(room('a', { title: 'other' })));
    expect([err.status, err.code, err.message]).toEqual([409, 'conflict', 'room "a" already exists']);
    expect((await rooms.get('a'))?.title).toBe('Room a');

    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => rooms.create(room('race', { title: `t${i}` }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await rooms.count()).toBe(2);
  });

  it('lists oldest first (creation order, not id order) and pages with `after`', async () => {
    const rooms = await make();
    const ids = ['zeta', 'alpha', 'mid', 'beta', 'omega'];
    for (const id of ids) await rooms.create(room(id));
    expect((await rooms.list(10)).map((r) => r.id)).toEqual(ids);
    expect((await rooms.list(2)).map((r) => r.id)).toEqual(['zeta', 'alpha']);
    expect((await rooms.list(2, 'alpha')).map((r) => r.id)).toEqual(['mid', 'beta']);
    expect((await rooms.list(10, 'beta')).map((r) => r.id)).toEqual(['omega']);
    expect(await rooms.list(10, 'omega')).toEqual([]);
    expect(await rooms.list(10, 'unknown')).toEqual([]);
    expect((await rooms.list(1))[0]).toEqual(room('zeta'));
    expect(await rooms.count()).toBe(5);
  });

  it('counts the rooms of each owner (the per-user quota), a lost race and ownerless rooms not counted', async () => {
    const rooms = await make();
    expect(await rooms.countByOwner('u1')).toBe(0);
    await rooms.create(room('a'));
    await rooms.create(room('b'));
    await rooms.create(room('c', { ownerId: 'u2' }));
    await rooms.create(room('d', { ownerId: null }));
    await conflictOf(rooms.create(room('a', { ownerId: 'u2' })));
    await Promise.allSettled(Array.from({ length: 5 }, () => rooms.create(room('race', { ownerId: 'u3' }))));
    expect(await rooms.countByOwner('u1')).toBe(2);
    expect(await rooms.countByOwner('u2')).toBe(1);
    expect(await rooms.countByOwner('u3')).toBe(1);
    expect(await rooms.countByOwner('nobody')).toBe(0);
    // Owner ids are keys in some drivers: prototype names and separators are ids like any other.
    await rooms.create(room('p', { ownerId: '__proto__' }));
    await rooms.create(room('q', { ownerId: 'u1:x' }));
    expect(await rooms.countByOwner('__proto__')).toBe(1);
    expect(await rooms.countByOwner('constructor')).toBe(0);
    expect(await rooms.countByOwner('u1')).toBe(2);
    // Closing or updating a room does not change whose it is.
    await rooms.update('a', { closedAt: 5 });
    expect(await rooms.countByOwner('u1')).toBe(2);
  });

  it('updates by merging a patch, null included, keeping id and createdAt, and returns the result', async () => {
    const rooms = await make();
    await rooms.create(room('a', { opensAt: 1 }));
    const patch = { title: 'New', moderators: ['u9'], closedAt: 42, opensAt: null, timeouts: { u5: 7 } };
    const expected = room('a', patch);
    expect(await rooms.update('a', patch)).toEqual(expected);
    expect(await rooms.get('a')).toEqual(expected);
    expect(await rooms.update('a', {})).toEqual(expected);
    expect(await rooms.update('a', { moderators: [] })).toEqual({ ...expected, moderators: [] });
    expect(await rooms.update('missing', { title: 'x' })).toBeNull();
    expect(await rooms.count()).toBe(1);
  });

  it('loses no field when different fields are updated at the same time', async () => {
    const rooms = await make();
    await rooms.create(room('a'));
    await Promise.all([
      rooms.update('a', { title: 'T' }),
      rooms.update('a', { closedAt: 1 }),
      rooms.update('a', { opensAt: 2 }),
      rooms.update('a', { moderators: ['m'] }),
      rooms.update('a', { timeouts: { u: 3 } }),
    ]);
    const both = room('a', { title: 'T', closedAt: 1, opensAt: 2, moderators: ['m'], timeouts: { u: 3 } });
    expect(await rooms.get('a')).toEqual(both);
    // Emptying collections concurrently with other fields loses nothing either.
    await Promise.all([
      rooms.update('a', { title: 'T2' }),
      rooms.update('a', { closesAt: 9 }),
      rooms.update('a', { moderators: [] }),
      rooms.update('a', { timeouts: {} }),
    ]);
    expect(await rooms.get('a')).toEqual({ ...both, title: 'T2', closesAt: 9, moderators: [], timeouts: {} });
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('RoomStore, %s across processes', (_name, fixture) => {
  it('shares rooms, their order and their count between processes', async () => {
    const a = new RedisRoomStore(fixture.client);
    const b = new RedisRoomStore(await fixture.connect());
    await a.create(room('one'));
    await b.create(room('two'));
    await conflictOf(b.create(room('one')));
    expect((await b.list(10)).map((r) => r.id)).toEqual(['one', 'two']);
    await b.update('one', { closedAt: 9 });
    expect((await a.get('one'))?.closedAt).toBe(9);
    expect(await a.count()).toBe(2);
  });
});

describe('RoomStore, Redis Cluster layout', () => {
  it("keeps a room's record in its channel's slot and spreads rooms over the masters", async () => {
    const rooms = new RedisRoomStore(cluster.client);
    const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
    for (const id of ids) await rooms.create(room(id, { ownerId: 'u1' }));
    const keys = roomKeys();
    // The channel's tag, exactly: presence, likes and the bus channel of `room:<id>` share this slot.
    expect(keys.record('lobby')).toBe('cp:{ch:room:lobby}:room');
    expect(hashSlot(keys.record('lobby'))).toBe(hashSlot('cp:{ch:room:lobby}:pres'));
    const slots = new Set(ids.map((id) => hashSlot(keys.record(id))));
    expect(slots.size).toBeGreaterThan(1);
    const topology = await cluster.cluster.topology();
    const holders = new Set(
      [...slots].map((slot) => topology.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b))?.address),
    );
    expect(holders.size).toBeGreaterThan(1);
    expect((await rooms.list(100)).map((r) => r.id)).toEqual(ids);
    expect(await rooms.countByOwner('u1')).toBe(12);
  });

  it('a create that died after claiming its place leaves nothing visible, and the id can still be created', async () => {
    const rooms = new RedisRoomStore(cluster.client);
    await rooms.create(room('first'));
    // What a process dying between the index step and the record step leaves behind.
    await cluster.client.zadd(roomKeys().index, await cluster.client.incr(roomKeys().seq), 'orphan');
    await rooms.create(room('last'));
    expect((await rooms.list(10)).map((r) => r.id)).toEqual(['first', 'last']);
    await rooms.create(room('orphan'));
    expect((await rooms.get('orphan'))?.id).toBe('orphan');
    expect((await rooms.list(10)).map((r) => r.id)).toEqual(['first', 'orphan', 'last']);
  });
});
