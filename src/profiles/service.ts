// Profiles of platform users in four tiers, best first:
//   live       what an ingested event carried (display name, avatar): recorded as events pass
//   fetched    asked of the platform (Helix, TikTok's web API), when configured and its breaker is closed
//   generated  an identicon of source and username, served by ChatPulse (nothing known of the user)
//   initials   an SVG of the display name's initials, served by ChatPulse (known, but without an avatar)
// Lookups go through a per-process LRU, then the shared store; a stale entry is served at once and refreshed
// in the background (stale-while-revalidate). Every lookup counts a hit or miss per tier.
import { LRUCache } from 'lru-cache';
import type { SourceKind } from '../vocabulary.js';
import { BreakerOpenError, CircuitBreaker, type ProfileFetcher } from './platforms.js';
import type { ProfileRecord, ProfileStore } from './store.js';

export type ProfileTier = 'live' | 'fetched' | 'generated' | 'initials';
export const PROFILE_TIERS: readonly ProfileTier[] = ['live', 'fetched', 'generated', 'initials'];

export interface Profile {
  source: SourceKind;
  username: string;
  displayName: string;
  /** The platform's URL for live/fetched with an avatar; else ChatPulse's own avatar route. */
  avatarUrl: string;
  tier: ProfileTier;
  fetchedAt: number;
}

export interface ProfileOptions {
  /** How long each tier's entry is fresh (ms); a stale one is served while it is refreshed. */
  ttlMs: Record<ProfileTier, number>;
  /** Entries held per process. */
  max: number;
  breakerFailures: number;
  breakerOpenMs: number;
}

export const DEFAULT_PROFILE_OPTIONS: ProfileOptions = {
  ttlMs: { live: 3_600_000, fetched: 6 * 3_600_000, generated: 600_000, initials: 600_000 },
  max: 50_000,
  breakerFailures: 5,
  breakerOpenMs: 30_000,
};

interface Entry {
  profile: Profile;
  staleAt: number;
}

export interface CacheStats {
  size: number;
  max: number;
  hits: number;
  misses: number;
  hit_ratio: number;
}

export interface ProfileStats {
  size: number;
  max: number;
  hits: number;
  misses: number;
  hit_ratio: number;
  by_tier: Record<ProfileTier, { size: number; hits: number; misses: number; hit_ratio: number }>;
  breakers: Partial<Record<SourceKind, { state: 'closed' | 'open' | 'half-open'; opened: number }>>;
  revalidations: number;
}

export interface ProfileDeps {
  store: ProfileStore;
  fetchers: Partial<Record<SourceKind, ProfileFetcher>>;
  /** Logs a failed background refresh or store write. */
  onError?: (err: unknown, what: string) => void;
  now?: () => number;
}

const ratio = (hits: number, misses: number): number => (hits + misses === 0 ? 0 : hits / (hits + misses));

/** The avatar route for tiers 3 and 4. */
export const avatarPath = (source: SourceKind, username: string): string =>
  `/api/v1/profiles/${source}/${encodeURIComponent(username)}/avatar`;

export class ProfileService {
  private readonly local: LRUCache<string, Entry>;
  private readonly breakers = new Map<SourceKind, CircuitBreaker>();
  private readonly inflight = new Map<string, Promise<Profile>>();
  private readonly hits: Record<ProfileTier, number> = { live: 0, fetched: 0, generated: 0, initials: 0 };
  private readonly misses: Record<ProfileTier, number> = { live: 0, fetched: 0, generated: 0, initials: 0 };
  private readonly now: () => number;
  revalidations = 0;

  constructor(
    private readonly d: ProfileDeps,
    private readonly o: ProfileOptions = DEFAULT_PROFILE_OPTIONS,
  ) {
    this.now = d.now ?? Date.now;
    this.local = new LRUCache({ max: o.max });
    for (const source of Object.keys(d.fetchers) as SourceKind[])
      this.breakers.set(source, new CircuitBreaker(o.breakerFailures, o.breakerOpenMs, this.now));
  }

  /** The canonical form of a username (both platforms compare logins case-insensitively). */
  static normalize(username: string): string {
    return username.trim().replace(/^@/, '').toLowerCase();
  }

  /** Tier 1: a user seen in an ingested event. Cheap: one local write, a store write in the background. */
  record(source: SourceKind, username: string, displayName: string, avatarUrl: string | undefined): void {
    const name = ProfileService.normalize(username);
    if (name === '' || name.length > 64) return;
    const at = this.now();
    const prev = this.local.get(`${source}:${name}`);
    // The same name and avatar seen again within a minute: nothing to write.
    if (
      prev?.profile.tier === 'live' &&
      prev.profile.displayName === displayName &&
      prev.profile.avatarUrl === (avatarUrl ?? avatarPath(source, name)) &&
      at - prev.profile.fetchedAt < 60_000
    )
      return;
    const rec: ProfileRecord = {
      source,
      username: name,
      displayName: displayName || name,
      avatarUrl: avatarUrl ?? null,
      tier: 'live',
      fetchedAt: at,
    };
    this.remember(this.view(rec));
    this.d.store.put(rec, this.o.ttlMs.live).catch((err: unknown) => this.d.onError?.(err, 'profile store write'));
  }

