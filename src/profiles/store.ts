// The shared profile store: what tiers 1 and 2 learned of a platform user (display name, avatar URL), shared
// by every process so one process's lookup serves the others. Entries expire (a TTL per tier); the memory
// driver is bounded (LRU) as well.
import { LRUCache } from 'lru-cache';
import type { SourceKind } from '../vocabulary.js';

/** How a profile was learned: seen in an ingested event, or asked of the platform. */
export type StoredTier = 'live' | 'fetched';

export interface ProfileRecord {
  source: SourceKind;
  /** The platform login (lower-cased Twitch login, TikTok @handle without the @). */
  username: string;
  displayName: string;
  /** An https URL on the platform; null when it has none. */
  avatarUrl: string | null;
  tier: StoredTier;
  /** Epoch ms when it was seen or fetched. */
  fetchedAt: number;
}

export interface ProfileStore {
  get(source: SourceKind, username: string): Promise<ProfileRecord | null>;
  /** Stores `record`, forgotten after `ttlMs`. */
  put(record: ProfileRecord, ttlMs: number): Promise<void>;
}

export class MemoryProfileStore implements ProfileStore {
  private readonly cache: LRUCache<string, ProfileRecord>;

  constructor(max = 100_000) {
    this.cache = new LRUCache({ max, ttl: 1, allowStale: false });
  }

  async get(source: SourceKind, username: string): Promise<ProfileRecord | null> {
    return this.cache.get(`${source}:${username}`) ?? null;
  }

  async put(record: ProfileRecord, ttlMs: number): Promise<void> {
    this.cache.set(`${record.source}:${record.username}`, { ...record }, { ttl: Math.max(1, ttlMs) });
  }
}

/** A record from the wire or a driver, checked: null when it is not one. */
export function parseRecord(raw: unknown): ProfileRecord | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (
    (r.source !== 'twitch' && r.source !== 'tiktok') ||
    typeof r.username !== 'string' ||
    typeof r.displayName !== 'string' ||
    !(r.avatarUrl === null || typeof r.avatarUrl === 'string') ||
    (r.tier !== 'live' && r.tier !== 'fetched') ||
    typeof r.fetchedAt !== 'number'
  )
    return null;
  return {
    source: r.source,
    username: r.username,
    displayName: r.displayName,
    avatarUrl: r.avatarUrl,
    tier: r.tier,
    fetchedAt: r.fetchedAt,
  };
}
