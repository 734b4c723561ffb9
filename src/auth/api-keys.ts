import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'cp_';
const KEY_RANDOM_BYTES = 32;
const LISTING_PREFIX_CHARS = 10;
// 'cp_' + base64url(32 bytes) = 3 + 43 chars.
const API_KEY_PATTERN = /^cp_[A-Za-z0-9_-]{43}$/;

export interface GeneratedApiKey {
  /** Shown to the user once, never stored. */
  key: string;
  /** Non-secret (7 random chars out of 43), safe to list. */
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const key = API_KEY_PREFIX + randomBytes(KEY_RANDOM_BYTES).toString('base64url');
  return { key, prefix: key.slice(0, LISTING_PREFIX_CHARS), hash: hashApiKey(key) };
}

/**
 * A plain sha256 is deliberate. Keys carry 256 bits of randomness, so there is nothing to
 * brute-force and a slow KDF would buy no protection; unlike a salted password hash, a
 * deterministic digest can be looked up by index on every request in O(1).
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Cheap shape check so garbage input is rejected before touching the store. */
export function looksLikeApiKey(key: string): boolean {
  return typeof key === 'string' && API_KEY_PATTERN.test(key);
}
