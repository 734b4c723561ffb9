// Profiles: the service from PROFILE_* / TWITCH_CLIENT_* / TIKTOK_WEB_URL settings, and its series in /metrics.
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { HelixFetcher, ProfileService, TikTokFetcher, type ProfileFetcher, type ProfileStore } from '../profiles/index.js';
import type { SourceKind } from '../vocabulary.js';

export function profileService(config: Config['profiles'], store: ProfileStore, log: Logger): ProfileService {
  const fetchers: Partial<Record<SourceKind, ProfileFetcher>> = {};
  if (config.twitchClientId !== undefined && config.twitchClientSecret !== undefined)
    fetchers.twitch = new HelixFetcher({
      clientId: config.twitchClientId,
      clientSecret: config.twitchClientSecret,
      helixUrl: config.twitchHelixUrl,
      authUrl: config.twitchAuthUrl,
      timeoutMs: config.timeoutMs,
    });
  if (config.tiktokWebUrl !== undefined) fetchers.tiktok = new TikTokFetcher({ webUrl: config.tiktokWebUrl, timeoutMs: config.timeoutMs });
  const s = 1000;
  return new ProfileService(
    { store, fetchers, onError: (err, what) => log.warn({ err }, `${what} failed`) },
    {
      ttlMs: {
        live: config.ttlS.live * s,
        fetched: config.ttlS.fetched * s,
        generated: config.ttlS.generated * s,
        initials: config.ttlS.initials * s,
      },
      max: config.cacheMax,
      breakerFailures: config.breakerFailures,
      breakerOpenMs: config.breakerOpenS * s,
    },
  );
}

/** `chatpulse_profile_cache_{hits,misses}_total{tier}` and `chatpulse_profile_cache_hit_ratio{tier}`. */
export function instrumentProfiles(metrics: Metrics, profiles: ProfileService): void {
  const registers = [metrics.registry];
  const labelNames = ['tier'] as const;
  for (const [name, help, pick] of [
    ['chatpulse_profile_cache_hits_total', 'Profile lookups answered from this process cache, by tier', 'hits'],
    ['chatpulse_profile_cache_misses_total', 'Profile lookups that read the shared store or the platform, by the tier found', 'misses'],
  ] as const)
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const c of profiles.counts()) this.inc({ tier: c.tier }, c[pick]);
      },
    });
  new Gauge({
    name: 'chatpulse_profile_cache_hit_ratio',
    help: 'Profile cache hits over lookups since start, by tier',
    labelNames,
    registers,
    collect() {
      for (const [tier, t] of Object.entries(profiles.stats().by_tier)) this.set({ tier }, t.hit_ratio);
    },
  });
}
