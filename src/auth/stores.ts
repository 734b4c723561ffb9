// Storage capabilities the auth service depends on. Kept async and driver-agnostic so the
// in-memory drivers can be swapped for Redis/Mongo without touching the service.

export type Role = 'user' | 'admin';

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: Role;
  /** Epoch milliseconds. */
  createdAt: number;
  disabled: boolean;
  /** Shown instead of the username where set (account settings). */
  displayName?: string;
  avatarUrl?: string;
  /** Bumped by a password change: tokens carry it, and tokens of an older generation are refused. */
  tokenGen?: number;
}

export type UserPatch = Partial<Omit<UserRecord, 'id' | 'createdAt'>>;

export interface UserStore {
  /** Throws conflict('username taken') when the username exists, compared case-insensitively. */
  create(user: UserRecord): Promise<void>;
  findById(id: string): Promise<UserRecord | null>;
  /** Case-insensitive. */
  findByUsername(username: string): Promise<UserRecord | null>;
  /** Returns the updated record, or null when no such user exists. */
  update(id: string, patch: UserPatch): Promise<UserRecord | null>;
  /** Accounts by role, for the admin overview. */
  countByRole(): Promise<Record<Role, number>>;
  /** Ordered by id (ULIDs: creation order), ids after `after`. */
  list(limit: number, after?: string): Promise<UserRecord[]>;
  /** True when a user was removed. */
  delete(id: string): Promise<boolean>;
}

export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  /** Non-secret leading characters of the key, shown in listings so users can tell keys apart. */
  prefix: string;
  /** sha256(key) hex; the key itself is never stored. */
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface ApiKeyStore {
  create(rec: ApiKeyRecord): Promise<void>;
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** Oldest first. */
  listByUser(userId: string): Promise<ApiKeyRecord[]>;
  /** True when a key was removed. */
  delete(id: string): Promise<boolean>;
  /** Records last use; a missing id is ignored (the key may have been deleted concurrently). */
  touch(id: string, at: number): Promise<void>;
  /** Removes every key of a user; returns how many. */
  deleteByUser(userId: string): Promise<number>;
  /** For the admin overview: keys in total, and keys used at or after `since` (epoch ms). */
  usage(since: number): Promise<{ keys: number; usedSince: number }>;
}

export interface RevocationStore {
  /**
   * Marks a token id revoked until `expiresAtMs`, after which the entry may be forgotten
   * (the token fails its own expiry check by then). Returns false when the jti was already
   * revoked, so callers can use it as an atomic "consume once" (e.g. refresh rotation);
   * a Redis driver maps this to SET NX PX.
   */
  revoke(jti: string, expiresAtMs: number): Promise<boolean>;
  isRevoked(jti: string): Promise<boolean>;
}
