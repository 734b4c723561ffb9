// RoomStore contract for the persistent drivers: memory always, MongoDB when MONGODB_URL is set (a fresh
// database per file). The Redis driver is covered by rooms.test.ts.
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryRoomStore, type RoomRecord, type RoomStore } from '../../src/channels/rooms.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

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

async function errorOf(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function contract(make: () => Promise<RoomStore>): void {
  it('stores and returns copies of rooms, nulls and empty collections included', async () => {
    const rooms = await make();
    const r = room('lobby', { moderators: ['u2'], opensAt: 5, ownerId: null, timeouts: { u3: 99 } });
    await rooms.create(r);
    expect(await rooms.get('lobby')).toEqual(room('lobby', { moderators: ['u2'], opensAt: 5, ownerId: null, timeouts: { u3: 99 } }));
    expect(await rooms.get('missing')).toBeNull();
    await rooms.create(room('empty'));
    expect(await rooms.get('empty')).toEqual(room('empty'));
    r.moderators.push('mutated');
    const got = (await rooms.get('lobby')) as RoomRecord;
    got.timeouts.x = 1;
    expect((await rooms.get('lobby'))?.moderators).toEqual(['u2']);
    expect((await rooms.get('lobby'))?.timeouts).toEqual({ u3: 99 });
  });

  it('refuses a taken id with a conflict, even when creates race', async () => {
    const rooms = await make();
    await rooms.create(room('a'));
    const err = await errorOf(rooms.create(room('a', { title: 'other' })));
    expect([err.status, err.code, err.message]).toEqual([409, 'conflict', 'room "a" already exists']);
    expect((await rooms.get('a'))?.title).toBe('Room a');
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => rooms.create(room('race', { title: `t${i}` }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await rooms.count()).toBe(2);
  });

  it('lists oldest first (creation order, not id order) and pages with `after`', async () => {
    const rooms = await make();
    const ids = ['zeta', 'alpha', 'mid', 'beta', 'omega'];
    for (const id of ids) await rooms.create(room(id));
    expect((await rooms.list(10)).map((r) => r.id)).toEqual(ids);
    expect((await rooms.list(2, 'alpha')).map((r) => r.id)).toEqual(['mid', 'beta']);
    expect((await rooms.list(10, 'beta')).map((r) => r.id)).toEqual(['omega']);
    expect(await rooms.list(10, 'omega')).toEqual([]);
    expect(await rooms.list(10, 'unknown')).toEqual([]);
    expect((await rooms.list(1))[0]).toEqual(room('zeta'));
    expect(await rooms.count()).toBe(5);
  });

  it('updates by merging a patch, null included, and loses no field to concurrent updates', async () => {
    const rooms = await make();
    await rooms.create(room('a', { opensAt: 1 }));
    const expected = room('a', { title: 'New', moderators: ['u9'], closedAt: 42, opensAt: null, timeouts: { u5: 7 } });
    expect(await rooms.update('a', { title: 'New', moderators: ['u9'], closedAt: 42, opensAt: null, timeouts: { u5: 7 } })).toEqual(expected);
    expect(await rooms.get('a')).toEqual(expected);
    expect(await rooms.update('a', {})).toEqual(expected);
    expect(await rooms.update('missing', { title: 'x' })).toBeNull();
    await Promise.all([
      rooms.update('a', { title: 'T' }),
      rooms.update('a', { closesAt: 9 }),
      rooms.update('a', { moderators: [] }),
      rooms.update('a', { timeouts: {} }),
    ]);
    expect(await rooms.get('a')).toEqual({ ...expected, title: 'T', closesAt: 9, moderators: [], timeouts: {} });
    expect(await rooms.count()).toBe(1);
  });
}

describe('RoomStore contract: memory', () => contract(async () => new MemoryRoomStore()));
describe.skipIf(!mongoUrl)('RoomStore contract: mongo', () => contract(async () => (await mongo.fresh()).rooms));
