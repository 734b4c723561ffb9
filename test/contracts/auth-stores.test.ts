// UserStore and ApiKeyStore contracts, one suite for every driver: memory always, Redis (a redis-server per
// file), Redis Cluster (3 masters per file), and MongoDB when MONGODB_URL is set (a fresh database per file;
// skipped otherwise). The RevocationStore contract runs on memory and Redis (single and cluster), its only
// drivers. To run the Mongo variants:
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/
import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryApiKeyStore, MemoryRevocationStore, MemoryUserStore } from '../../src/auth/stores.js';
import { RedisApiKeyStore, RedisRevocationStore, RedisUserStore } from '../../src/auth/redis-stores.js';
import type { ApiKeyRecord, ApiKeyStore, RevocationStore, UserRecord, UserStore } from '../../src/auth/stores.js';
import { hashSlot } from '../../src/redis/keys.js';
import { sleep, useRedis } from './redis-fixture.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });
const mongo = useMongo();
const noMongo = mongoUrl ? undefined : 'MONGODB_URL not set';

const user = (id: string, username: string, over: Partial<UserRecord> = {}): UserRecord => ({
  id,
  username,
  passwordHash: `scrypt$${id}`,
  role: 'user',
  createdAt: 1_700_000_000_000,
  disabled: false,
  ...over,
});

const apiKey = (id: string, userId: string, createdAt: number, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id,
  userId,
  name: `key ${id}`,
  prefix: `cp_${id}`,
  hash: `hash-${id}`,
  createdAt,
  lastUsedAt: null,
  ...over,
});

async function conflictMessage(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(409);
  return (err as AppError).message;
}

/** [name, a fresh store, why the driver cannot run here (its tests are then reported as skipped)]. */
type Driver<S> = [name: string, make: () => Promise<S>, unavailable?: string];

const userDrivers: Array<Driver<UserStore>> = [
  ['memory', async () => new MemoryUserStore()],
  ['redis', async () => new RedisUserStore(redis.client)],
  ['redis-cluster', async () => new RedisUserStore(cluster.client)],
  ['mongo', async () => (await mongo.fresh()).users, noMongo],
];

const apiKeyDrivers: Array<Driver<ApiKeyStore>> = [
  ['memory', async () => new MemoryApiKeyStore()],
  ['redis', async () => new RedisApiKeyStore(redis.client)],
  ['redis-cluster', async () => new RedisApiKeyStore(cluster.client)],
  ['mongo', async () => (await mongo.fresh()).apiKeys, noMongo],
];

