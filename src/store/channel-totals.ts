// Channel totals as the API serves them: the store computes them from every bucket (with MongoDB a scan
// of the collection), so /channels and the admin overview share a short-lived answer per `limit` instead
// of running that scan on each request. Concurrent requests wait on one computation.
import { LRUCache } from 'lru-cache';
import type { BucketStore, ChannelTotals } from './stores.js';

/** How stale a listing may be: totals move every flush anyway, and live moods come from the hub. */
export const CHANNEL_TOTALS_TTL_MS = 5_000;

export class ChannelTotalsCache {
  private readonly cache: LRUCache<number, ChannelTotals[]>;

  constructor(buckets: BucketStore, ttlMs = CHANNEL_TOTALS_TTL_MS) {
    this.cache = new LRUCache<number, ChannelTotals[]>({
      // A few distinct limits in practice (a page size, the admin overview's).
      max: 16,
      ttl: ttlMs,
      fetchMethod: (limit) => buckets.channels(limit),
    });
  }

  /** A copy: callers may change what they get without changing the next answer. */
  async channels(limit: number): Promise<ChannelTotals[]> {
    const rows = (await this.cache.fetch(limit)) ?? [];
    return rows.map((r) => ({ ...r, counts: { ...r.counts } }));
  }
}

const shared = new WeakMap<BucketStore, ChannelTotalsCache>();

/** The one cache of a bucket store, so every route that lists channels shares it. */
export function channelTotals(buckets: BucketStore): ChannelTotalsCache {
  let cache = shared.get(buckets);
  if (!cache) shared.set(buckets, (cache = new ChannelTotalsCache(buckets)));
  return cache;
}
