// Rooms in Redis: each room a JSON string (`cp:room:<id>`), plus a sorted set (`cp:rooms`) of ids scored by
// a creation sequence number (`cp:rooms:seq`), which gives the memory driver's order (insertion order,
// oldest first) without trusting the clocks of many hosts, and cheap "ids after X" pages.
//
// - create is one script: SET NX decides who wins a race for an id, and the index is written with it;
// - update reads, merges in JS, then writes only if the stored JSON is still what it read (a compare-and-set
//   script, retried on contention). No WATCH: the command connection is shared by many concurrent callers,
//   and WATCH/MULTI state belongs to a connection, not to one caller;
// - while Redis is unreachable every call rejects (the gateway answers 5xx).
//
// The scripts read room keys they derive from ids: fine on a single Redis (or Sentinel), not on Redis Cluster.
import type { Redis } from 'ioredis';
import { conflict } from '../errors.js';
import { KEY_PREFIX, keyPart, LuaScript } from '../redis/connection.js';
import type { RoomRecord, RoomStore } from './rooms.js';

// KEYS[1] room, KEYS[2] index, KEYS[3] sequence, KEYS[4] the owner's room ids (or '' for none).
// ARGV[1] json, ARGV[2] id. 1 when created, 0 when taken.
const CREATE = new LuaScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[2])
if KEYS[4] ~= '' then redis.call('SADD', KEYS[4], ARGV[2]) end
return 1
`);

// KEYS[1] index. ARGV[1] after-id ('' for the start), ARGV[2] limit, ARGV[3] room key prefix.
// The JSON of up to `limit` rooms created after `after`; none when `after` is unknown (as the memory driver).
const LIST = new LuaScript(`
local from = '-inf'
if ARGV[1] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not score then return {} end
  from = '(' .. score
end
local ids = redis.call('ZRANGE', KEYS[1], from, '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[2])
local rooms = {}
for i = 1, #ids do rooms[i] = redis.call('GET', ARGV[3] .. ids[i]) end
return rooms
`);

// KEYS[1] room. ARGV[1] the JSON read, ARGV[2] the new JSON. 1 when written, 0 when it changed meanwhile.
const COMPARE_AND_SET = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`);

/** Compare-and-set attempts before giving up: only reached if the same room is updated nonstop. */
const MAX_UPDATE_ATTEMPTS = 20;

export class RedisRoomStore implements RoomStore {
  private readonly roomPrefix: string;
  private readonly indexKey: string;
  private readonly seqKey: string;
  /** Per owner, the set of room ids it created: the per-user quota (rooms are closed, never deleted). */
  private readonly ownerPrefix: string;

  constructor(
    private readonly client: Redis,
    options: { prefix?: string } = {},
  ) {
    const prefix = options.prefix ?? KEY_PREFIX;
    this.roomPrefix = `${prefix}room:`;
    this.indexKey = `${prefix}rooms`;
    this.seqKey = `${prefix}rooms:seq`;
    this.ownerPrefix = `${prefix}rooms:owner:`;
  }

  async create(room: RoomRecord): Promise<void> {
    const ownerKey = room.ownerId === null ? '' : this.ownerPrefix + keyPart(room.ownerId);
    const created = await CREATE.run(
      this.client,
      [this.roomPrefix + room.id, this.indexKey, this.seqKey, ownerKey],
      [JSON.stringify(room), room.id],
    );
    if (Number(created) !== 1) throw conflict(`room "${room.id}" already exists`);
  }

  async get(id: string): Promise<RoomRecord | null> {
    const json = await this.client.get(this.roomPrefix + id);
    return json === null ? null : (JSON.parse(json) as RoomRecord);
  }

  async list(limit: number, after?: string): Promise<RoomRecord[]> {
    if (limit <= 0) return [];
    const rows = (await LIST.run(this.client, [this.indexKey], [after ?? '', limit, this.roomPrefix])) as Array<string | null>;
    // A null would be a room key without its index entry, which no code path writes; skipped to be safe.
    // So is a room that is not JSON (written by hand or damaged): one bad record must not fail every listing.
    return rows.flatMap((json) => {
      if (json === null) return [];
      try {
        const room = JSON.parse(json) as unknown;
        return typeof room === 'object' && room !== null && typeof (room as RoomRecord).id === 'string' ? [room as RoomRecord] : [];
      } catch {
        return [];
      }
    });
  }

  async update(id: string, patch: Partial<Omit<RoomRecord, 'id' | 'createdAt'>>): Promise<RoomRecord | null> {
    const key = this.roomPrefix + id;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const before = await this.client.get(key);
      if (before === null) return null;
      const current = JSON.parse(before) as RoomRecord;
      const next: RoomRecord = { ...current, ...patch, id: current.id, createdAt: current.createdAt };
      const after = JSON.stringify(next);
      if (Number(await COMPARE_AND_SET.run(this.client, [key], [before, after])) === 1) return JSON.parse(after) as RoomRecord;
    }
    throw new Error(`room "${id}" is updated too often to apply this change`);
  }

  async count(): Promise<number> {
    return this.client.zcard(this.indexKey);
  }

  /** Rooms created before the owner sets existed (older versions) are not counted. */
  async countByOwner(ownerId: string): Promise<number> {
    return this.client.scard(this.ownerPrefix + keyPart(ownerId));
  }
}
