// Moments (hype and tilt bursts, src/channels/moments.ts) kept with the timeline: the `MomentStore` port and
// its memory driver; MongoDB: mongo-moments.ts. Every process that watches a channel detects the same moments
// from the same stream and records them, so a moment's id is deterministic and inserting one twice keeps one.
import type { MomentKind } from '../contract/index.js';

export interface StoredMoment {
  /** Deterministic: `<kind>:<id of the message that set it off>`, the same on every process. */
  id: string;
  channel: string;
  kind: MomentKind;
  score: number;
  /** Epoch ms: the time of the message that set it off. */
  ts: number;
  sample: string[];
}

export interface MomentQuery {
  /** Epoch ms, inclusive lower / exclusive upper bound on ts. */
  from: number;
  to: number;
  /** 1..500 */
  limit: number;
}

export interface MomentStore {
  /** Inserts; a moment whose (channel, id) is stored already is skipped. */
  insert(moment: StoredMoment): Promise<void>;
  /** The newest `limit` moments of the channel in [from, to), newest first (ties by id, descending). */
  list(channel: string, query: MomentQuery): Promise<StoredMoment[]>;
}

export interface MemoryMomentStoreOptions {
  /** Moments kept per channel; the oldest go first. Default 1000. */
  maxPerChannel?: number;
  /**
   * How far behind the channel's newest moment one is kept (default 48 hours, as the memory timeline's
   * buckets): measured from the data, so a quiet store keeps its last window.
   */
  retentionMs?: number;
}

const newestFirst = (a: StoredMoment, b: StoredMoment) => b.ts - a.ts || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class MemoryMomentStore implements MomentStore {
  readonly #max: number;
  readonly #retentionMs: number;
  /** Per channel, oldest first (moments arrive in time order; a late one is placed). */
  readonly #byChannel = new Map<string, StoredMoment[]>();

  constructor(options: MemoryMomentStoreOptions = {}) {
    this.#max = Math.max(1, options.maxPerChannel ?? 1000);
    this.#retentionMs = Math.max(1, options.retentionMs ?? 48 * 3_600_000);
  }

  async insert(moment: StoredMoment): Promise<void> {
    let list = this.#byChannel.get(moment.channel);
    if (!list) this.#byChannel.set(moment.channel, (list = []));
    if (list.some((m) => m.id === moment.id)) return;
    list.push(structuredClone(moment));
    list.sort((a, b) => -newestFirst(a, b));
    const newest = (list[list.length - 1] as StoredMoment).ts;
    let drop = Math.max(0, list.length - this.#max);
    while (drop < list.length && (list[drop] as StoredMoment).ts < newest - this.#retentionMs) drop++;
    if (drop > 0) list.splice(0, drop);
  }

  async list(channel: string, query: MomentQuery): Promise<StoredMoment[]> {
    const out: StoredMoment[] = [];
    const list = this.#byChannel.get(channel) ?? [];
    for (let i = list.length - 1; i >= 0 && out.length < query.limit; i--) {
      const m = list[i] as StoredMoment;
      if (m.ts >= query.from && m.ts < query.to) out.push(structuredClone(m));
    }
    return out;
  }
}