describe.each(userDrivers)('UserStore contract: %s', (_name, make, unavailable) => {
  beforeEach((ctx) => {
    if (unavailable) ctx.skip(unavailable);
  });

  it('finds users by id and by username, case-insensitively, as copies, optional fields included', async () => {
    const users = await make();
    const alice = user('u1', 'Alice', { displayName: 'Alice A.', avatarUrl: 'https://example.test/a.png' });
    await users.create(alice);
    expect(await users.findById('u1')).toEqual(alice);
    expect(await users.findByUsername('alice')).toEqual(alice);
    expect(await users.findByUsername('ALICE')).toEqual(alice);
    expect(await users.findById('nobody')).toBeNull();
    expect(await users.findByUsername('bob')).toBeNull();
    const copy = (await users.findById('u1')) as UserRecord;
    copy.role = 'admin';
    expect((await users.findById('u1'))?.role).toBe('user');
  });

  it('refuses a taken username (any case) and a taken id', async () => {
    const users = await make();
    await users.create(user('u1', 'Alice'));
    expect(await conflictMessage(users.create(user('u2', 'aLiCe')))).toBe('username taken');
    expect(await conflictMessage(users.create(user('u1', 'bob')))).toBe('user id taken');
    expect(await users.findByUsername('bob')).toBeNull();
    const raced = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => users.create(user(`r${i}`, i % 2 ? 'Racer' : 'racer'))));
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await users.countByRole()).toEqual({ user: 2, admin: 0 });
  });

  it('updates records, renames (freeing the old name) and keeps id and createdAt', async () => {
    const users = await make();
    await users.create(user('u1', 'Alice', { displayName: 'Alice A.', avatarUrl: 'https://example.test/a.png' }));
    await users.create(user('u2', 'Bob'));
    // An optional field patched to undefined is cleared; the others are kept.
    const updated = await users.update('u1', { username: 'Alicia', disabled: true, displayName: undefined });
    expect(updated).toEqual(user('u1', 'Alicia', { disabled: true, avatarUrl: 'https://example.test/a.png' }));
    expect(await users.findById('u1')).toEqual(updated);
    expect(await users.findByUsername('alice')).toBeNull();
    expect((await users.findByUsername('ALICIA'))?.id).toBe('u1');
    // A new spelling of one's own name is not a conflict.
    expect((await users.update('u1', { username: 'ALICIA' }))?.username).toBe('ALICIA');
    expect(await conflictMessage(users.update('u1', { username: 'bob' }))).toBe('username taken');
    expect((await users.findById('u1'))?.username).toBe('ALICIA');
    expect((await users.findByUsername('bob'))?.id).toBe('u2');
    expect(await users.update('missing', { disabled: true })).toBeNull();
    await users.create(user('u3', 'alice'));
    expect(await users.countByRole()).toEqual({ user: 3, admin: 0 });
  });

  it('keeps the token generation through create, update, lookups and listing (a password change retires tokens)', async () => {
    const users = await make();
    await users.create(user('u1', 'Alice', { tokenGen: 2 }));
    await users.create(user('u2', 'Bob'));
    expect(await users.findById('u1')).toEqual(user('u1', 'Alice', { tokenGen: 2 }));
    expect((await users.findById('u2'))?.tokenGen).toBeUndefined();
    // What AuthService.changePassword writes.
    const changed = await users.update('u1', { passwordHash: 'scrypt$new', tokenGen: 3 });
    expect(changed).toEqual(user('u1', 'Alice', { passwordHash: 'scrypt$new', tokenGen: 3 }));
    expect((await users.findById('u1'))?.tokenGen).toBe(3);
    expect((await users.findByUsername('ALICE'))?.tokenGen).toBe(3);
    expect((await users.list(10)).find((u) => u.id === 'u1')?.tokenGen).toBe(3);
    // Other patches leave it alone.
    await users.update('u1', { displayName: 'A.', disabled: true });
    expect((await users.findById('u1'))?.tokenGen).toBe(3);
    expect((await users.update('u2', { tokenGen: 1 }))?.tokenGen).toBe(1);
    expect((await users.findById('u2'))?.tokenGen).toBe(1);
  });

  it('counts accounts by role, following role changes', async () => {
    const users = await make();
    expect(await users.countByRole()).toEqual({ user: 0, admin: 0 });
    await users.create(user('u1', 'a'));
    await users.create(user('u2', 'b'));
    await users.create(user('u3', 'c', { role: 'admin' }));
    expect(await users.countByRole()).toEqual({ user: 2, admin: 1 });
    await users.update('u1', { role: 'admin' });
    await users.update('u2', { disabled: true });
    expect(await users.countByRole()).toEqual({ user: 1, admin: 2 });
  });

  it('lists users in id order, paging with `after` without gaps or repeats', async () => {
    const users = await make();
    for (const id of ['01U3', '01U1', '01U5', '01U2', '01U4'])
      await users.create(user(id, `name-${id}`, { role: id === '01U2' ? 'admin' : 'user' }));
    const all = ['01U1', '01U2', '01U3', '01U4', '01U5'];
    expect((await users.list(10)).map((u) => u.id)).toEqual(all);
    expect((await users.list(2)).map((u) => u.id)).toEqual(['01U1', '01U2']);
    expect((await users.list(2, '01U2')).map((u) => u.id)).toEqual(['01U3', '01U4']);
    expect((await users.list(10, '01U4')).map((u) => u.id)).toEqual(['01U5']);
    // `after` need not be a stored id: a deleted user's id still pages on.
    expect((await users.list(10, '01U25')).map((u) => u.id)).toEqual(['01U3', '01U4', '01U5']);
    expect(await users.list(10, '01U5')).toEqual([]);
    expect(await users.list(0)).toEqual([]);
    expect((await users.list(1))[0]).toEqual(user('01U1', 'name-01U1'));
    // Walking every page, each starting after the last id of the one before, visits every user once.
    for (const size of [1, 2, 3]) {
      const seen: string[] = [];
      for (let page = await users.list(size); page.length > 0; page = await users.list(size, page[page.length - 1]?.id)) {
        expect(page.length).toBeLessThanOrEqual(size);
        seen.push(...page.map((u) => u.id));
      }
      expect(seen).toEqual(all);
    }
    // A deleted user drops out of the pages.
    await users.delete('01U3');
    expect((await users.list(2, '01U2')).map((u) => u.id)).toEqual(['01U4', '01U5']);
  });

  it('deletes users, freeing the username, and keeps counts right', async () => {
    const users = await make();
    await users.create(user('u1', 'Alice', { role: 'admin' }));
    await users.create(user('u2', 'Bob'));
    expect(await users.delete('u1')).toBe(true);
    expect(await users.delete('u1')).toBe(false);
    expect(await users.delete('missing')).toBe(false);
    expect(await users.findById('u1')).toBeNull();
    expect(await users.findByUsername('alice')).toBeNull();
    expect(await users.countByRole()).toEqual({ user: 1, admin: 0 });
    expect((await users.list(10)).map((u) => u.id)).toEqual(['u2']);
    // The name can be registered again, in any case, by a new account.
    await users.create(user('u3', 'ALICE'));
    expect((await users.findByUsername('alice'))?.id).toBe('u3');
    expect(await users.countByRole()).toEqual({ user: 2, admin: 0 });

    // Deleting after a rename and a role change frees the current name and uncounts the current role.
    await users.update('u2', { username: 'Robert', role: 'admin' });
    expect(await users.countByRole()).toEqual({ user: 1, admin: 1 });
    expect(await users.delete('u2')).toBe(true);
    expect(await users.findByUsername('robert')).toBeNull();
    expect(await users.countByRole()).toEqual({ user: 1, admin: 0 });
    await users.create(user('u4', 'robert'));
    await users.create(user('u5', 'bob'));
    expect((await users.list(10)).map((u) => u.id)).toEqual(['u3', 'u4', 'u5']);
    expect(await users.countByRole()).toEqual({ user: 3, admin: 0 });
  });
});

