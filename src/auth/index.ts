// Authentication: scrypt passwords, HS256 access/refresh JWTs, hashed API keys, and the AuthService over
// async store ports (stores.ts, with the memory drivers; Redis: redis-stores.ts; MongoDB: mongo-stores.ts).

export { hashPassword, verifyPassword } from './passwords.js';
export { TokenIssuer, TOKEN_ISSUER } from './tokens.js';
export type { TokenClaims, TokenIssuerOptions, TokenPair, TokenSubject, TokenType } from './tokens.js';
export { API_KEY_PREFIX, generateApiKey, hashApiKey, looksLikeApiKey } from './api-keys.js';
export type { GeneratedApiKey } from './api-keys.js';
export type { ApiKeyRecord, ApiKeyStore, RevocationStore, Role, UserPatch, UserRecord, UserStore } from './stores.js';
export { MemoryApiKeyStore, MemoryRevocationStore, MemoryUserStore } from './stores.js';
export type { MemoryRevocationStoreOptions } from './stores.js';
export { AuthService, MAX_API_KEYS_PER_USER, requireRole } from './service.js';
export type { ApiKeyInfo, AuthServiceDeps, CreatedApiKey, Credentials, Principal, PublicUser } from './service.js';
export { isRevocation, REVOKED_CLOSE_CODE } from './revocations.js';
export type { Revocation, RevocationReason } from './revocations.js';
export { avatarPath, forgettingChanges, IdentityCache, identityOf, type Identity } from './identity.js';
