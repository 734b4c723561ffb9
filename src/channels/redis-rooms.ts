// Rooms in Redis: each room a JSON string under its channel's hash tag (`cp:{ch:room:<id>}:room`, beside the
// room's presence, likes and bus channel), plus a sorted set (`cp:{rooms}:index`) of ids scored by a creation
// sequence number (`cp:{rooms}:seq`), which gives the memory driver's order (insertion order, oldest first)
// without trusting the clocks of many hosts, and cheap "ids after X" pages; and per owner the set of room ids
// they created (`cp:{u:<owner>}:rooms`, the per-user quota).
//
// On a Redis Cluster those are three slots (the room's, the index's, the owner's), so a create is three
// single-slot steps in an order whose every partial outcome is safe:
//   1. the index claims a place for the id (ZADD only if absent: a second attempt, or a racer, keeps it);
//   2. SET NX of the record decides who wins the id (the loser reports a conflict and leaves the index
//      entry, which is the winner's);
//   3. the winner adds the id to its owner's set.
// A process dying between 1 and 2 leaves an index entry without a record: listings skip it, `count()` counts
// it (the global cap errs on the safe side), and creating that id later fills it in. Dying between 2 and 3
// leaves one room its owner's quota does not count. The index is one slot on purpose (`{rooms}`): the order
// and the global count need the sequence and the set together; it is written on create only and read by
// listings, while the records that chat reads spread over the cluster with their channels.
//
// - update reads, merges in JS, then writes only if the stored JSON is still what it read (a compare-and-set
//   script on the record alone, retried on contention). No WATCH: the command connection is shared by many
//   concurrent callers, and WATCH/MULTI state belongs to a connection, not to one caller;
// - while Redis is unreachable every call rejects (the gateway answers 5xx).
//
// Lifecycle rooms (room-lifecycle.ts): the lifecycle is part of the record, and `transition` is the same
// compare-and-set script on the record, written only when the stored lifecycle's `seq` is the expected one
// (checked on the JSON read; the script makes sure nothing changed since). The sweeper finds due rooms in
// a sorted set of deadlines (`cp:{rooms}:deadlines`, id scored by `endsAt`). It is another slot than the
// record, so it is a hint the record overrules: after every write of a deadline the record is read again
// and the score rewritten until both agree (a racing writer cannot leave a later score than the record's),
// and `due` repairs what it finds stale (an early score: rescored; an ended or missing room: removed).
import { conflict } from '../errors.js';
import { KEY_PREFIX, LuaScript, type RedisClient } from '../redis/connection.js';
import { channelTag, mgetAny, userTag } from '../redis/keys.js';
import { roomChannel } from './names.js';
import { isDue, type RoomRecord, type RoomStore, type RoomTransition } from './rooms.js';

/** A stored room, or null when it is not one (written by hand or damaged). */
function parseRoom(json: string): RoomRecord | null {
  try {
    const room = JSON.parse(json) as unknown;
    return typeof room === 'object' && room !== null && typeof (room as RoomRecord).id === 'string' ? (room as RoomRecord) : null;
  } catch {
    return null;
  }
}

// KEYS[1] index, KEYS[2] sequence. ARGV[1] id. Gives the id the next place unless it has one.
const CLAIM_PLACE = new LuaScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1])
return 1
`);

// KEYS[1] index. ARGV[1] after-id ('' for the start), ARGV[2] limit.
// Up to `limit` ids created after `after`; none when `after` is unknown (as the memory driver).
const LIST = new LuaScript(`
local from = '-inf'
if ARGV[1] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not score then return {} end
  from = '(' .. score
end
return redis.call('ZRANGE', KEYS[1], from, '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[2])
`);

// KEYS[1] room. ARGV[1] the JSON read, ARGV[2] the new JSON. 1 when written, 0 when it changed meanwhile.
const COMPARE_AND_SET = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`);

/** Index writes re-checked against the record before giving up (each retry means a racing transition). */
const MAX_INDEX_ATTEMPTS = 5;

/** Compare-and-set attempts before giving up: only reached if the same room is updated nonstop. */
const MAX_UPDATE_ATTEMPTS = 20;

