// The profile store in Redis: one JSON string per profile, `cp:{pf:<source>:<username>}:profile`, set with
// its TTL (single-key ops; the hash tag keeps each profile's keys in one slot on a Redis Cluster).
import { KEY_PREFIX, keyPart, type RedisClient } from '../redis/connection.js';
import type { SourceKind } from '../vocabulary.js';
import { parseRecord, type ProfileRecord, type ProfileStore } from './store.js';

export const profileKey = (source: SourceKind, username: string, prefix = KEY_PREFIX): string =>
  `${prefix}{pf:${source}:${keyPart(username)}}:profile`;

export class RedisProfileStore implements ProfileStore {
  constructor(
    private readonly client: RedisClient,
    private readonly prefix = KEY_PREFIX,
  ) {}

  async get(source: SourceKind, username: string): Promise<ProfileRecord | null> {
    const raw = await this.client.get(profileKey(source, username, this.prefix));
    if (raw === null) return null;
    try {
      return parseRecord(JSON.parse(raw));
    } catch {
      return null; // not ours: treated as absent, overwritten by the next put
    }
  }

  async put(record: ProfileRecord, ttlMs: number): Promise<void> {
    await this.client.set(
      profileKey(record.source, record.username, this.prefix),
      JSON.stringify(record),
      'PX',
      Math.max(1, Math.round(ttlMs)),
    );
  }
}