describe.each(apiKeyDrivers)('ApiKeyStore contract: %s', (_name, make, unavailable) => {
  beforeEach((ctx) => {
    if (unavailable) ctx.skip(unavailable);
  });

  it('finds keys by hash and refuses a duplicate id or hash', async () => {
    const keys = await make();
    const k = apiKey('k1', 'u1', 100);
    await keys.create(k);
    expect(await keys.findByHash('hash-k1')).toEqual(k);
    expect(await keys.findByHash('nope')).toBeNull();
    await conflictMessage(keys.create(apiKey('k1', 'u1', 200, { hash: 'other-hash' })));
    await conflictMessage(keys.create(apiKey('k1', 'u2', 1, { hash: 'third-hash' })));
    await conflictMessage(keys.create(apiKey('k2', 'u1', 200, { hash: 'hash-k1' })));
    expect(await keys.findByHash('other-hash')).toBeNull();
    expect(await keys.listByUser('u1')).toEqual([k]);
    expect(await keys.listByUser('u2')).toEqual([]);
  });

  it("lists a user's keys oldest first, ties by id", async () => {
    const keys = await make();
    await keys.create(apiKey('k3', 'u1', 300));
    await keys.create(apiKey('k2b', 'u1', 200));
    await keys.create(apiKey('k2a', 'u1', 200));
    await keys.create(apiKey('k1', 'u1', 100));
    await keys.create(apiKey('x', 'u2', 50));
    expect((await keys.listByUser('u1')).map((k) => k.id)).toEqual(['k1', 'k2a', 'k2b', 'k3']);
    expect((await keys.listByUser('u2')).map((k) => k.id)).toEqual(['x']);
    expect(await keys.listByUser('nobody')).toEqual([]);
  });

  it('touches last use, ignoring missing ids', async () => {
    const keys = await make();
    await keys.create(apiKey('k1', 'u1', 100));
    await keys.touch('k1', 12345);
    expect((await keys.findByHash('hash-k1'))?.lastUsedAt).toBe(12345);
    expect((await keys.listByUser('u1'))[0]?.lastUsedAt).toBe(12345);
    await keys.touch('gone', 1);
    expect(await keys.findByHash('hash-gone')).toBeNull();
    expect(await keys.listByUser('u1')).toHaveLength(1);
  });

  it('deletes a key from every index, once', async () => {
    const keys = await make();
    await keys.create(apiKey('k1', 'u1', 100));
    await keys.create(apiKey('k2', 'u1', 200));
    expect(await keys.delete('k1')).toBe(true);
    expect(await keys.delete('k1')).toBe(false);
    expect(await keys.findByHash('hash-k1')).toBeNull();
    expect((await keys.listByUser('u1')).map((k) => k.id)).toEqual(['k2']);
    await keys.touch('k1', 5);
    expect(await keys.findByHash('hash-k1')).toBeNull();
    // The hash is free again.
    await keys.create(apiKey('k3', 'u1', 300, { hash: 'hash-k1' }));
    expect((await keys.findByHash('hash-k1'))?.id).toBe('k3');
  });

  it('deletes every key of a user and only theirs, returning how many', async () => {
    const keys = await make();
    for (const [id, owner] of [
      ['a1', 'u1'],
      ['a2', 'u1'],
      ['a3', 'u1'],
      ['b1', 'u2'],
    ] as const)
      await keys.create(apiKey(id, owner, 1));
    expect(await keys.deleteByUser('u1')).toBe(3);
    expect(await keys.deleteByUser('u1')).toBe(0);
    expect(await keys.deleteByUser('nobody')).toBe(0);
    expect(await keys.listByUser('u1')).toEqual([]);
    for (const id of ['a1', 'a2', 'a3']) expect(await keys.findByHash(`hash-${id}`)).toBeNull();
    expect((await keys.listByUser('u2')).map((k) => k.id)).toEqual(['b1']);
    expect((await keys.findByHash('hash-b1'))?.id).toBe('b1');
    expect(await keys.delete('a2')).toBe(false);
    // Their ids and hashes are free again.
    await keys.create(apiKey('a1', 'u3', 2));
    expect((await keys.findByHash('hash-a1'))?.userId).toBe('u3');
    expect(await keys.listByUser('u1')).toEqual([]);
  });

  it('reports keys in total and keys used at or after `since`; never-used keys do not count', async () => {
    const keys = await make();
    expect(await keys.usage(0)).toEqual({ keys: 0, usedSince: 0 });
    await keys.create(apiKey('never', 'u1', 1));
    await keys.create(apiKey('old', 'u1', 1, { lastUsedAt: 1_000 }));
    await keys.create(apiKey('edge', 'u2', 1, { lastUsedAt: 5_000 }));
    await keys.create(apiKey('new', 'u2', 1));
    expect((await keys.findByHash('hash-old'))?.lastUsedAt).toBe(1_000);
    expect(await keys.usage(0)).toEqual({ keys: 4, usedSince: 2 });
    await keys.touch('new', 9_000);
    expect(await keys.usage(5_000)).toEqual({ keys: 4, usedSince: 2 });
    expect(await keys.usage(5_001)).toEqual({ keys: 4, usedSince: 1 });
    expect(await keys.usage(0)).toEqual({ keys: 4, usedSince: 3 });
    expect(await keys.usage(10_000)).toEqual({ keys: 4, usedSince: 0 });
    // A later touch moves a key into a later window.
    await keys.touch('old', 6_000);
    expect(await keys.usage(5_001)).toEqual({ keys: 4, usedSince: 2 });
    await keys.deleteByUser('u2');
    expect(await keys.usage(0)).toEqual({ keys: 2, usedSince: 1 });
    expect(await keys.delete('old')).toBe(true);
    expect(await keys.usage(0)).toEqual({ keys: 1, usedSince: 0 });
    // Touching a deleted key does not bring it back into the figures.
    await keys.touch('old', 7_000);
    expect(await keys.usage(0)).toEqual({ keys: 1, usedSince: 0 });
  });
});

