// Redis drivers for the auth stores, with the memory drivers' semantics (see stores.ts):
//
// users     `cp:{users}:id:<id>` JSON record; `cp:{users}:name:<lowercased username>` -> id (usernames are
//           unique case-insensitively); `cp:{users}:roles` hash role -> count, kept by the same scripts that
//           write users, so countByRole is one read however many users there are; `cp:{users}:all` sorted set
//           of ids (all scores 0: lexicographic, which is creation order for ULIDs) for paged listing.
// api keys  `cp:{keys}:id:<id>` hash { rec: JSON record, used: lastUsedAt or '' } (touch rewrites one field,
//           not the record); `cp:{keys}:hash:<sha256>` -> id; `cp:{keys}:user:<userId>` sorted set of ids by
//           createdAt, ties by id, which is the memory driver's listing order; `cp:{keys}:all` sorted set of
//           ids by lastUsedAt (0 until first use) for the admin usage figures.
// revoked   `cp:revoked:<jti>` with an absolute expiry (SET NX PXAT): the first revoke wins, and Redis forgets
//           the entry when the token would have expired anyway. One key per call: on a Redis Cluster the
//           revocations spread over every master.
//
// Every check-then-write is one Lua script, so two processes cannot both create "Alice" and "alice".
// Updates read, merge in JS and write back with a compare-and-set script (retried on contention) rather
// than WATCH, whose state belongs to the shared connection, not to one caller. While Redis is unreachable
// every call rejects: authentication state has no safe local stand-in.
//
// Redis Cluster: the scripts touch keys derived from stored values (a user's name key from its record, a
// key's hash and owner from its record), so each store keeps all its keys in one hash slot on purpose:
// `{users}` and `{keys}` (two slots, so the two stores may sit on two masters). That is what keeps a
// username unique and the role counts exact in one atomic step. The trade-off is a hot slot per store: one
// master holds every account (or key) and serves every account write and every cache miss. Authentication
// reads go through the per-process caches (auth/cache.ts: 5 s, invalidated over the bus), so that load is
// the writes and about one read per user per process every few seconds; and a million accounts are a few
// hundred MB on that master. Revocations, the per-request lookups, are not in the hot slot.
import { conflict } from '../errors.js';
import { KEY_PREFIX, LuaScript, type RedisClient } from '../redis/connection.js';
import { mgetAny } from '../redis/keys.js';
import type { ApiKeyRecord, ApiKeyStore, RevocationStore, Role, UserPatch, UserRecord, UserStore } from './stores.js';

const usernameKey = (name: string) => name.toLowerCase();

/** The user store's keys, all in the `{users}` slot (see above). */
export function userKeys(prefix = KEY_PREFIX) {
  return {
    idPrefix: `${prefix}{users}:id:`,
    namePrefix: `${prefix}{users}:name:`,
    roles: `${prefix}{users}:roles`,
    all: `${prefix}{users}:all`,
  };
}

/** The API key store's keys, all in the `{keys}` slot (see above). */
export function apiKeyKeys(prefix = KEY_PREFIX) {
  return {
    idPrefix: `${prefix}{keys}:id:`,
    hashPrefix: `${prefix}{keys}:hash:`,
    userPrefix: `${prefix}{keys}:user:`,
    all: `${prefix}{keys}:all`,
  };
}

/** Gives up a compare-and-set update after this many lost races (only under a storm of writes to one record). */
const MAX_UPDATE_ATTEMPTS = 20;

// KEYS[1] id key, KEYS[2] name key, KEYS[3] role counts, KEYS[4] all ids. ARGV[1] JSON, ARGV[2] id, ARGV[3] role.
// Checks the name before the id, as the memory driver does, so the same error wins.
const CREATE_USER = new LuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 'name' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'id' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('ZADD', KEYS[4], 0, ARGV[2])
return 'ok'
`);

// KEYS[1] id key, KEYS[2] role counts, KEYS[3] all ids. ARGV[1] name key prefix, ARGV[2] id. 1 when removed.
const DELETE_USER = new LuaScript(`
local json = redis.call('GET', KEYS[1])
if not json then return 0 end
local user = cjson.decode(json)
redis.call('DEL', KEYS[1], ARGV[1] .. string.lower(user.username))
redis.call('HINCRBY', KEYS[2], user.role, -1)
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
`);

// KEYS[1] id key, KEYS[2] old name key, KEYS[3] new name key, KEYS[4] role counts.
// ARGV[1] JSON read, ARGV[2] new JSON, ARGV[3] id, ARGV[4] old role, ARGV[5] new role.
const UPDATE_USER = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if not current then return 'gone' end
if current ~= ARGV[1] then return 'retry' end
if KEYS[2] ~= KEYS[3] then
  if redis.call('EXISTS', KEYS[3]) == 1 then return 'name' end
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], ARGV[3])
end
if ARGV[4] ~= ARGV[5] then
  redis.call('HINCRBY', KEYS[4], ARGV[4], -1)
  redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
end
redis.call('SET', KEYS[1], ARGV[2])
return 'ok'
`);

