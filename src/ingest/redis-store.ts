// Ingest definitions in Redis, for a cluster without MongoDB: `cp:ingest:defs` hash id -> JSON record and
// `cp:ingest:keys` hash "<source>:<channel>" -> id (the uniqueness check), written together by one script.
// With MONGODB_URL the Mongo driver is used instead (mongo-store.ts).
import type { Redis } from 'ioredis';
import { conflict } from '../errors.js';
import { KEY_PREFIX, LuaScript } from '../redis/connection.js';
import type { IngestRecord, IngestStore } from './store.js';
import type { SourceKind } from './source.js';

// KEYS[1] defs, KEYS[2] keys. ARGV[1] id, ARGV[2] JSON, ARGV[3] unique key. 0 when the stream exists.
const CREATE = new LuaScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
return 1
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
    private readonly client: Redis,
    options: { prefix?: string } = {},
  ) {
    const prefix = options.prefix ?? KEY_PREFIX;
    this.defs = `${prefix}ingest:defs`;
    this.keys = `${prefix}ingest:keys`;
  }

  async create(rec: IngestRecord): Promise<void> {
    const created = await CREATE.run(this.client, [this.defs, this.keys], [rec.id, JSON.stringify(rec), keyOf(rec.source, rec.channel)]);
    if (Number(created) !== 1) throw conflict(`${rec.source} channel "${rec.channel}" is ingested already`);
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
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async delete(id: string): Promise<boolean> {
    return Number(await DELETE.run(this.client, [this.defs, this.keys], [id])) === 1;
  }
}
