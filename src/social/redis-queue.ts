// The matching queue in Redis, shared by every process: a sorted set of user ids by enqueue time
// (`cp:{match}:queue`), a hash of their tickets as JSON (`cp:{match}:tickets`) and a sorted set of when each
// was last seen connected (`cp:{match}:seen`). All three share the `{match}` hash tag, so every script runs
// on one slot of a Redis Cluster: one hot slot on purpose, since a pair must leave the queue atomically.
// `take` checks both tickets and removes both in one script: two processes ticking at once on the same
// snapshot both try the same pair, and exactly one of them gets it.
import { KEY_PREFIX, LuaScript, type RedisClient } from '../redis/connection.js';
import type { MatchQueue, MatchTicket, QueuedTicket } from './queue.js';

export const MATCH_TAG = '{match}';

// KEYS queue, tickets, seen. ARGV user id, ticket JSON, queued at. Returns the 1-based position.
const ENQUEUE = new LuaScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
`);

// KEYS queue, tickets, seen. ARGV user id. 1 when it was queued.
const LEAVE = new LuaScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
`);

// KEYS queue, tickets. ARGV user id. {rank, json} or nil.
const GET = new LuaScript(`
local json = redis.call('HGET', KEYS[2], ARGV[1])
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if not json or not rank then return false end
return { rank, json }
`);

// KEYS queue, tickets, seen. ARGV user a, ticket a, user b, ticket b. 1 when both were taken.
const TAKE = new LuaScript(`
if ARGV[1] == ARGV[3] then return 0 end
local a = redis.call('HGET', KEYS[2], ARGV[1])
local b = redis.call('HGET', KEYS[2], ARGV[3])
if not a or not b then return 0 end
if cjson.decode(a).ticket ~= ARGV[2] or cjson.decode(b).ticket ~= ARGV[4] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1], ARGV[3])
return 1
`);

// KEYS queue, tickets, seen. ARGV before (exclusive), at most this many. The user ids removed.
const SWEEP = new LuaScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return ids
`);

/** Tickets removed per sweep call (one script must stay short). */
const SWEEP_BATCH = 1000;

function parseTicket(json: string | null | undefined): MatchTicket | null {
  if (typeof json !== 'string') return null;
  try {
    const t = JSON.parse(json) as MatchTicket;
    return typeof t.ticket === 'string' && typeof t.userId === 'string' ? t : null;
  } catch {
    return null; // a damaged entry is skipped, not a failure of every tick
  }
}

export class RedisMatchQueue implements MatchQueue {
  private readonly keys: { queue: string; tickets: string; seen: string };

  constructor(
    private readonly client: RedisClient,
    prefix = KEY_PREFIX,
  ) {
    this.keys = { queue: `${prefix}${MATCH_TAG}:queue`, tickets: `${prefix}${MATCH_TAG}:tickets`, seen: `${prefix}${MATCH_TAG}:seen` };
  }

  private get all(): string[] {
    return [this.keys.queue, this.keys.tickets, this.keys.seen];
  }

  async enqueue(ticket: MatchTicket): Promise<number> {
    return Number(await ENQUEUE.run(this.client, this.all, [ticket.userId, JSON.stringify(ticket), ticket.queuedAt]));
  }

  async leave(userId: string): Promise<boolean> {
    return Number(await LEAVE.run(this.client, this.all, [userId])) === 1;
  }

  async get(userId: string): Promise<QueuedTicket | null> {
    const res = (await GET.run(this.client, [this.keys.queue, this.keys.tickets], [userId])) as [number, string] | null;
    const ticket = res === null ? null : parseTicket(res[1]);
    return res === null || ticket === null ? null : { ticket, position: res[0] + 1 };
  }

  async waiting(limit: number): Promise<MatchTicket[]> {
    if (limit <= 0) return [];
    const ids = await this.client.zrange(this.keys.queue, 0, limit - 1);
    if (ids.length === 0) return [];
    const rows = await this.client.hmget(this.keys.tickets, ...ids);
    return rows.map(parseTicket).filter((t): t is MatchTicket => t !== null);
  }

  async take(a: MatchTicket, b: MatchTicket): Promise<boolean> {
    return Number(await TAKE.run(this.client, this.all, [a.userId, a.ticket, b.userId, b.ticket])) === 1;
  }

  async touch(userIds: readonly string[], now: number): Promise<void> {
    if (userIds.length === 0) return;
    // XX: only users still queued; a touch never brings a ticket back.
    await this.client.zadd(this.keys.seen, 'XX', ...userIds.flatMap((id) => [now, id]));
  }

  async sweep(before: number): Promise<string[]> {
    return (await SWEEP.run(this.client, this.all, [before, SWEEP_BATCH])) as string[];
  }

  async size(): Promise<number> {
    return this.client.zcard(this.keys.queue);
  }
}
