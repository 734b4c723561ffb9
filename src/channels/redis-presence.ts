// Cluster-wide presence that stays right when a process dies.
//
// Layout: per channel a hash `cp:pres:<channel>` with one field per gateway process (field = process id,
// value = how many of that process's sockets watch the channel), and per process a heartbeat key
// `cp:proc:<processId>` that lives `ttlMs` and is renewed every `heartbeatMs`. A count sums only the
// fields whose process still has a heartbeat and deletes the others, so the viewers of a crashed (or
// partitioned) process vanish within `ttlMs` without anyone cleaning up after it.
//
// A process writes its field as an absolute value (HSET of its local count), never an increment:
// only this process writes the field, so a retried or repeated write cannot count a viewer twice, and
// after an outage (or a Redis restart that lost everything) re-registering is just writing the local
// counts again. The local counts (sets of connection ids, as MemoryPresenceStore keeps) are the truth;
// Redis holds the cluster's sum of them.
//
// While Redis is unreachable join/leave/count never fail: they answer this process's local count and
// the channels are re-written once Redis is back (on 'ready', or as soon as a heartbeat or a write finds
// this process's heartbeat key had lapsed).
//
// The scripts read heartbeat keys they are not passed in KEYS: fine on a single Redis (or Sentinel), not
// on Redis Cluster, where presence would need one hash slot (e.g. `cp:{pres}:...`).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isReady, KEY_PREFIX, LuaScript, type RedisLog } from '../redis/connection.js';
import type { PresenceStore } from './presence.js';

// KEYS[1] presence hash. ARGV[1] heartbeat key prefix, ARGV[2] this process id ('' for a read-only
// count), ARGV[3] this process's count, ARGV[4] heartbeat ttl ms. Writing also renews this process's
// heartbeat so its own field is never judged dead (e.g. right after start, or after a Redis restart).
// Returns {cluster count, 0 when the heartbeat had lapsed (our other channels' fields may be gone)}.
const WRITE_AND_SUM = new LuaScript(`
local alive = 1
if ARGV[2] ~= '' then
  if not redis.call('SET', ARGV[1] .. ARGV[2], '1', 'PX', ARGV[4], 'GET') then alive = 0 end
  if tonumber(ARGV[3]) > 0 then
    redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  else
    redis.call('HDEL', KEYS[1], ARGV[2])
  end
end
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[1] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
return { total, alive }
`);

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
  private timer: NodeJS.Timeout | null;
  private closed = false;
  private flushing: Promise<void> | null = null;
  private readonly onReady = () => this.reregister();

  constructor(
    private readonly client: Redis,
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
      const [total] = (await WRITE_AND_SUM.run(this.client, [this.hashKey(channel)], [this.procPrefix(), '', 0, this.ttlMs])) as [
        number,
        number,
      ];
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
    const channels = new Set([...this.local.keys(), ...this.dirty]);
    this.local.clear();
    this.dirty.clear();
    if (!isReady(this.client)) return; // The heartbeat expires on its own and others drop our fields.
    try {
      const tx = this.client.multi();
      for (const channel of channels) tx.hdel(this.hashKey(channel), this.processId);
      tx.del(this.procPrefix() + this.processId);
      await tx.exec();
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'presence close could not withdraw its viewers');
    }
  }

  private localCount(channel: string): number {
    return this.local.get(channel)?.size ?? 0;
  }

  private hashKey(channel: string): string {
    return `${this.prefix}pres:${channel}`;
  }

  private procPrefix(): string {
    return `${this.prefix}proc:`;
  }

  /** Writes this process's count for the channel and returns the cluster count (the local one when Redis is away). */
  private async write(channel: string): Promise<number> {
    if (this.closed || !isReady(this.client)) {
      if (!this.closed) this.dirty.add(channel);
      return this.localCount(channel);
    }
    // The count is read when the command is sent: commands on one connection run in order, so the last
    // write carries the latest count even when joins and leaves overlap.
    const args = [this.procPrefix(), this.processId, this.localCount(channel), this.ttlMs];
    try {
      const [total, alive] = (await WRITE_AND_SUM.run(this.client, [this.hashKey(channel)], args)) as [number, number];
      // The heartbeat had lapsed: this write revived it, so the heartbeat timer would not notice that
      // others may have dropped our fields of other channels meanwhile.
      if (alive === 0) this.reregister();
      return total;
    } catch (err) {
      this.dirty.add(channel);
      this.log?.warn({ err: (err as Error).message, channel }, 'presence write failed; retried on the next heartbeat');
      return this.localCount(channel);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.closed || !isReady(this.client)) return;
    // Nothing of ours in Redis to keep alive (every channel was written down to zero).
    if (this.local.size === 0 && this.dirty.size === 0) return;
    try {
      // 0: the key had expired (this process stalled, or Redis restarted and lost it): others may have
      // deleted our fields, so write them all again.
      const renewed = await this.client.pexpire(this.procPrefix() + this.processId, this.ttlMs);
      if (renewed === 0) this.reregister();
      else if (this.dirty.size > 0) await this.flushDirty();
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'presence heartbeat failed');
    }
  }

  private reregister(): void {
    if (this.closed) return;
    for (const channel of this.local.keys()) this.dirty.add(channel);
    // Not inline in the 'ready' handler: commands the client resends after a reconnect go first, so
    // anything stale they carry is overwritten by these writes rather than the other way round.
    setImmediate(() => void this.flushDirty());
  }

  /** Rewrites every dirty channel (each write also renews the heartbeat). One flush at a time. */
  private flushDirty(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      try {
        while (this.dirty.size > 0 && !this.closed && isReady(this.client)) {
          const channel = this.dirty.values().next().value as string;
          this.dirty.delete(channel);
          await this.write(channel);
          // A failed write re-marked it dirty; stop and let the next heartbeat retry.
          if (this.dirty.has(channel)) break;
        }
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }
}
