// How a user shows in chat (display name, avatar), cached per process so that publishing a message does not
// read the user store. An account change anywhere is announced as `user:<id>` (see cache.ts) and forgotten
// here at once; the TTL bounds staleness should an announcement be lost.
import { LRUCache } from 'lru-cache';
import type { UserRecord, UserStore } from './stores.js';

export interface Identity {
  displayName: string | null;
  avatarUrl: string | null;
}

/** Where an uploaded avatar is served: the same for every user, whatever it holds. */
export const avatarPath = (userId: string): string => `/api/v1/users/${encodeURIComponent(userId)}/avatar`;

/** The avatar a user shows: an uploaded one first, else the URL of their profile, else none. */
export function identityOf(user: Pick<UserRecord, 'id' | 'displayName' | 'avatarUrl' | 'avatarFileId'>): Identity {
  return {
    displayName: user.displayName ?? null,
    avatarUrl: user.avatarFileId !== undefined ? avatarPath(user.id) : (user.avatarUrl ?? null),
  };
}

const NONE: Identity = { displayName: null, avatarUrl: null };

export class IdentityCache {
  private readonly byId: LRUCache<string, Identity>;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly users: Pick<UserStore, 'findById'>,
    options: { ttlMs: number; max: number },
  ) {
    this.byId = new LRUCache({ max: options.max, ttl: options.ttlMs });
  }

  async identity(userId: string): Promise<Identity> {
    const hit = this.byId.get(userId);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const user = await this.users.findById(userId);
    const identity = user ? identityOf(user) : NONE;
    this.byId.set(userId, identity);
    return identity;
  }

  /** An invalidation key (`user:<id>`, as the auth caches announce it): that user is read again next time. */
  invalidate(key: string): void {
    if (key.startsWith('user:')) this.byId.delete(key.slice(5));
  }

  forget(userId: string): void {
    this.byId.delete(userId);
  }

  /** Size and hit ratio since start (GET /admin/cache). */
  stats(): { size: number; max: number; hits: number; misses: number; hit_ratio: number } {
    const all = this.hits + this.misses;
    return { size: this.byId.size, max: this.byId.max, hits: this.hits, misses: this.misses, hit_ratio: all === 0 ? 0 : this.hits / all };
  }

  /** Drops expired entries now rather than when next read; returns how many. */
  clearExpired(): number {
    const before = this.byId.size;
    this.byId.purgeStale();
    return before - this.byId.size;
  }
}

/**
 * The user store with this process's own changes forgotten by `identities` at once (without a cluster's
 * invalidation bus, nothing else would tell it).
 */
export function forgettingChanges(users: UserStore, identities: Pick<IdentityCache, 'forget'>): UserStore {
  return {
    create: (user) => users.create(user),
    findById: (id) => users.findById(id),
    findByUsername: (username) => users.findByUsername(username),
    countByRole: () => users.countByRole(),
    list: (limit, after) => users.list(limit, after),
    async update(id, patch) {
      const updated = await users.update(id, patch);
      identities.forget(id);
      return updated;
    },
    async delete(id) {
      const deleted = await users.delete(id);
      identities.forget(id);
      return deleted;
    },
  };
}
