// UserStore, ApiKeyStore and RevocationStore contracts, memory and Redis.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryApiKeyStore, MemoryRevocationStore, MemoryUserStore } from '../../src/auth/memory.js';
import { RedisApiKeyStore, RedisRevocationStore, RedisUserStore } from '../../src/auth/redis.js';
import type { ApiKeyRecord, ApiKeyStore, RevocationStore, UserRecord, UserStore } from '../../src/auth/stores.js';
import { sleep, useRedis } from './redis-fixture.js';

const redis = useRedis();

const user = (id: string, username: string, over: Partial<UserRecord> = {}): UserRecord => ({
  id,
  username,
  passwordHash: `scrypt$${id}`,
  role: 'user',
  createdAt: 1_700_000_000_000,
  disabled: false,
  ...over,
});

const apiKey = (id: string, userId: string, createdAt: number, hash = `hash-${id}`): ApiKeyRecord => ({
  id,
  userId,
  name: `key ${id}`,
  prefix: `cp_${id}`,
  hash,
  createdAt,
  lastUsedAt: null,
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

describe.each([
  ['memory', async (): Promise<UserStore> => new MemoryUserStore()],
  ['redis', async (): Promise<UserStore> => new RedisUserStore(redis.client)],
] as const)('UserStore contract: %s', (_name, make) => {
  it('finds users by id and by username, case-insensitively, as copies', async () => {
    const users = await make();
    const alice = user('u1', 'Alice');
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
    await users.create(user('u1', 'Alice'));
    await users.create(user('u2', 'Bob'));
    const updated = await users.update('u1', { username: 'Alicia', disabled: true });
    expect(updated).toEqual(user('u1', 'Alicia', { disabled: true }));
    expect(await users.findByUsername('alice')).toBeNull();
    expect((await users.findByUsername('ALICIA'))?.id).toBe('u1');
    // A new spelling of one's own name is not a conflict.
    expect((await users.update('u1', { username: 'ALICIA' }))?.username).toBe('ALICIA');
    expect(await conflictMessage(users.update('u1', { username: 'bob' }))).toBe('username taken');
    expect((await users.findById('u1'))?.username).toBe('ALICIA');
    expect((await users.findByUsername('bob'))?.id).toBe('u2');
    expect(await users.update('missing', { disabled: true })).toBeNull();
    await users.create(user('u3', 'alice'));
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
});

describe.each([
  ['memory', async (): Promise<ApiKeyStore> => new MemoryApiKeyStore()],
  ['redis', async (): Promise<ApiKeyStore> => new RedisApiKeyStore(redis.client)],
] as const)('ApiKeyStore contract: %s', (_name, make) => {
  it('finds keys by hash and refuses a duplicate id or hash', async () => {
    const keys = await make();
    const k = apiKey('k1', 'u1', 100);
    await keys.create(k);
    expect(await keys.findByHash('hash-k1')).toEqual(k);
    expect(await keys.findByHash('nope')).toBeNull();
    await conflictMessage(keys.create(apiKey('k1', 'u1', 200, 'other-hash')));
    await conflictMessage(keys.create(apiKey('k2', 'u1', 200, 'hash-k1')));
    expect(await keys.listByUser('u1')).toEqual([k]);
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
    await keys.create(apiKey('k3', 'u1', 300, 'hash-k1'));
    expect((await keys.findByHash('hash-k1'))?.id).toBe('k3');
  });
});

describe.each([
  ['memory', async (): Promise<RevocationStore> => {
    const store = new MemoryRevocationStore({ sweepIntervalMs: 0 });
    redis.defer(() => store.close());
    return store;
  }],
  ['redis', async (): Promise<RevocationStore> => new RedisRevocationStore(redis.client)],
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

describe('auth stores, Redis across processes', () => {
  it('share users, keys and revocations between processes', async () => {
    const other = await redis.connect();
    const [usersA, usersB] = [new RedisUserStore(redis.client), new RedisUserStore(other)];
    await usersA.create(user('u1', 'Alice'));
    expect(await conflictMessage(usersB.create(user('u2', 'ALICE')))).toBe('username taken');
    expect((await usersB.findByUsername('alice'))?.id).toBe('u1');

    const [keysA, keysB] = [new RedisApiKeyStore(redis.client), new RedisApiKeyStore(other)];
    await keysA.create(apiKey('k1', 'u1', 1));
    await keysB.touch('k1', 77);
    expect((await keysA.findByHash('hash-k1'))?.lastUsedAt).toBe(77);

    const [revA, revB] = [new RedisRevocationStore(redis.client), new RedisRevocationStore(other)];
    expect(await revA.revoke('j', Date.now() + 60_000)).toBe(true);
    expect(await revB.revoke('j', Date.now() + 60_000)).toBe(false);
    expect(await revB.isRevoked('j')).toBe(true);
  });
});
