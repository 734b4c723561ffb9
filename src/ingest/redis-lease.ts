// Leases across processes and hosts. Per name: `cp:{lease:<name>}:holder` holds "<token>:<owner>" and
// expires with the lease (SET NX PX: Redis itself ends a dead owner's lease); `cp:{lease:<name>}:fence` is
// the fencing token counter (INCR), never expired, so tokens keep increasing across grants. Renew and
// release are compare-then-act scripts on the exact "<token>:<owner>" value, so only the current holder
// acts. The two keys of a name share its hash tag: on a Redis Cluster the acquire script is single-slot,
// and different leases spread over the masters.
//
// Redis down: calls reject. An owner that cannot renew must assume it lost the lease at `expiresAt`.
// Fencing tokens only keep increasing as long as Redis keeps the counter: a Redis restarted without
// persistence starts them over (enable AOF/RDB where fencing matters).
import { KEY_PREFIX, LuaScript, type RedisClient } from '../redis/connection.js';
import type { Lease, LeaseManager } from './lease.js';

// KEYS[1] lease, KEYS[2] fence counter. ARGV[1] owner, ARGV[2] ttl ms. The token, or nil while held.
const ACQUIRE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], string.format('%d', token) .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`);

// KEYS[1] lease. ARGV[1] "<token>:<owner>", ARGV[2] ttl ms. 1 when renewed.
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`);

// KEYS[1] lease. ARGV[1] "<token>:<owner>". 1 when released.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

// KEYS[1] lease. {value, remaining ms} or nil.
const CURRENT = new LuaScript(`
local value = redis.call('GET', KEYS[1])
if not value then return false end
return { value, redis.call('PTTL', KEYS[1]) }
`);

const holder = (lease: Lease) => `${lease.token}:${lease.owner}`;

export class RedisLeaseManager implements LeaseManager {
  private readonly prefix: string;

  constructor(
    private readonly client: RedisClient,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? KEY_PREFIX;
  }

  private keys(name: string): [string, string] {
    // Both end in a fixed word after the name, so no lease name can make one collide with another's.
    const tag = `{lease:${name}}`;
    return [`${this.prefix}${tag}:holder`, `${this.prefix}${tag}:fence`];
  }

  async acquire(name: string, ownerId: string, ttlMs: number): Promise<Lease | null> {
    // The clock is read before asking, so `expiresAt` is never later than Redis's actual expiry.
    const asked = Date.now();
    const token = await ACQUIRE.run(this.client, this.keys(name), [ownerId, Math.max(1, Math.ceil(ttlMs))]);
    return token === null ? null : { name, owner: ownerId, token: Number(token), expiresAt: asked + ttlMs };
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const asked = Date.now();
    const ok = Number(await RENEW.run(this.client, [this.keys(lease.name)[0]], [holder(lease), Math.max(1, Math.ceil(ttlMs))])) === 1;
    if (ok) lease.expiresAt = asked + ttlMs;
    return ok;
  }

  async release(lease: Lease): Promise<void> {
    await RELEASE.run(this.client, [this.keys(lease.name)[0]], [holder(lease)]);
  }

  async current(name: string): Promise<Lease | null> {
    const row = (await CURRENT.run(this.client, [this.keys(name)[0]], [])) as [string, unknown] | null;
    if (row === null) return null;
    const [value, remainingMs] = row;
    const colon = value.indexOf(':');
    return { name, owner: value.slice(colon + 1), token: Number(value.slice(0, colon)), expiresAt: Date.now() + Number(remainingMs) };
  }
}
