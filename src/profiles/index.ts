export { identiconSvg } from './identicon.js';
export { BreakerOpenError, CircuitBreaker, HelixFetcher, TikTokFetcher, type PlatformProfile, type ProfileFetcher } from './platforms.js';
export { RedisProfileStore, profileKey } from './redis-store.js';
export {
  avatarPath,
  DEFAULT_PROFILE_OPTIONS,
  PROFILE_TIERS,
  ProfileService,
  type Profile,
  type ProfileOptions,
  type ProfileStats,
  type ProfileTier,
} from './service.js';
export { MemoryProfileStore, type ProfileRecord, type ProfileStore } from './store.js';
