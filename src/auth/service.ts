import { ulid } from 'ulid';
import { AppError, badRequest, conflict, forbidden, notFound, unauthorized } from '../errors.js';
import { generateApiKey, hashApiKey, looksLikeApiKey } from './api-keys.js';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from './passwords.js';
import type { Revocation } from './revocations.js';
import type { ApiKeyStore, RevocationStore, Role, UserRecord, UserStore } from './stores.js';
import type { TokenClaims, TokenIssuer, TokenPair } from './tokens.js';

const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const API_KEY_NAME_MAX = 64;
export const MAX_API_KEYS_PER_USER = 20;

const INVALID_LOGIN = 'invalid username or password';

export interface PublicUser {
  id: string;
  username: string;
  role: Role;
  created_at: string;
  display_name?: string;
  avatar_url?: string;
  disabled?: boolean;
}

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  via: 'jwt' | 'api_key';
  tokenId?: string;
  /** Epoch seconds. */
  tokenExp?: number;
  apiKeyId?: string;
}

export interface Credentials {
  bearer?: string;
  apiKey?: string;
}

export interface CreatedApiKey {
  id: string;
  name: string;
  /** Returned only here; the service keeps just its hash. */
  key: string;
  prefix: string;
  created_at: string;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface AuthServiceDeps {
  users: UserStore;
  apiKeys: ApiKeyStore;
  revocations: RevocationStore;
  tokens: TokenIssuer;
  /** Told of every revocation that open sockets must see (the gateway closes them, cluster-wide). */
  onRevoke?: (e: Revocation) => void;
}

const ROLE_RANK: Record<Role, number> = { user: 0, admin: 1 };

/** Admin satisfies any role requirement; throws forbidden() otherwise. */
export function requireRole(principal: Principal, role: Role): void {
  if (ROLE_RANK[principal.role] < ROLE_RANK[role]) throw forbidden();
}

const invalid = (message: string) => badRequest(message, 'validation_failed');

function validateUsername(username: unknown): asserts username is string {
  if (typeof username !== 'string' || !USERNAME_PATTERN.test(username)) {
    throw invalid('username must be 3-32 characters of letters, digits, "_", "." or "-"');
  }
}

function validatePassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw invalid(`password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function toPublicUser(u: UserRecord): PublicUser {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    created_at: iso(u.createdAt),
    ...(u.displayName == null ? {} : { display_name: u.displayName }),
    ...(u.avatarUrl == null ? {} : { avatar_url: u.avatarUrl }),
  };
}

/** For admins: includes whether the account is disabled. */
export function toAdminUser(u: UserRecord): PublicUser {
  return { ...toPublicUser(u), disabled: u.disabled };
}

export class AuthService {
  readonly #users: UserStore;
  readonly #apiKeys: ApiKeyStore;
  readonly #revocations: RevocationStore;
  readonly #tokens: TokenIssuer;
  readonly #onRevoke: (e: Revocation) => void;

  constructor(deps: AuthServiceDeps) {
    this.#users = deps.users;
    this.#apiKeys = deps.apiKeys;
    this.#revocations = deps.revocations;
    this.#tokens = deps.tokens;
    this.#onRevoke = deps.onRevoke ?? (() => undefined);
  }

  async register(username: string, password: string): Promise<PublicUser> {
    validateUsername(username);
    validatePassword(password);
    // Early check avoids spending a scrypt on an obvious duplicate; the store's own
    // check in create() still decides races.
    if (await this.#users.findByUsername(username)) throw conflict('username taken');
    const user: UserRecord = {
      id: ulid(),
      username,
      passwordHash: await hashPassword(password),
      role: 'user',
      createdAt: Date.now(),
      disabled: false,
    };
    await this.#users.create(user);
    return toPublicUser(user);
  }

  async login(username: string, password: string): Promise<TokenPair> {
    // Nothing longer than the registration maximum can match, so skip the scrypt on oversized input.
    if (typeof username !== 'string' || typeof password !== 'string' || password.length > PASSWORD_MAX) {
      throw unauthorized(INVALID_LOGIN);
    }
    const user = await this.#users.findByUsername(username);
    if (!user) {
      // Equalise timing with the known-user path so response time does not enumerate usernames.
      await verifyPassword(password, DUMMY_PASSWORD_HASH);
      throw unauthorized(INVALID_LOGIN);
    }
    const ok = await verifyPassword(password, user.passwordHash);
    // Disabled is checked after the verify, and reported identically, for the same reason.
    if (!ok || user.disabled) throw unauthorized(INVALID_LOGIN);
    return this.#tokens.issuePair(user);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const claims = this.#tokens.verify(refreshToken, 'refresh');
    const user = await this.#activeUser(claims.sub);
    if (claims.gen !== (user.tokenGen ?? 0)) throw unauthorized('token revoked');
    // revoke() doubles as an atomic claim: of two concurrent refreshes with the same token
    // only one gets `true`, so a refresh token can be redeemed exactly once.
    if (!(await this.#revocations.revoke(claims.jti, claims.exp * 1000))) throw unauthorized('token revoked');
    // Role comes from the current record so demotions take effect at the next refresh.
    return this.#tokens.issuePair(user);
  }

  async authenticate(creds: Credentials): Promise<Principal> {
    if (creds.bearer) {
      const claims = this.#tokens.verify(creds.bearer, 'access');
      if (await this.#revocations.isRevoked(claims.jti)) throw unauthorized('token revoked');
      const user = await this.#activeUser(claims.sub);
      if (claims.gen !== (user.tokenGen ?? 0)) throw unauthorized('token revoked');
      return {
        userId: user.id,
        username: user.username,
        role: user.role,
        via: 'jwt',
        tokenId: claims.jti,
        tokenExp: claims.exp,
      };
    }
    if (creds.apiKey) {
      if (!looksLikeApiKey(creds.apiKey)) throw unauthorized('invalid api key');
      // An exact-match lookup on a hash leaks nothing useful through timing: the attacker
      // cannot steer the digest of their guess toward a stored one.
      const rec = await this.#apiKeys.findByHash(hashApiKey(creds.apiKey));
      if (!rec) throw unauthorized('invalid api key');
      const user = await this.#activeUser(rec.userId);
      await this.#apiKeys.touch(rec.id, Date.now());
      return { userId: user.id, username: user.username, role: user.role, via: 'api_key', apiKeyId: rec.id };
    }
    throw unauthorized();
  }

  async logout(principal: Principal, refreshToken?: string): Promise<void> {
    if (principal.via !== 'jwt' || principal.tokenId === undefined || principal.tokenExp === undefined) {
      throw badRequest('logout applies to bearer tokens', 'not_a_token');
    }
    await this.#revocations.revoke(principal.tokenId, principal.tokenExp * 1000);
    this.#onRevoke({ reason: 'logout', userId: principal.userId, tokenId: principal.tokenId });
    if (refreshToken) {
      let claims: TokenClaims;
      try {
        claims = this.#tokens.verify(refreshToken, 'refresh');
      } catch (err) {
        // A stale or bogus refresh token must not turn a successful logout into an error.
        if (err instanceof AppError) return;
        throw err;
      }
      // Only the owner may kill a refresh token; anyone else's is silently ignored.
      if (claims.sub === principal.userId) await this.#revocations.revoke(claims.jti, claims.exp * 1000);
    }
  }

  async me(principal: Principal): Promise<PublicUser> {
    const user = await this.#users.findById(principal.userId);
    if (!user) throw unauthorized();
    return toPublicUser(user);
  }

  async updateProfile(principal: Principal, patch: { displayName?: string | null; avatarUrl?: string | null }): Promise<PublicUser> {
    const current = await this.#activeUser(principal.userId);
    const next: UserRecord = { ...current };
    if (patch.displayName !== undefined) {
      if (patch.displayName === null) delete next.displayName;
      else next.displayName = patch.displayName;
    }
    if (patch.avatarUrl !== undefined) {
      if (patch.avatarUrl === null) delete next.avatarUrl;
      else next.avatarUrl = patch.avatarUrl;
    }
    // Replace the whole record's optional fields: a patch cannot express "remove this field".
    const updated = await this.#users.update(current.id, { displayName: next.displayName as string, avatarUrl: next.avatarUrl as string });
    if (!updated) throw unauthorized();
    return toPublicUser(updated);
  }

  /**
   * Checks the current password, stores the new one and moves the token generation on, so every token
   * issued before (other sessions' refresh tokens included) stops working; returns a fresh pair for this session.
   */
  async changePassword(principal: Principal, currentPassword: string, newPassword: string): Promise<TokenPair> {
    validatePassword(newPassword);
    const user = await this.#activeUser(principal.userId);
    if (!(await verifyPassword(currentPassword, user.passwordHash))) throw new AppError(403, 'wrong_password', 'the current password is wrong');
    const updated = await this.#users.update(user.id, { passwordHash: await hashPassword(newPassword), tokenGen: (user.tokenGen ?? 0) + 1 });
    if (!updated) throw unauthorized();
    this.#onRevoke({ reason: 'password', userId: user.id });
    return this.#tokens.issuePair(updated);
  }

  /** Deletes the account and its API keys (the caller removes what other services keep, e.g. reports). */
  async deleteAccount(principal: Principal): Promise<void> {
    await this.#apiKeys.deleteByUser(principal.userId);
    await this.#users.delete(principal.userId);
    this.#onRevoke({ reason: 'deleted', userId: principal.userId });
  }

  async listUsers(limit: number, after?: string): Promise<PublicUser[]> {
    return (await this.#users.list(limit, after)).map(toAdminUser);
  }

  /** Admin: role and disabled flag. An admin cannot demote or disable themselves (no lock-out by accident). */
  async adminUpdate(principal: Principal, id: string, patch: { role?: Role; disabled?: boolean }): Promise<PublicUser> {
    if (id === principal.userId && (patch.role === 'user' || patch.disabled === true)) {
      throw new AppError(409, 'conflict', 'admins cannot demote or disable themselves');
    }
    const updated = await this.#users.update(id, patch);
    if (!updated) throw notFound('user not found');
    if (patch.role !== undefined || patch.disabled === true) this.#onRevoke({ reason: patch.disabled === true ? 'disabled' : 'role', userId: id });
    return toAdminUser(updated);
  }

  apiKeyUsage(since: number): Promise<{ keys: number; usedSince: number }> {
    return this.#apiKeys.usage(since);
  }

  /** Accounts by role (admin overview). */
  userCounts(): Promise<Record<Role, number>> {
    return this.#users.countByRole();
  }

  async createApiKey(principal: Principal, name: string): Promise<CreatedApiKey> {
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (trimmed.length < 1 || trimmed.length > API_KEY_NAME_MAX) {
      throw invalid(`name must be 1-${API_KEY_NAME_MAX} characters`);
    }
    // Check-then-insert, so concurrent creates can overshoot by a few; the cap exists to
    // bound per-user storage, not as a security boundary, so that is acceptable.
    const existing = await this.#apiKeys.listByUser(principal.userId);
    if (existing.length >= MAX_API_KEYS_PER_USER) {
      throw conflict(`api key limit reached (${MAX_API_KEYS_PER_USER} per user)`);
    }
    const { key, prefix, hash } = generateApiKey();
    const createdAt = Date.now();
    const id = ulid();
    await this.#apiKeys.create({ id, userId: principal.userId, name: trimmed, prefix, hash, createdAt, lastUsedAt: null });
    return { id, name: trimmed, key, prefix, created_at: iso(createdAt) };
  }

  async listApiKeys(principal: Principal): Promise<ApiKeyInfo[]> {
    const recs = await this.#apiKeys.listByUser(principal.userId);
    return recs.map((r) => ({
      id: r.id,
      name: r.name,
      prefix: r.prefix,
      created_at: iso(r.createdAt),
      last_used_at: r.lastUsedAt === null ? null : iso(r.lastUsedAt),
    }));
  }

  async deleteApiKey(principal: Principal, id: string): Promise<void> {
    if (principal.role !== 'admin') {
      const own = await this.#apiKeys.listByUser(principal.userId);
      // notFound rather than forbidden: a non-owner must not learn that the id exists.
      if (!own.some((k) => k.id === id)) throw notFound('api key not found');
    }
    if (!(await this.#apiKeys.delete(id))) throw notFound('api key not found');
    this.#onRevoke({ reason: 'api_key', apiKeyId: id });
  }

  /**
   * Boot-time provisioning from ADMIN_USERNAME/ADMIN_PASSWORD. Also re-enables the account:
   * the operator naming it in config is the strongest signal it should be usable.
   */
  async ensureAdmin(username: string, password: string): Promise<PublicUser> {
    validateUsername(username);
    validatePassword(password);
    const passwordHash = await hashPassword(password);
    const existing = await this.#users.findByUsername(username);
    if (existing) {
      const updated = await this.#users.update(existing.id, { passwordHash, role: 'admin', disabled: false });
      if (!updated) throw notFound('user not found');
      return toPublicUser(updated);
    }
    const user: UserRecord = { id: ulid(), username, passwordHash, role: 'admin', createdAt: Date.now(), disabled: false };
    await this.#users.create(user);
    return toPublicUser(user);
  }

  requireRole(principal: Principal, role: Role): void {
    requireRole(principal, role);
  }

  async #activeUser(id: string): Promise<UserRecord> {
    const user = await this.#users.findById(id);
    if (!user || user.disabled) throw unauthorized();
    return user;
  }
}
