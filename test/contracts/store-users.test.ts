// UserStore and ApiKeyStore contracts for the persistent drivers: memory always, MongoDB when MONGODB_URL is
// set (a fresh database per file). The Redis drivers are covered by auth-stores.test.ts.
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryApiKeyStore, MemoryUserStore } from '../../src/auth/memory.js';
import type { ApiKeyRecord, ApiKeyStore, UserRecord, UserStore } from '../../src/auth/stores.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();

const user = (id: string, username: string, over: Partial<UserRecord> = {}): UserRecord => ({
  id,
  username,
  passwordHash: `scrypt$${id}`,
  role: 'user',
  createdAt: 1_700_000_000_000,
  disabled: false,
  ...over,
});

const apiKey = (id: string, userId: string, createdAt: number, lastUsedAt: number | null = null): ApiKeyRecord => ({
  id,
  userId,
  name: `key ${id}`,
  prefix: `cp_${id}`,
  hash: `hash-${id}`,
  createdAt,
  lastUsedAt,
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

function userContract(make: () => Promise<UserStore>): void {
  it('finds users by id and username (any case), refuses taken names and ids, and renames', async () => {
    const users = await make();
    const alice = user('u1', 'Alice', { displayName: 'Alice A.', avatarUrl: 'https://example.test/a.png' });
    await users.create(alice);
    expect(await users.findById('u1')).toEqual(alice);
    expect(await users.findByUsername('ALICE')).toEqual(alice);
    expect(await users.findByUsername('bob')).toBeNull();
    expect(await conflictMessage(users.create(user('u2', 'aLiCe')))).toBe('username taken');
    expect(await conflictMessage(users.create(user('u1', 'bob')))).toBe('user id taken');
    const raced = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => users.create(user(`r${i}`, i % 2 ? 'Racer' : 'racer'))));
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);

    await users.create(user('u3', 'Bob'));
    expect(await users.update('u1', { username: 'Alicia', disabled: true, displayName: undefined })).toEqual(
      user('u1', 'Alicia', { disabled: true, avatarUrl: 'https://example.test/a.png' }),
    );
    expect(await users.findByUsername('alice')).toBeNull();
    expect((await users.update('u1', { username: 'ALICIA' }))?.username).toBe('ALICIA');
    expect(await conflictMessage(users.update('u1', { username: 'bob' }))).toBe('username taken');
    expect(await users.update('missing', { disabled: true })).toBeNull();
    expect(await users.countByRole()).toEqual({ user: 3, admin: 0 });
  });

  it('lists users by id, paging with `after`', async () => {
    const users = await make();
    for (const id of ['01U3', '01U1', '01U5', '01U2', '01U4']) await users.create(user(id, `name-${id}`, { role: id === '01U2' ? 'admin' : 'user' }));
    expect((await users.list(10)).map((u) => u.id)).toEqual(['01U1', '01U2', '01U3', '01U4', '01U5']);
    expect((await users.list(2)).map((u) => u.id)).toEqual(['01U1', '01U2']);
    expect((await users.list(2, '01U2')).map((u) => u.id)).toEqual(['01U3', '01U4']);
    expect((await users.list(10, '01U4')).map((u) => u.id)).toEqual(['01U5']);
    // `after` need not be a stored id: a deleted user's id still pages on.
    expect((await users.list(10, '01U25')).map((u) => u.id)).toEqual(['01U3', '01U4', '01U5']);
    expect(await users.list(10, '01U5')).toEqual([]);
    expect(await users.list(0)).toEqual([]);
    expect((await users.list(1))[0]).toEqual(user('01U1', 'name-01U1'));
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
    await users.create(user('u3', 'ALICE'));
    expect((await users.findByUsername('alice'))?.id).toBe('u3');
  });
}

function apiKeyContract(make: () => Promise<ApiKeyStore>): void {
  it('finds keys by hash, lists them oldest first, refuses duplicates, touches and deletes', async () => {
    const keys = await make();
    await keys.create(apiKey('k2', 'u1', 200));
    await keys.create(apiKey('k1', 'u1', 100));
    await keys.create(apiKey('k0', 'u1', 200));
    expect(await keys.findByHash('hash-k1')).toEqual(apiKey('k1', 'u1', 100));
    expect(await keys.findByHash('nope')).toBeNull();
    await conflictMessage(keys.create(apiKey('k1', 'u2', 1)));
    await conflictMessage(keys.create({ ...apiKey('k9', 'u1', 1), hash: 'hash-k1' }));
    expect((await keys.listByUser('u1')).map((k) => k.id)).toEqual(['k1', 'k0', 'k2']);
    await keys.touch('k1', 555);
    await keys.touch('gone', 1);
    expect((await keys.findByHash('hash-k1'))?.lastUsedAt).toBe(555);
    expect(await keys.delete('k1')).toBe(true);
    expect(await keys.delete('k1')).toBe(false);
    expect(await keys.findByHash('hash-k1')).toBeNull();
  });

  it("deletes every key of a user and only theirs, returning how many", async () => {
    const keys = await make();
    for (const [id, owner] of [['a1', 'u1'], ['a2', 'u1'], ['a3', 'u1'], ['b1', 'u2']] as const) await keys.create(apiKey(id, owner, 1));
    expect(await keys.deleteByUser('u1')).toBe(3);
    expect(await keys.deleteByUser('u1')).toBe(0);
    expect(await keys.deleteByUser('nobody')).toBe(0);
    expect(await keys.listByUser('u1')).toEqual([]);
    expect(await keys.findByHash('hash-a2')).toBeNull();
    expect((await keys.listByUser('u2')).map((k) => k.id)).toEqual(['b1']);
    // Their hashes are free again.
    await keys.create(apiKey('a1', 'u3', 2));
    expect((await keys.findByHash('hash-a1'))?.userId).toBe('u3');
  });

  it('reports keys in total and keys used at or after `since`', async () => {
    const keys = await make();
    expect(await keys.usage(0)).toEqual({ keys: 0, usedSince: 0 });
    await keys.create(apiKey('never', 'u1', 1));
    await keys.create(apiKey('old', 'u1', 1, 1_000));
    await keys.create(apiKey('edge', 'u2', 1, 5_000));
    await keys.create(apiKey('new', 'u2', 1));
    await keys.touch('new', 9_000);
    expect(await keys.usage(5_000)).toEqual({ keys: 4, usedSince: 2 });
    expect(await keys.usage(5_001)).toEqual({ keys: 4, usedSince: 1 });
    expect(await keys.usage(0)).toEqual({ keys: 4, usedSince: 3 });
    await keys.deleteByUser('u2');
    expect(await keys.usage(0)).toEqual({ keys: 2, usedSince: 1 });
  });
}

describe('UserStore contract: memory', () => userContract(async () => new MemoryUserStore()));
describe.skipIf(!mongoUrl)('UserStore contract: mongo', () => userContract(async () => (await mongo.fresh()).users));
describe('ApiKeyStore contract: memory', () => apiKeyContract(async () => new MemoryApiKeyStore()));
describe.skipIf(!mongoUrl)('ApiKeyStore contract: mongo', () => apiKeyContract(async () => (await mongo.fresh()).apiKeys));