  /** The best profile known; a stale one is served and refreshed in the background. */
  async get(source: SourceKind, username: string): Promise<Profile> {
    const name = ProfileService.normalize(username);
    const key = `${source}:${name}`;
    const entry = this.local.get(key);
    if (entry) {
      this.hits[entry.profile.tier]++;
      if (entry.staleAt <= this.now()) void this.refresh(source, name).catch(() => undefined);
      return entry.profile;
    }
    const profile = await this.refresh(source, name);
    this.misses[profile.tier]++;
    return profile;
  }

  /** Refreshes these profiles in the background (POST /profiles/revalidate). */
  revalidate(source: SourceKind, usernames: readonly string[]): void {
    for (const u of usernames) {
      this.revalidations++;
      void this.refresh(source, ProfileService.normalize(u), true).catch((err: unknown) => this.d.onError?.(err, 'profile revalidation'));
    }
  }

  /** Drops this process's expired entries; returns how many. */
  clearExpired(): number {
    const now = this.now();
    let n = 0;
    for (const [key, entry] of this.local.entries())
      if (entry.staleAt <= now) {
        this.local.delete(key);
        n++;
      }
    return n;
  }

  stats(): ProfileStats {
    const by = Object.fromEntries(
      PROFILE_TIERS.map((t) => [
        t,
        { size: 0, hits: this.hits[t], misses: this.misses[t], hit_ratio: ratio(this.hits[t], this.misses[t]) },
      ]),
    ) as ProfileStats['by_tier'];
    for (const e of this.local.values()) by[e.profile.tier].size++;
    const hits = PROFILE_TIERS.reduce((s, t) => s + this.hits[t], 0);
    const misses = PROFILE_TIERS.reduce((s, t) => s + this.misses[t], 0);
    const breakers: ProfileStats['breakers'] = {};
    for (const [source, b] of this.breakers) breakers[source] = { state: b.state, opened: b.opened };
    return {
      size: this.local.size,
      max: this.o.max,
      hits,
      misses,
      hit_ratio: ratio(hits, misses),
      by_tier: by,
      breakers,
      revalidations: this.revalidations,
    };
  }

  /** Hits and misses per tier, for the metrics reader. */
  counts(): Array<{ tier: ProfileTier; hits: number; misses: number }> {
    return PROFILE_TIERS.map((tier) => ({ tier, hits: this.hits[tier], misses: this.misses[tier] }));
  }

  private refresh(source: SourceKind, name: string, force = false): Promise<Profile> {
    const key = `${source}:${name}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.resolve(source, name, force).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async resolve(source: SourceKind, name: string, force: boolean): Promise<Profile> {
    const stored = await this.d.store.get(source, name).catch((err: unknown) => {
      this.d.onError?.(err, 'profile store read');
      return null;
    });
    const at = this.now();
    // A stored entry still fresh is used as is (the store expires it at its tier's TTL). A revalidation asks the
    // platform again, unless the entry is live: what the chat showed a moment ago is the best there is.
    if (stored && !(force && stored.tier === 'fetched')) return this.remember(this.view(stored));
    const fetcher = this.d.fetchers[source];
    const breaker = this.breakers.get(source);
    if (fetcher && breaker) {
      try {
        const found = await breaker.run(source, () => fetcher.fetch(name));
        if (found) {
          const rec: ProfileRecord = {
            source,
            username: name,
            displayName: found.displayName,
            avatarUrl: found.avatarUrl,
            tier: 'fetched',
            fetchedAt: at,
          };
          await this.d.store.put(rec, this.o.ttlMs.fetched).catch((err: unknown) => this.d.onError?.(err, 'profile store write'));
          return this.remember(this.view(rec));
        }
      } catch (err) {
        if (!(err instanceof BreakerOpenError)) this.d.onError?.(err, `${source} profile lookup`);
        if (stored) return this.remember(this.view(stored));
      }
    }
    return this.remember({
      source,
      username: name,
      displayName: name,
      avatarUrl: avatarPath(source, name),
      tier: 'generated',
      fetchedAt: at,
    });
  }

  private view(r: ProfileRecord): Profile {
    const { avatarUrl } = r;
    if (avatarUrl !== null) return { ...r, avatarUrl };
    // Known, without an avatar: the initials of their display name.
    return { ...r, avatarUrl: avatarPath(r.source, r.username), tier: 'initials' };
  }

  private remember(profile: Profile): Profile {
    this.local.set(`${profile.source}:${profile.username}`, { profile, staleAt: this.now() + this.o.ttlMs[profile.tier] });
    return profile;
  }
}