// KEYS[1] name key. ARGV[1] id key prefix. The user's JSON, or nil.
const USER_BY_NAME = new LuaScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
`);

export class RedisUserStore implements UserStore {
  private readonly idPrefix: string;
  private readonly namePrefix: string;
  private readonly rolesKey: string;
  private readonly allKey: string;

  constructor(
    private readonly client: RedisClient,
    options: { prefix?: string } = {},
  ) {
    const keys = userKeys(options.prefix ?? KEY_PREFIX);
    this.idPrefix = keys.idPrefix;
    this.namePrefix = keys.namePrefix;
    this.rolesKey = keys.roles;
    this.allKey = keys.all;
  }

  async create(user: UserRecord): Promise<void> {
    const keys = [this.idPrefix + user.id, this.namePrefix + usernameKey(user.username), this.rolesKey, this.allKey];
    const res = await CREATE_USER.run(this.client, keys, [JSON.stringify(user), user.id, user.role]);
    if (res === 'name') throw conflict('username taken');
    if (res === 'id') throw conflict('user id taken');
  }

  async findById(id: string): Promise<UserRecord | null> {
    const json = await this.client.get(this.idPrefix + id);
    return json === null ? null : (JSON.parse(json) as UserRecord);
  }

  async findByUsername(username: string): Promise<UserRecord | null> {
    const json = (await USER_BY_NAME.run(this.client, [this.namePrefix + usernameKey(username)], [this.idPrefix])) as string | null;
    return json === null ? null : (JSON.parse(json) as UserRecord);
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | null> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const before = await this.client.get(this.idPrefix + id);
      if (before === null) return null;
      const current = JSON.parse(before) as UserRecord;
      const next: UserRecord = { ...current, ...patch, id: current.id, createdAt: current.createdAt };
      const after = JSON.stringify(next);
      const keys = [
        this.idPrefix + id,
        this.namePrefix + usernameKey(current.username),
        this.namePrefix + usernameKey(next.username),
        this.rolesKey,
      ];
      const res = await UPDATE_USER.run(this.client, keys, [before, after, id, current.role, next.role]);
      if (res === 'ok') return JSON.parse(after) as UserRecord;
      if (res === 'gone') return null;
      if (res === 'name') throw conflict('username taken');
    }
    throw new Error(`user "${id}" is updated too often to apply this change`);
  }

  async countByRole(): Promise<Record<Role, number>> {
    const counts = await this.client.hgetall(this.rolesKey);
    return { user: Number(counts.user ?? 0), admin: Number(counts.admin ?? 0) };
  }

  async list(limit: number, after?: string): Promise<UserRecord[]> {
    const ids = await this.client.zrangebylex(this.allKey, after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, limit);
    if (ids.length === 0) return [];
    const rows = await mgetAny(
      this.client,
      ids.map((id) => this.idPrefix + id),
    );
    return rows.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as UserRecord);
  }

  async delete(id: string): Promise<boolean> {
    // usernameKey() lower-cases like Lua's string.lower for the ASCII usernames registration allows.
    return Number(await DELETE_USER.run(this.client, [this.idPrefix + id, this.rolesKey, this.allKey], [this.namePrefix, id])) === 1;
  }
}

// KEYS[1] id key, KEYS[2] hash key, KEYS[3] the user's key set, KEYS[4] all keys by last use. ARGV[1] JSON,
// ARGV[2] lastUsedAt or '', ARGV[3] id, ARGV[4] createdAt. 0 when the id or hash exists.
const CREATE_KEY = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'used', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[4], tonumber(ARGV[2]) or 0, ARGV[3])
return 1
`);

// KEYS[1] hash key. ARGV[1] id key prefix. {rec, used} or nil.
const KEY_BY_HASH = new LuaScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local row = redis.call('HMGET', ARGV[1] .. id, 'rec', 'used')
if not row[1] then return false end
return row
`);

// KEYS[1] the user's key set. ARGV[1] id key prefix. {rec, used, rec, used, ...} oldest first.
const KEYS_OF_USER = new LuaScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i = 1, #ids do
  local row = redis.call('HMGET', ARGV[1] .. ids[i], 'rec', 'used')
  if row[1] then
    out[#out + 1] = row[1]
    out[#out + 1] = row[2]
  end
end
return out
`);

