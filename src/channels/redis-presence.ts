// Cluster-wide presence that stays right when a process dies.
//
// Layout: per channel a hash `cp:{ch:<channel>}:pres` with one field per gateway process: field = process
// id, value = `<count>:<expiresAtMs>`, how many of that process's sockets watch the channel and until when
// that claim holds. A process renews its fields every `heartbeatMs` (well under `ttlMs`); a count sums the
// fields not yet expired and deletes the others, so the viewers of a crashed (or partitioned) process
// vanish within `ttlMs` without anyone cleaning up after it. The hash itself expires with its last live
// field. Expiry times are the Redis server's clock (TIME inside the scripts), never a process's: one
// channel's hash lives on one server, so every process's claim on it is judged by the same clock.
//
// Every script touches one key, the channel's hash, so on a Redis Cluster presence is single-slot (the
// channel's tag, shared with its likes and its bus channel) and spreads over the masters with the channels.
// The price, against one heartbeat key per process: a heartbeat renews one field per channel this process
// serves (its local channels, not the cluster's), instead of one key.
//
// A process writes its field as an absolute value (its local count), never an increment: only this process
// writes the field, so a retried or repeated write cannot count a viewer twice, and after an outage (or a
// Redis restart that lost everything) re-registering is just writing the local counts again. The local
// counts (sets of connection ids, as MemoryPresenceStore keeps) are the truth; Redis holds the cluster's
// sum of them.
//
// While Redis is unreachable join/leave/count never fail: they answer this process's local count and the
// channels are written again once Redis is back (on 'ready', on the next heartbeat, or as soon as a write
// finds that this process's field had lapsed, which means its other fields may have lapsed too).
import { randomUUID } from 'node:crypto';
import { isReady, KEY_PREFIX, LuaScript, type RedisClient, type RedisLog } from '../redis/connection.js';
import { channelTag } from '../redis/keys.js';
import type { PresenceStore } from './presence.js';

// Shared by the scripts: the server's time in ms, and whether this process's field (ARGV[1]) was live.
const NOW_AND_MINE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive = 0
if ARGV[1] ~= '' then
  local prev = redis.call('HGET', KEYS[1], ARGV[1])
  local until_ms = prev and tonumber(string.match(prev, ':(%d+)$'))
  if until_ms and until_ms > now then alive = 1 end
  if tonumber(ARGV[2]) > 0 then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%d', now + tonumber(ARGV[3])))
  else
    redis.call('HDEL', KEYS[1], ARGV[1])
  end