describe.each([
  [
    'memory',
    async (): Promise<RevocationStore> => {
      const store = new MemoryRevocationStore({ sweepIntervalMs: 0 });
      redis.defer(() => store.close());
      return store;
    },
  ],
  ['redis', async (): Promise<RevocationStore> => new RedisRevocationStore(redis.client)],
  ['redis-cluster', async (): Promise<RevocationStore> => new RedisRevocationStore(cluster.client)],
] as const)('RevocationStore contract: %s', (_name, make) => {
  it('revokes once: the first revoke wins, later ones report it was already revoked', async () => {
    const store = await make();
    const exp = Date.now() + 60_000;
    expect(await store.isRevoked('j1')).toBe(false);
    expect(await store.revoke('j1', exp)).toBe(true);
    expect(await store.revoke('j1', exp)).toBe(false);
    expect(await store.isRevoked('j1')).toBe(true);
    expect(await store.isRevoked('j2')).toBe(false);
    const raced = await Promise.all(Array.from({ length: 10 }, () => store.revoke('j3', exp)));
    expect(raced.filter(Boolean)).toHaveLength(1);
  });

  it('forgets entries when the token would have expired anyway', async () => {
    const store = await make();
    expect(await store.revoke('dead', Date.now() - 1_000)).toBe(true);
    expect(await store.isRevoked('dead')).toBe(false);
    expect(await store.revoke('dead', Date.now() - 1_000)).toBe(true);
    expect(await store.revoke('zero', 0)).toBe(true);

    expect(await store.revoke('short', Date.now() + 150)).toBe(true);
    expect(await store.isRevoked('short')).toBe(true);
    await sleep(300);
    expect(await store.isRevoked('short')).toBe(false);
    expect(await store.revoke('short', Date.now() + 60_000)).toBe(true);
  });
});