// KEYS[1] id key, KEYS[2] all keys. ARGV[1] hash key prefix, ARGV[2] user set prefix, ARGV[3] id. 1 when removed.
const DELETE_KEY = new LuaScript(`
local rec = redis.call('HGET', KEYS[1], 'rec')
if not rec then return 0 end
local parsed = cjson.decode(rec)
redis.call('DEL', KEYS[1], ARGV[1] .. parsed.hash)
redis.call('ZREM', ARGV[2] .. parsed.userId, ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
`);

// KEYS[1] id key, KEYS[2] all keys. ARGV[1] lastUsedAt, ARGV[2] id. Only an existing key is touched (never
// recreated half-empty).
const TOUCH_KEY = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'used', ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
end
return 0
`);

function apiKeyOf(rec: string, used: string | null): ApiKeyRecord {
  const parsed = JSON.parse(rec) as ApiKeyRecord;
  parsed.lastUsedAt = used === null || used === '' ? null : Number(used);
  return parsed;
}

export class RedisApiKeyStore implements ApiKeyStore {
  private readonly idPrefix: string;
  private readonly hashPrefix: string;
  private readonly userPrefix: string;
  private readonly allKey: string;

  constructor(
    private readonly client: RedisClient,
    options: { prefix?: string } = {},
  ) {
    const keys = apiKeyKeys(options.prefix ?? KEY_PREFIX);
    this.idPrefix = keys.idPrefix;
    this.hashPrefix = keys.hashPrefix;
    this.userPrefix = keys.userPrefix;
    this.allKey = keys.all;
  }

  async create(rec: ApiKeyRecord): Promise<void> {
    const keys = [this.idPrefix + rec.id, this.hashPrefix + rec.hash, this.userPrefix + rec.userId, this.allKey];
    const args = [JSON.stringify(rec), rec.lastUsedAt === null ? '' : rec.lastUsedAt, rec.id, rec.createdAt];
    if (Number(await CREATE_KEY.run(this.client, keys, args)) !== 1) throw conflict('api key already exists');
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = (await KEY_BY_HASH.run(this.client, [this.hashPrefix + hash], [this.idPrefix])) as [string, string | null] | null;
    return row === null ? null : apiKeyOf(row[0], row[1]);
  }

  async listByUser(userId: string): Promise<ApiKeyRecord[]> {
    const flat = (await KEYS_OF_USER.run(this.client, [this.userPrefix + userId], [this.idPrefix])) as Array<string | null>;
    const out: ApiKeyRecord[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push(apiKeyOf(flat[i] as string, flat[i + 1] ?? null));
    return out;
  }

  async delete(id: string): Promise<boolean> {
    return Number(await DELETE_KEY.run(this.client, [this.idPrefix + id, this.allKey], [this.hashPrefix, this.userPrefix, id])) === 1;
  }

  async touch(id: string, at: number): Promise<void> {
    await TOUCH_KEY.run(this.client, [this.idPrefix + id, this.allKey], [at, id]);
  }

  async deleteByUser(userId: string): Promise<number> {
    let removed = 0;
    for (const id of await this.client.zrange(this.userPrefix + userId, 0, -1)) if (await this.delete(id)) removed++;
    return removed;
  }

  async usage(since: number): Promise<{ keys: number; usedSince: number }> {
    // Never-used keys score 0, so the lower bound is at least 1.
    const [keys, usedSince] = await Promise.all([
      this.client.zcard(this.allKey),
      this.client.zcount(this.allKey, Math.max(1, since), '+inf'),
    ]);
    return { keys, usedSince };
  }
}

export class RedisRevocationStore implements RevocationStore {
  private readonly prefix: string;

  constructor(
    private readonly client: RedisClient,
    options: { prefix?: string } = {},
  ) {
    this.prefix = `${options.prefix ?? KEY_PREFIX}revoked:`;
  }

  async revoke(jti: string, expiresAtMs: number): Promise<boolean> {
    // NX: only the first revoke of a live entry wins (refresh rotation relies on it). PXAT is absolute, so
    // an entry for an already expired token is set and dropped at once: true, nothing kept, as in memory.
    // Redis refuses PXAT values below 1.
    const res = await this.client.set(this.prefix + jti, '1', 'PXAT', Math.max(1, Math.floor(expiresAtMs)), 'NX');
    return res === 'OK';
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.client.exists(this.prefix + jti)) === 1;
  }
}