end
`;

// KEYS[1] the channel's hash. ARGV[1] this process id ('' for a read-only count), ARGV[2] this process's
// count, ARGV[3] ttl ms. Writes this process's field, sums the live fields, deletes the expired ones and
// lets the hash expire with its last live field. Returns {cluster count, 1 when our field was live before}.
const WRITE_AND_SUM = new LuaScript(`${NOW_AND_MINE}
local fields = redis.call('HGETALL', KEYS[1])
local total, latest = 0, 0
for i = 1, #fields, 2 do
  local count, until_ms = string.match(fields[i + 1], '^(%d+):(%d+)$')
  until_ms = tonumber(until_ms)
  if until_ms and until_ms > now then
    total = total + tonumber(count)
    if until_ms > latest then latest = until_ms end
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if latest > 0 then redis.call('PEXPIREAT', KEYS[1], latest) end
return { total, alive }
`);

// KEYS[1] the channel's hash. ARGV as WRITE_AND_SUM's. The heartbeat: renews this process's field (or
// removes it at 0) without reading the others; the hash lives at least as long as the field.
const RENEW = new LuaScript(`${NOW_AND_MINE}
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return alive
`);

/** Channels renewed at once by one heartbeat (each is one small command; more only queue on the socket). */
const RENEW_BATCH = 256;

export interface RedisPresenceStoreOptions {
  /** Unique per process; a random id by default. */
  processId?: string;
  /** How long a silent process's viewers still count. */
  ttlMs?: number;
  /** How often the heartbeat is renewed; well under `ttlMs` so one late tick does not expire it. */
  heartbeatMs?: number;
  prefix?: string;
  log?: RedisLog;
}

export class RedisPresenceStore implements PresenceStore {
  readonly processId: string;
  private readonly ttlMs: number;
  private readonly prefix: string;
  private readonly log: RedisLog | undefined;
  /** channel -> this process's connections watching it. */
  private readonly local = new Map<string, Set<string>>();
  /** Channels whose field in Redis may not match the local count (a write failed or was skipped). */
  private readonly dirty = new Set<string>();
  /** Channels where this process's last successful write left a field (count > 0). */
  private readonly registered = new Set<string>();
  private timer: NodeJS.Timeout | null;
  private closed = false;
  private renewing: Promise<void> | null = null;
  private readonly onReady = () => this.reregister();

  constructor(
    private readonly client: RedisClient,
    options: RedisPresenceStoreOptions = {},
  ) {
    this.processId = options.processId ?? randomUUID();
    this.ttlMs = options.ttlMs ?? 6_000;
    this.prefix = options.prefix ?? KEY_PREFIX;
    this.log = options.log;
    client.on('ready', this.onReady);
    this.timer = setInterval(() => void this.heartbeat(), options.heartbeatMs ?? 2_000);
    // Housekeeping must never be what keeps the process (or a test run) alive.
    this.timer.unref();
  }

  /** The channel's hash (for tests and operators). */
  keyOf(channel: string): string {
    return `${this.prefix}${channelTag(channel)}:pres`;
  }

  async join(channel: string, connectionId: string): Promise<number> {
    let set = this.local.get(channel);
    if (!set) this.local.set(channel, (set = new Set()));
    set.add(connectionId);
    return this.write(channel);
  }

  async leave(channel: string, connectionId: string): Promise<number> {
    const set = this.local.get(channel);
    if (set) {
      set.delete(connectionId);
      if (set.size === 0) this.local.delete(channel);
    }
    return this.write(channel);
  }

  async count(channel: string): Promise<number> {
    if (!isReady(this.client)) return this.localCount(channel);
    try {
      const [total] = (await WRITE_AND_SUM.run(this.client, [this.keyOf(channel)], ['', 0, this.ttlMs])) as [number, number];
      return total;
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, channel }, 'presence count failed; answering the local count');
      return this.localCount(channel);
    }
  }

  /** Stops the heartbeat and withdraws this process's viewers from the cluster counts. The client stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.client.off('ready', this.onReady);
    const channels = new Set([...this.local.keys(), ...this.dirty, ...this.registered]);
    this.local.clear();
    this.dirty.clear();
    this.registered.clear();
    if (!isReady(this.client)) return; // Our fields expire on their own and counts drop them.
    // One command per channel (each its own slot on a cluster), not a transaction across them.
    const results = await Promise.allSettled([...channels].map((channel) => this.client.hdel(this.keyOf(channel), this.processId)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) this.log?.warn({ err: (failed.reason as Error).message }, 'presence close could not withdraw all its viewers');
  }

  private localCount(channel: string): number {
    return this.local.get(channel)?.size ?? 0;
  }

  /** Writes this process's count for the channel and returns the cluster count (the local one when Redis is away). */
  private async write(channel: string): Promise<number> {
    if (this.closed || !isReady(this.client)) {
      if (!this.closed) this.dirty.add(channel);
      return this.localCount(channel);
    }
    // The count is read when the command is sent: commands on one connection run in order (on a cluster,
    // one channel's commands all go to one master's connection), so the last write carries the latest
    // count even when joins and leaves overlap.
    const count = this.localCount(channel);
    try {
      const [total, alive] = (await WRITE_AND_SUM.run(this.client, [this.keyOf(channel)], [this.processId, count, this.ttlMs])) as [
        number,
        number,
      ];
      // Our field had lapsed (this process stalled past the TTL, or Redis lost it) and others may have
      // dropped our fields of other channels too: write them all now rather than at the next heartbeat.
      const lapsed = alive === 0 && this.registered.has(channel);
      this.track(channel, count);
      if (lapsed) this.reregister();
      return total;
    } catch (err) {
      this.dirty.add(channel);
      this.log?.warn({ err: (err as Error).message, channel }, 'presence write failed; retried on the next heartbeat');
      return this.localCount(channel);
    }
  }

  private track(channel: string, count: number): void {
    if (count > 0) this.registered.add(channel);
    else this.registered.delete(channel);
  }

  private async heartbeat(): Promise<void> {
    if (this.closed || !isReady(this.client)) return;
    // Nothing of ours in Redis to keep alive (every channel was written down to zero).
    if (this.local.size === 0 && this.dirty.size === 0) return;
    await this.renewAll();
  }

  private reregister(): void {
    if (this.closed) return;
    // Not inline in the 'ready' handler: commands the client resends after a reconnect go first, so
    // anything stale they carry is overwritten by these writes rather than the other way round.
    setImmediate(() => void this.renewAll());
  }

  /** Renews this process's field of every channel it serves, and settles every dirty one. One pass at a time. */
  private renewAll(): Promise<void> {
    if (this.renewing) return this.renewing;
    this.renewing = (async () => {
      try {
        const channels = [...new Set([...this.local.keys(), ...this.dirty])];
        let failed: unknown = null;
        for (let i = 0; i < channels.length && !this.closed && isReady(this.client); i += RENEW_BATCH) {
          const errors = await Promise.all(channels.slice(i, i + RENEW_BATCH).map((channel) => this.renew(channel)));
          failed ??= errors.find((e) => e !== null) ?? null;
        }
        // Once per pass, not once per channel.
        if (failed !== null) this.log?.warn({ err: (failed as Error).message }, 'presence heartbeat failed; retried on the next one');
      } finally {
        this.renewing = null;
      }
    })();
    return this.renewing;
  }

  /** Null when renewed, else the error (the channel stays dirty). */
  private async renew(channel: string): Promise<unknown> {
    this.dirty.delete(channel);
    const count = this.localCount(channel);
    try {
      await RENEW.run(this.client, [this.keyOf(channel)], [this.processId, count, this.ttlMs]);
      this.track(channel, count);
      return null;
    } catch (err) {
      this.dirty.add(channel);
      return err;
    }
  }
}
