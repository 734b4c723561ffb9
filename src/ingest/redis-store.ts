// Ingest definitions in Redis, for a cluster without MongoDB: `cp:{ingest}:defs` hash id -> JSON record and
// `cp:{ingest}:keys` hash "<source>:<channel>" -> id (the uniqueness check), written together by one script.
// On a Redis Cluster both share the `{ingest}` slot on purpose: the check and the write must be one step,
// and the definitions are a few hundred small records (INGEST_MAX_STREAMS) written by admins and read on
// each process's scan, so one slot carries them easily. With MONGODB_URL the Mongo driver is used instead
// (mongo-store.ts).
import { conflict } from '../errors.js';
import { KEY_PREFIX, LuaScript, type RedisClient } from '../redis/connection.js';
import { ingestConflict, type IngestRecord, type IngestStore } from './store.js';
import type { SourceKind } from './source.js';

// KEYS[1] defs, KEYS[2] keys. ARGV[1] id, ARGV[2] JSON, ARGV[3] unique key. 'key' when the stream exists,
// 'id' when the id does (checked in that order, as the memory driver does), else 'ok'.
const CREATE = new LuaScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 'key' end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'id' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
return 'ok'
`);

// KEYS[1] defs, KEYS[2] keys. ARGV[1] id. 1 when removed.
const DELETE = new LuaScript(`
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local rec = cjson.decode(json)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], rec.source .. ':' .. rec.channel)
return 1
`);

const keyOf = (source: string, channel: string) => `${source}:${channel}`;

export class RedisIngestStore implements IngestStore {
  private readonly defs: string;
  private readonly keys: string;

  constructor(
    private readonly client: RedisClient,
    options: { prefix?: string } = {},
  ) {
    const prefix = options.prefix ?? KEY_PREFIX;
    this.defs = `${prefix}{ingest}:defs`;
    this.keys = `${prefix}{ingest}:keys`;
  }

  async create(rec: IngestRecord): Promise<void> {
    const created = await CREATE.run(this.client, [this.defs, this.keys], [rec.id, JSON.stringify(rec), keyOf(rec.source, rec.channel)]);
    if (created === 'key') throw ingestConflict(rec.source, rec.channel);
    if (created === 'id') throw conflict(`ingest "${rec.id}" already exists`);
  }

  async get(id: string): Promise<IngestRecord | null> {
    const json = await this.client.hget(this.defs, id);
    return json === null ? null : (JSON.parse(json) as IngestRecord);
  }

  async find(source: SourceKind, channel: string): Promise<IngestRecord | null> {
    const id = await this.client.hget(this.keys, keyOf(source, channel));
    return id === null ? null : this.get(id);
  }

  async list(): Promise<IngestRecord[]> {
    const all = Object.values(await this.client.hgetall(this.defs)).map((j) => JSON.parse(j) as IngestRecord);
    // Oldest first, ties by id: the memory driver's order.
    return all.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async delete(id: string): Promise<boolean> {
    return Number(await DELETE.run(this.client, [this.defs, this.keys], [id])) === 1;
  }
}