describe.each([
  ['redis', redis],
  ['redis-cluster', cluster],
] as const)('auth stores, %s across processes', (_name, fixture) => {
  it('share users, keys and revocations between processes', async () => {
    const other = await fixture.connect();
    const [usersA, usersB] = [new RedisUserStore(fixture.client), new RedisUserStore(other)];
    await usersA.create(user('u1', 'Alice'));
    expect(await conflictMessage(usersB.create(user('u2', 'ALICE')))).toBe('username taken');
    expect((await usersB.findByUsername('alice'))?.id).toBe('u1');

    const [keysA, keysB] = [new RedisApiKeyStore(fixture.client), new RedisApiKeyStore(other)];
    await keysA.create(apiKey('k1', 'u1', 1));
    await keysB.touch('k1', 77);
    expect((await keysA.findByHash('hash-k1'))?.lastUsedAt).toBe(77);

    const [revA, revB] = [new RedisRevocationStore(fixture.client), new RedisRevocationStore(other)];
    expect(await revA.revoke('j', Date.now() + 60_000)).toBe(true);
    expect(await revB.revoke('j', Date.now() + 60_000)).toBe(false);
    expect(await revB.isRevoked('j')).toBe(true);
  });
});

describe('auth stores, Redis Cluster layout', () => {
  it('keeps each store in its one slot and spreads revocations', async () => {
    const users = new RedisUserStore(cluster.client);
    const keys = new RedisApiKeyStore(cluster.client);
    const revocations = new RedisRevocationStore(cluster.client);
    for (let i = 0; i < 5; i++) {
      await users.create(user(`u${i}`, `user${i}`));
      await keys.create(apiKey(`k${i}`, `u${i}`, i));
      await revocations.revoke(`jti-${i}`, Date.now() + 60_000);
    }
    const slots = async (pattern: string) => new Set((await cluster.keys(pattern)).map(hashSlot));
    expect(await slots('cp:{users}:*')).toEqual(new Set([hashSlot('{users}')]));
    expect(await slots('cp:{keys}:*')).toEqual(new Set([hashSlot('{keys}')]));
    expect((await slots('cp:revoked:*')).size).toBe(5);
    expect((await users.list(10)).map((u) => u.id)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
  });
});
