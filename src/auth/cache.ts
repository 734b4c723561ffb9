// Per-process caches in front of shared user and API-key stores (Redis in a cluster): authentication
// reads them on every request, so each process keeps what it read for a few seconds. A change made
// anywhere (an update, a deleted key) is announced to every process, which forgets the entry at once;
// the TTL bounds staleness should an announcement be lost (Redis down).
import { LRUCache } from 'lru-cache';
import type { ApiKeyRecord, ApiKeyStore, Role, UserPatch, UserRecord, UserStore } from './stores.js';

/** How processes tell each other to forget a cached entry. */
export interface Invalidations {
  /** Every process forgets `key`, this one included. */
  publish(key: string): void;
  onInvalidate(handler: (key: string) => void): void;
}

export interface CacheOptions {
  ttlMs: number;
  max: number;
}

export class CachedUserStore implements UserStore {
  private readonly byId: LRUCache<string, UserRecord>;

  constructor(
    private readonly inner: UserStore,
    private readonly invalidations: Invalidations,
    options: CacheOptions,
  ) {
    this.byId = new LRUCache({ max: options.max, ttl: options.ttlMs });
    invalidations.onInvalidate((key) => {
      if (key.startsWith('user:')) this.byId.delete(key.slice(5));
    });
  }

  create(user: UserRecord): Promise<void> {
    return this.inner.create(user);
  }

  async findById(id: string): Promise<UserRecord | null> {
    // Copies out, like every driver: a caller's change must not edit the cache.
    const hit = this.byId.get(id);
    if (hit) return { ...hit };
    const user = await this.inner.findById(id);
    if (user) this.byId.set(id, { ...user });
    return user;
  }

  findByUsername(username: string): Promise<UserRecord | null> {
    return this.inner.findByUsername(username); // login and registration: rare, and must see the truth
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const updated = await this.inner.update(id, patch);
    this.byId.delete(id);
    this.invalidations.publish(`user:${id}`);
    return updated;
  }

  countByRole(): Promise<Record<Role, number>> {
    return this.inner.countByRole();
  }

  list(limit: number, after?: string): Promise<UserRecord[]> {
    return this.inner.list(limit, after);
  }

  async delete(id: string): Promise<boolean> {
    const removed = await this.inner.delete(id);
    this.byId.delete(id);
    this.invalidations.publish(`user:${id}`);
    return removed;
  }
}

/** Last-use times are written at most once a minute per key: a write per request would double Redis's load. */
const TOUCH_EVERY_MS = 60_000;

export class CachedApiKeyStore implements ApiKeyStore {
  private readonly byHash: LRUCache<string, ApiKeyRecord>;
  private readonly touched = new LRUCache<string, number>({ max: 100_000 });

  constructor(
    private readonly inner: ApiKeyStore,
    private readonly invalidations: Invalidations,
    options: CacheOptions,
  ) {
    this.byHash = new LRUCache({ max: options.max, ttl: options.ttlMs });
    invalidations.onInvalidate((key) => {
      if (key.startsWith('apikey:')) this.forget(key.slice(7));
    });
  }

  private forget(id: string): void {
    for (const [hash, rec] of this.byHash.entries()) if (rec.id === id) this.byHash.delete(hash);
  }

  create(rec: ApiKeyRecord): Promise<void> {
    return this.inner.create(rec);
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const hit = this.byHash.get(hash);
    if (hit) return { ...hit };
    const rec = await this.inner.findByHash(hash);
    if (rec) this.byHash.set(hash, { ...rec });
    return rec;
  }

  listByUser(userId: string): Promise<ApiKeyRecord[]> {
    return this.inner.listByUser(userId);
  }

  async delete(id: string): Promise<boolean> {
    const removed = await this.inner.delete(id);
    this.forget(id);
    this.invalidations.publish(`apikey:${id}`);
    return removed;
  }

  async touch(id: string, at: number): Promise<void> {
    const last = this.touched.get(id);
    if (last !== undefined && at - last < TOUCH_EVERY_MS) return;
    this.touched.set(id, at);
    await this.inner.touch(id, at);
  }

  async deleteByUser(userId: string): Promise<number> {
    const keys = await this.inner.listByUser(userId);
    const removed = await this.inner.deleteByUser(userId);
    for (const k of keys) {
      this.forget(k.id);
      this.invalidations.publish(`apikey:${k.id}`);
    }
    return removed;
  }

  usage(since: number): Promise<{ keys: number; usedSince: number }> {
    return this.inner.usage(since);
  }
}
