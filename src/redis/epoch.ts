// Whether Redis still holds the state this cluster wrote: the first process to start writes a cluster epoch
// (`cp:cluster:epoch`, SET NX) and every process remembers it. Redis restarted without persistence answers
// again, but empty: every user, API key, revocation and room is gone, and a process that only checked the
// connection would say ready while refusing every pre-outage token. A missing key is that loss.
//
// Policy `hold` (the default): the process reports not-ready, with the reason, until the epoch is back; an
// operator acknowledges the loss by writing a new one (`redis-cli SET cp:cluster:epoch <anything>`), which
// every process adopts. Policy `reseed`: the first process to notice writes a new epoch itself (and the
// composition root re-creates the configured admin account), so the cluster carries on with what was lost.
//
// Redis Cluster: the epoch key lives in one slot, on one master, so alone it only tells whether THAT master
// lost its data. A master restarted empty (no persistence, and no replica took over first) loses a third of
// the keyspace on a 3-master cluster: users, keys or rooms in its slots are gone while the others answer. So
// on a cluster there is also one marker per master (`cp:{epoch:<n>}:marker`, with the epoch as its value, `n`
// the first number whose slot that master serves). A process remembers the markers it has seen; a marker it
// has seen that is now missing means its master came back empty: the same loss, the same policy (`hold`
// stays not-ready until an operator writes a new epoch; `reseed` replaces the epoch itself). A marker never
// seen (the first check, or a master added or given new slots since) is just written. Markers follow data
// moves: a failover promotes a replica that holds them, a resharding migrates them with their slots.
// Limits: replication is asynchronous, so a master that dies moments after a marker was (re)written may
// come back without it on its replica (a false alarm, acknowledged like a real one); a process that starts
// after the loss cannot tell it from a fresh cluster (as with a single Redis); and a master unreachable
// right now is not judged (its marker is looked at once it answers).
import type { Cluster } from 'ioredis';
import { ulid } from '../ids.js';
import { isCluster, KEY_PREFIX, LuaScript, type RedisClient } from './connection.js';
import { hashSlot } from './keys.js';

export const EPOCH_KEY = `${KEY_PREFIX}cluster:epoch`;

/** A master's marker (a Redis Cluster only). */
export const epochMarkerKey = (n: number): string => `${KEY_PREFIX}{epoch:${n}}:marker`;

// KEYS[1] the epoch. ARGV[1] the epoch it must still hold, ARGV[2] the new one. 1 when replaced.
const REPLACE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`);

/** Markers looked for up to this number (a cluster of many masters still finds one per master well before). */
const MAX_MARKER = 1_000_000;

/** For each master (by its address), the marker key in a slot it serves, from the client's slot map. */
function markersOf(cluster: Cluster): string[] {
  const owner = (slot: number): string | undefined => cluster.slots[slot]?.[0];
  const wanted = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const master = owner(slot);
    if (master !== undefined) wanted.add(master);
  }
  const out: string[] = [];
  for (let n = 0; n < MAX_MARKER && wanted.size > 0; n++) {
    const key = epochMarkerKey(n);
    const master = owner(hashSlot(key));
    if (master !== undefined && wanted.delete(master)) out.push(key);
  }
  return out;
}

export type StateLossPolicy = 'hold' | 'reseed';

export class ClusterEpoch {
  #epoch: string;
  #lost = false;
  /** A master lost its data (its marker vanished): stays lost until the epoch changes. */
  #lostMaster = false;
  /** Markers seen holding the current epoch (a Redis Cluster only). */
  readonly #seen = new Set<string>();

  private constructor(
    private readonly redis: RedisClient,
    epoch: string,
    private readonly policy: StateLossPolicy,
    private readonly onReseed: (epoch: string) => void,
  ) {
    this.#epoch = epoch;
  }

  /** Writes the epoch if no process has yet, and remembers the one Redis holds. */
  static async establish(
    redis: RedisClient,
    policy: StateLossPolicy,
    onReseed: (epoch: string) => void = () => undefined,
  ): Promise<ClusterEpoch> {
    await redis.set(EPOCH_KEY, ulid(), 'NX');
    const epoch = await redis.get(EPOCH_KEY);
    if (epoch === null) throw new Error(`${EPOCH_KEY} vanished right after it was written`);
    const established = new ClusterEpoch(redis, epoch, policy, onReseed);
    // Nothing seen yet, so this only writes the markers that are missing or stale.
    await established.checkMarkers();
    return established;
  }

  get epoch(): string {
    return this.#epoch;
  }

  /** Null while the state is the one this process started with (or one acknowledged since), else why not. */
  problem(): string | null {
    const ack = `acknowledge with \`redis-cli SET ${EPOCH_KEY} <new id>\` (or run with STATE_LOSS_POLICY=reseed)`;
    if (this.#lost)
      return `shared state lost: Redis answers without ${EPOCH_KEY} (restarted empty?), so every account, key and room it held is gone; ${ack}`;
    if (this.#lostMaster)
      return `shared state lost: a Redis Cluster master answers without its epoch marker (restarted empty?), so the accounts, keys and rooms in its slots are gone; ${ack} (with -c)`;
    return null;
  }

  /** One look at Redis (the caller schedules it, and skips it while Redis is unreachable). */
  async check(): Promise<void> {
    const current = await this.redis.get(EPOCH_KEY);
    if (current !== null) {
      // Ours, or a new one written by an operator's acknowledgement or another process's reseed: adopted.
      this.adopt(current);
      this.#lost = false;
      await this.checkMarkers();
      return;
    }
    if (this.policy === 'hold') {
      this.#lost = true;
      return;
    }
    await this.redis.set(EPOCH_KEY, ulid(), 'NX');
    const reseeded = await this.redis.get(EPOCH_KEY);
    if (reseeded === null) return; // gone again: the next check tries again
    this.adopt(reseeded);
    this.#lost = false;
    this.onReseed(reseeded);
    await this.checkMarkers();
  }

  private adopt(epoch: string): void {
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    // A new epoch acknowledges every loss before it: markers are judged afresh.
    this.#seen.clear();
    this.#lostMaster = false;
  }

  /** A Redis Cluster's per-master markers: written where missing or stale, a vanished one is a lost master. */
  private async checkMarkers(): Promise<void> {
    if (!isCluster(this.redis)) return;
    const epoch = this.#epoch;
    const keys = markersOf(this.redis);
    // One GET per master; a master that does not answer now is left for a later check.
    const values = await Promise.all(
      keys.map((key) =>
        this.redis.get(key).then(
          (v) => ({ key, v }),
          () => null,
        ),
      ),
    );
    let vanished = false;
    for (const row of values) {
      if (row === null) continue;
      if (row.v === epoch) this.#seen.add(row.key);
      else if (row.v === null && this.#seen.has(row.key)) vanished = true;
      else {
        // Never seen (first look, new master or new slots), or one from before an acknowledgement.
        await this.redis.set(row.key, epoch);
        this.#seen.add(row.key);
      }
    }
    if (!vanished || this.#lostMaster) return;
    if (this.policy === 'hold') {
      this.#lostMaster = true;
      return;
    }
    // reseed: replace the epoch (once across processes: only while it still holds the old one).
    const next = ulid();
    const replaced = Number(await REPLACE.run(this.redis, [EPOCH_KEY], [epoch, next])) === 1;
    const now = await this.redis.get(EPOCH_KEY);
    if (now === null) return; // the epoch's own master is gone too: the next check handles it
    this.adopt(now);
    if (replaced) this.onReseed(now);
    await this.checkMarkers();
  }
}
