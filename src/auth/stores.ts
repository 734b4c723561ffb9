// The auth stores' ports (users, API keys, revoked token ids) and their memory drivers, the default. Kept
// async and driver-agnostic: Redis drivers in redis-stores.ts, MongoDB drivers in mongo-stores.ts.
import type { Role } from '../contract/index.js';
import { conflict } from '../errors.js';

export type { Role };

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
  /** An uploaded avatar (a FileStore id), shown before `avatarUrl`. */
  avatarFileId?: string;
  /** Bumped by a password change: tokens carry it, and tokens of an older generation are refused. */
  tokenGen?: number;
  /** Where verification and password-reset mails go; not unique across accounts. */
  email?: string;
  /** True once a link mailed to `email` was followed. Only a verified address receives reset mails. */
  emailVerified?: boolean;
  /** sha256 (hex) of the one pending e-mail verification token, and when it expires (epoch ms). */
  emailTokenHash?: string;
  emailTokenExp?: number;
  /** sha256 (hex) of the one pending password-reset token (a newer one replaces it), and its expiry. */
  resetTokenHash?: string;
  resetTokenExp?: number;
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

// Records are copied in and out so callers cannot mutate stored state by reference,
// matching what a networked driver would do.

const usernameKey = (name: string) => name.toLowerCase();

export class MemoryUserStore implements UserStore {
  readonly #byId = new Map<string, UserRecord>();
  readonly #idByName = new Map<string, string>();

  async create(user: UserRecord): Promise<void> {
    const key = usernameKey(user.username);
    if (this.#idByName.has(key)) throw conflict('username taken');
    if (this.#byId.has(user.id)) throw conflict('user id taken');
    this.#byId.set(user.id, { ...user });
    this.#idByName.set(key, user.id);
  }

  async findById(id: string): Promise<UserRecord | null> {
    const u = this.#byId.get(id);
    return u ? { ...u } : null;
  }

  async countByRole(): Promise<Record<Role, number>> {
    const counts: Record<Role, number> = { user: 0, admin: 0 };
    for (const u of this.#byId.values()) counts[u.role]++;
    return counts;
  }

  async findByUsername(username: string): Promise<UserRecord | null> {
    const id = this.#idByName.get(usernameKey(username));
    return id === undefined ? null : this.findById(id);
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const current = this.#byId.get(id);
    if (!current) return null;
    const next: UserRecord = { ...current, ...patch, id: current.id, createdAt: current.createdAt };
    const oldKey = usernameKey(current.username);
    const newKey = usernameKey(next.username);
    if (newKey !== oldKey) {
      if (this.#idByName.has(newKey)) throw conflict('username taken');
      this.#idByName.delete(oldKey);
      this.#idByName.set(newKey, id);
    }
    this.#byId.set(id, next);
    return { ...next };
  }

  async list(limit: number, after?: string): Promise<UserRecord[]> {
    const ids = [...this.#byId.keys()].filter((id) => after === undefined || id > after).sort();
    return ids.slice(0, limit).map((id) => ({ ...(this.#byId.get(id) as UserRecord) }));
  }

  async delete(id: string): Promise<boolean> {
    const user = this.#byId.get(id);
    if (!user) return false;
    this.#byId.delete(id);
    this.#idByName.delete(usernameKey(user.username));
    return true;
  }
}

export class MemoryApiKeyStore implements ApiKeyStore {
  readonly #byId = new Map<string, ApiKeyRecord>();
  readonly #idByHash = new Map<string, string>();

  async create(rec: ApiKeyRecord): Promise<void> {
    if (this.#byId.has(rec.id) || this.#idByHash.has(rec.hash)) throw conflict('api key already exists');
    this.#byId.set(rec.id, { ...rec });
    this.#idByHash.set(rec.hash, rec.id);
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const id = this.#idByHash.get(hash);
    const rec = id === undefined ? undefined : this.#byId.get(id);
    return rec ? { ...rec } : null;
  }

  async listByUser(userId: string): Promise<ApiKeyRecord[]> {
    const out: ApiKeyRecord[] = [];
    for (const rec of this.#byId.values()) if (rec.userId === userId) out.push({ ...rec });
    // Ids are ULIDs, so this breaks createdAt ties in creation order.
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async delete(id: string): Promise<boolean> {
    const rec = this.#byId.get(id);
    if (!rec) return false;
    this.#byId.delete(id);
    this.#idByHash.delete(rec.hash);
    return true;
  }

  async touch(id: string, at: number): Promise<void> {
    const rec = this.#byId.get(id);
    if (rec) rec.lastUsedAt = at;
  }

  async deleteByUser(userId: string): Promise<number> {
    let removed = 0;
    for (const rec of [...this.#byId.values()]) if (rec.userId === userId && (await this.delete(rec.id))) removed++;
    return removed;
  }

  async usage(since: number): Promise<{ keys: number; usedSince: number }> {
    let usedSince = 0;
    for (const rec of this.#byId.values()) if (rec.lastUsedAt !== null && rec.lastUsedAt >= since) usedSince++;
    return { keys: this.#byId.size, usedSince };
  }
}

export interface MemoryRevocationStoreOptions {
  /** How often expired entries are swept; 0 disables the timer (lazy purging still applies). */
  sweepIntervalMs?: number;
  /** Injectable clock for tests. */
  now?: () => number;
}

export class MemoryRevocationStore implements RevocationStore {
  readonly #expiresAt = new Map<string, number>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: MemoryRevocationStoreOptions = {}) {
    this.#now = opts.now ?? Date.now;
    const interval = opts.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.#timer = setInterval(() => this.sweep(), interval);
      // A housekeeping timer must never be what keeps the process (or a test run) alive.
      this.#timer.unref();
    }
  }

  async revoke(jti: string, expiresAtMs: number): Promise<boolean> {
    const now = this.#now();
    const existing = this.#expiresAt.get(jti);
    if (existing !== undefined && existing > now) return false;
    // Nothing to remember for a token that is already dead on its own.
    if (expiresAtMs > now) this.#expiresAt.set(jti, expiresAtMs);
    else this.#expiresAt.delete(jti);
    return true;
  }

  async isRevoked(jti: string): Promise<boolean> {
    const exp = this.#expiresAt.get(jti);
    if (exp === undefined) return false;
    if (exp <= this.#now()) {
      this.#expiresAt.delete(jti);
      return false;
    }
    return true;
  }

  /** Drops expired entries; returns how many were removed. */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [jti, exp] of this.#expiresAt) {
      if (exp <= now) {
        this.#expiresAt.delete(jti);
        removed++;
      }
    }
    return removed;
  }

  get size(): number {
    return this.#expiresAt.size;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
