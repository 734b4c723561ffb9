// RoomStore contract, one suite for every driver: memory always, Redis (a redis-server per file), Redis Cluster
// (3 masters per file), and MongoDB when MONGODB_URL is set (a fresh database per file; skipped otherwise).
// To run the Mongo variants:
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/
import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryRoomStore, type RoomLifecycle, type RoomRecord, type RoomStore } from '../../src/channels/rooms.js';
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

// The room lifecycle's store half (src/channels/room-lifecycle.ts): a transition is a compare-and-set on the
// lifecycle's `seq`, and `due` finds the rooms whose deadline passed, on every driver.
const life = (
  state: RoomLifecycle['state'],
  endsAt: number | null,
  seq: number,
  decisions: Record<string, boolean> = {},
): RoomLifecycle => ({
  state,
  endsAt,
  decisions,
  seq,
});

describe.each(drivers)('RoomStore lifecycle transitions: %s', (_name, make, unavailable) => {
  beforeEach((ctx) => {
    if (unavailable) ctx.skip(unavailable);
  });

  it('stores a lifecycle with the room and writes a transition only over the expected seq', async () => {
    const rooms = await make();
    await rooms.create(room('l', { lifecycle: life('active', 1_000, 1) }));
    await rooms.create(room('plain'));
    expect((await rooms.get('l'))?.lifecycle).toEqual(life('active', 1_000, 1));
    expect((await rooms.get('plain'))?.lifecycle).toBeUndefined();

    const next = life('countdown', 2_000, 2);
    expect(await rooms.transition('l', 1, { lifecycle: next })).toEqual(room('l', { lifecycle: next }));
    expect((await rooms.get('l'))?.lifecycle).toEqual(next);
    // The same change again (what a second process would try) finds seq 2, not 1: nothing is written.
    expect(await rooms.transition('l', 1, { lifecycle: life('decision', 3_000, 2) })).toBeNull();
    expect((await rooms.get('l'))?.lifecycle).toEqual(next);
    // No room, or a room without a lifecycle: null, nothing written.
    expect(await rooms.transition('missing', 1, { lifecycle: next })).toBeNull();
    expect(await rooms.transition('plain', 1, { lifecycle: next })).toBeNull();
    expect((await rooms.get('plain'))?.lifecycle).toBeUndefined();

    // Decisions are part of the lifecycle; an end closes the room in the same write.
    await rooms.transition('l', 2, { lifecycle: life('decision', 3_000, 3, { u1: true }) });
    expect((await rooms.get('l'))?.lifecycle?.decisions).toEqual({ u1: true });
    const ended = await rooms.transition('l', 3, { lifecycle: life('ended', null, 4), closedAt: 3_500 });
    expect(ended).toEqual(room('l', { lifecycle: life('ended', null, 4), closedAt: 3_500 }));
  });

  it('lets exactly one of many racing transitions from one state win', async () => {
    const rooms = await make();
    await rooms.create(room('race', { lifecycle: life('decision', 1_000, 7) }));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => rooms.transition('race', 7, { lifecycle: life('decision', 1_000, 8, { [`u${i}`]: true }) })),
    );
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect((await rooms.get('race'))?.lifecycle).toEqual((winners[0] as RoomRecord).lifecycle);
  });

  it('keeps the fields other writers change while a transition is under way', async () => {
    const rooms = await make();
    await rooms.create(room('mixed', { lifecycle: life('active', 1_000, 1) }));
    await Promise.all([
      rooms.update('mixed', { title: 'T' }),
      rooms.transition('mixed', 1, { lifecycle: life('countdown', 2_000, 2) }),
      rooms.update('mixed', { timeouts: { u4: 9 } }),
    ]);
    expect(await rooms.get('mixed')).toEqual(room('mixed', { title: 'T', timeouts: { u4: 9 }, lifecycle: life('countdown', 2_000, 2) }));
  });

  it('finds the rooms whose deadline passed, and only until they move on', async () => {
    const rooms = await make();
    await rooms.create(room('early', { lifecycle: life('active', 1_000, 1) }));
    await rooms.create(room('late', { lifecycle: life('countdown', 5_000, 1) }));
    await rooms.create(room('done', { lifecycle: life('ended', null, 9), closedAt: 10 }));
    await rooms.create(room('plain'));
    const ids = async (now: number, limit = 10) => (await rooms.due(now, limit)).map((r) => r.id).sort();
    expect(await ids(500)).toEqual([]);
    expect(await ids(1_000)).toEqual(['early']);
    expect(await ids(6_000)).toEqual(['early', 'late']);
    expect(await ids(6_000, 1)).toHaveLength(1);
    expect((await rooms.due(1_000, 10))[0]).toEqual(room('early', { lifecycle: life('active', 1_000, 1) }));
    await rooms.transition('early', 1, { lifecycle: life('countdown', 9_000, 2) });
    expect(await ids(6_000)).toEqual(['late']);
    expect(await ids(9_000)).toEqual(['early', 'late']);
    await rooms.transition('late', 1, { lifecycle: life('ended', null, 2), closedAt: 6_000 });
    expect(await ids(1e15)).toEqual(['early']);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('RoomStore lifecycle deadlines, %s', (_name, fixture) => {
  it('repairs a deadline index a dead process left behind, and two processes advance a room once', async () => {
    const a = new RedisRoomStore(fixture.client);
    const b = new RedisRoomStore(await fixture.connect());
    const keys = roomKeys();
    await a.create(room('r', { lifecycle: life('active', 1_000, 1) }));
    expect(await fixture.client.zscore(keys.deadlines, 'r')).toBe('1000');
    // A process that died after its transition but before writing the index: the old, early score stays.
    await a.transition('r', 1, { lifecycle: life('countdown', 8_000, 2) });
    await fixture.client.zadd(keys.deadlines, 1_000, 'r');
    expect(await b.due(2_000, 10)).toEqual([]);
    expect(await fixture.client.zscore(keys.deadlines, 'r')).toBe('8000');
    // A ghost entry (a room that is gone) is dropped.
    await fixture.client.zadd(keys.deadlines, 1, 'ghost');
    expect(await b.due(2_000, 10)).toEqual([]);
    expect(await fixture.client.zscore(keys.deadlines, 'ghost')).toBeNull();
    // Both processes see the room due; one transition wins.
    const [fromA, fromB] = await Promise.all([a.due(9_000, 10), b.due(9_000, 10)]);
    expect([fromA.map((r) => r.id), fromB.map((r) => r.id)]).toEqual([['r'], ['r']]);
    const won = await Promise.all([
      a.transition('r', 2, { lifecycle: life('decision', 9_500, 3) }),
      b.transition('r', 2, { lifecycle: life('decision', 9_600, 3) }),
    ]);
    expect(won.filter((r) => r !== null)).toHaveLength(1);
    // Ended: out of the index for good.
    await a.transition('r', 3, { lifecycle: life('ended', null, 4), closedAt: 10_000 });
    expect(await fixture.client.zscore(keys.deadlines, 'r')).toBeNull();
    // The index and the record of a room share nothing but the id: the deadlines live with the room index.
    expect(keys.deadlines).toBe('cp:{rooms}:deadlines');
  });
});