/** Where a room lives (for tests, operators and tools that plant or repair records). */
export function roomKeys(prefix = KEY_PREFIX) {
  return {
    record: (id: string) => `${prefix}${channelTag(roomChannel(id))}:room`,
    index: `${prefix}{rooms}:index`,
    /** Lifecycle rooms not ended, scored by their deadline (epoch ms): where the sweeper looks. */
    deadlines: `${prefix}{rooms}:deadlines`,
    seq: `${prefix}{rooms}:seq`,
    /** Per owner, the set of room ids it created: the per-user quota (rooms are closed, never deleted). */
    owner: (ownerId: string) => `${prefix}${userTag(ownerId)}:rooms`,
  };
}

export class RedisRoomStore implements RoomStore {
  private readonly keys: ReturnType<typeof roomKeys>;

  constructor(
    private readonly client: RedisClient,
    options: { prefix?: string } = {},
  ) {
    this.keys = roomKeys(options.prefix ?? KEY_PREFIX);
  }

  async create(room: RoomRecord): Promise<void> {
    await CLAIM_PLACE.run(this.client, [this.keys.index, this.keys.seq], [room.id]);
    const created = await this.client.set(this.keys.record(room.id), JSON.stringify(room), 'NX');
    if (created !== 'OK') throw conflict(`room "${room.id}" already exists`);
    if (room.ownerId !== null) await this.client.sadd(this.keys.owner(room.ownerId), room.id);
    if (room.lifecycle) await this.syncDeadline(room.id);
  }

  async get(id: string): Promise<RoomRecord | null> {
    const json = await this.client.get(this.keys.record(id));
    return json === null ? null : (JSON.parse(json) as RoomRecord);
  }

  async list(limit: number, after?: string): Promise<RoomRecord[]> {
    if (limit <= 0) return [];
    const ids = (await LIST.run(this.client, [this.keys.index], [after ?? '', limit])) as string[];
    const rows = await mgetAny(
      this.client,
      ids.map((id) => this.keys.record(id)),
    );
    // A null is an index entry whose record is not written yet (a create in progress, or one that died
    // half-way): skipped.
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
    const key = this.keys.record(id);
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
    return this.client.zcard(this.keys.index);
  }

  async transition(id: string, expectSeq: number, next: RoomTransition): Promise<RoomRecord | null> {
    const key = this.keys.record(id);
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const before = await this.client.get(key);
      if (before === null) return null;
      const current = JSON.parse(before) as RoomRecord;
      if (current.lifecycle?.seq !== expectSeq) return null;
      const updated: RoomRecord = { ...current, lifecycle: next.lifecycle };
      if (next.closedAt !== undefined) updated.closedAt = next.closedAt;
      const after = JSON.stringify(updated);
      // Lost only to a change of another field (a timeout, a moderator): read again.
      if (Number(await COMPARE_AND_SET.run(this.client, [key], [before, after])) !== 1) continue;
      await this.syncDeadline(id);
      return updated;
    }
    throw new Error(`room "${id}" is updated too often to apply this change`);
  }

  async due(now: number, limit: number): Promise<RoomRecord[]> {
    if (limit <= 0) return [];
    const ids = await this.client.zrangebyscore(this.keys.deadlines, '-inf', now, 'LIMIT', 0, limit);
    const rows = await mgetAny(
      this.client,
      ids.map((id) => this.keys.record(id)),
    );
    const out: RoomRecord[] = [];
    const stale: string[] = [];
    rows.forEach((json, i) => {
      const room = json === null ? null : parseRoom(json);
      if (room !== null && isDue(room, now)) out.push(room);
      else stale.push(ids[i] as string);
    });
    for (const id of stale) await this.syncDeadline(id);
    return out;
  }

  /** Makes the deadline index say what the record says, re-reading until no transition slipped in between. */
  private async syncDeadline(id: string): Promise<void> {
    let seen = await this.client.get(this.keys.record(id));
    for (let attempt = 0; attempt < MAX_INDEX_ATTEMPTS; attempt++) {
      const l = seen === null ? undefined : parseRoom(seen)?.lifecycle;
      if (l && l.state !== 'ended' && typeof l.endsAt === 'number') await this.client.zadd(this.keys.deadlines, l.endsAt, id);
      else await this.client.zrem(this.keys.deadlines, id);
      const now = await this.client.get(this.keys.record(id));
      if (now === seen) return;
      seen = now;
    }
  }

  /** Rooms created before the owner sets existed (older versions) are not counted. */
  async countByOwner(ownerId: string): Promise<number> {
    return this.client.scard(this.keys.owner(ownerId));
  }
}
