// Whether Redis still holds the state this cluster wrote: the first process to start writes a cluster epoch
// (`cp:cluster:epoch`, SET NX) and every process remembers it. Redis restarted without persistence answers
// again, but empty: every user, API key, revocation and room is gone, and a process that only checked the
// connection would say ready while refusing every pre-outage token. A missing key is that loss.
//
// Policy `hold` (the default): the process reports not-ready, with the reason, until the epoch is back; an
// operator acknowledges the loss by writing a new one (`redis-cli SET cp:cluster:epoch <anything>`), which
// every process adopts. Policy `reseed`: the first process to notice writes a new epoch itself (and the
// composition root re-creates the configured admin account), so the cluster carries on with what was lost.
import type { Redis } from 'ioredis';
import { ulid } from 'ulid';
import { KEY_PREFIX } from './connection.js';

export const EPOCH_KEY = `${KEY_PREFIX}cluster:epoch`;

export type StateLossPolicy = 'hold' | 'reseed';

export class ClusterEpoch {
  #epoch: string;
  #lost = false;

  private constructor(
    private readonly redis: Redis,
    epoch: string,
    private readonly policy: StateLossPolicy,
    private readonly onReseed: (epoch: string) => void,
  ) {
    this.#epoch = epoch;
  }

  /** Writes the epoch if no process has yet, and remembers the one Redis holds. */
  static async establish(
    redis: Redis,
    policy: StateLossPolicy,
    onReseed: (epoch: string) => void = () => undefined,
  ): Promise<ClusterEpoch> {
    await redis.set(EPOCH_KEY, ulid(), 'NX');
    const epoch = await redis.get(EPOCH_KEY);
    if (epoch === null) throw new Error(`${EPOCH_KEY} vanished right after it was written`);
    return new ClusterEpoch(redis, epoch, policy, onReseed);
  }

  get epoch(): string {
    return this.#epoch;
  }

  /** Null while the state is the one this process started with (or one acknowledged since), else why not. */
  problem(): string | null {
    return this.#lost
      ? `shared state lost: Redis answers without ${EPOCH_KEY} (restarted empty?), so every account, key and room it held is gone; ` +
          `acknowledge with \`redis-cli SET ${EPOCH_KEY} <new id>\` (or run with STATE_LOSS_POLICY=reseed)`
      : null;
  }

  /** One look at Redis (the caller schedules it, and skips it while Redis is unreachable). */
  async check(): Promise<void> {
    const current = await this.redis.get(EPOCH_KEY);
    if (current !== null) {
      // Ours, or a new one written by an operator's acknowledgement or another process's reseed: adopted.
      this.#epoch = current;
      this.#lost = false;
      return;
    }
    if (this.policy === 'hold') {
      this.#lost = true;
      return;
    }
    await this.redis.set(EPOCH_KEY, ulid(), 'NX');
    const reseeded = await this.redis.get(EPOCH_KEY);
    if (reseeded === null) return; // gone again: the next check tries again
    this.#epoch = reseeded;
    this.#lost = false;
    this.onReseed(reseeded);
  }
}
