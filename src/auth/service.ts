import { ulid } from '../ids.js';
import { AppError, badRequest, conflict, forbidden, notFound, rateLimited, unauthorized } from '../errors.js';
import type { RateLimiter } from '../limits/index.js';
import { generateApiKey, hashApiKey, looksLikeApiKey } from './api-keys.js';
import { DUMMY_PASSWORD_HASH, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { Revocation } from './revocations.js';
import { identityOf } from './identity.js';
import type { ApiKeyStore, RevocationStore, Role, UserRecord, UserStore } from './stores.js';
import type { TokenClaims, TokenIssuer, TokenPair } from './tokens.js';

const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const API_KEY_NAME_MAX = 64;
export const MAX_API_KEYS_PER_USER = 20;

const INVALID_LOGIN = 'invalid username or password';
// Revocation-store entry a logout leaves beside a refresh token's own: a refresh token presented after a
// logout is refused like any spent one, but is not taken for a stolen copy (see refresh()).
const LOGGED_OUT = 'logout:';

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
  /** The user's token generation the token was issued under (a password change moves it on). */
  tokenGen?: number;
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
  /**
   * Password failures per account (key: the lowercased username): each check of a password spends a point
   * up front and a success gives it back, so only failures count, and concurrent guesses cannot overshoot.
   * Absent: no per-account limit (unit tests; the gateway always passes one).
   */
  passwordFailures?: RateLimiter;
}

const ROLE_RANK: Record<Role, number> = { user: 0, admin: 1 };

/** Admin satisfies any role requirement; throws forbidden() otherwise. */
export function requireRole(principal: Principal, role: Role): void {
  if (ROLE_RANK[principal.role] < ROLE_RANK[role]) throw forbidden();
}

const invalid = (message: string) => badRequest(message, 'validation_failed');

/** Account-level actions (new keys, deletion) need a session from a login: an API key is a narrower credential. */
function requireJwt(principal: Principal): void {
  if (principal.via !== 'jwt') throw new AppError(403, 'jwt_required', 'this needs a bearer token from a login, not an API key');
}

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
    ...(identityOf(u).avatarUrl === null ? {} : { avatar_url: identityOf(u).avatarUrl as string }),
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
  readonly #failures: RateLimiter | undefined;

  constructor(deps: AuthServiceDeps) {
    this.#users = deps.users;
    this.#apiKeys = deps.apiKeys;
    this.#revocations = deps.revocations;
    this.#tokens = deps.tokens;
    this.#onRevoke = deps.onRevoke ?? (() => undefined);
    this.#failures = deps.passwordFailures;
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
    // Before the lookup, and keyed by the name as typed: an unknown username is throttled exactly like a
    // known one, so neither the 429 nor its timing tells whether an account exists.
    const throttleKey = await this.#spendAttempt(username);
    const user = await this.#users.findByUsername(username);
    if (!user) {
      // Equalise timing with the known-user path so response time does not enumerate usernames.
      await verifyPassword(password, DUMMY_PASSWORD_HASH);
      throw unauthorized(INVALID_LOGIN);
    }
    const ok = await verifyPassword(password, user.passwordHash);
    // A hash from weaker parameters verifies faster than the dummy: pad it to the current cost, so an
    // account that has not logged in since the upgrade cannot be told from a name that does not exist.
    const weaker = needsRehash(user.passwordHash);
    if (weaker) await verifyPassword(password, DUMMY_PASSWORD_HASH);
    // Disabled is checked after the verify, and reported identically, for the same reason.
    if (!ok || user.disabled) throw unauthorized(INVALID_LOGIN);
    await this.#forgetAttempts(throttleKey);
    if (weaker) await this.#upgradeHash(user, password);
    return this.#tokens.issuePair(user);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const claims = this.#tokens.verify(refreshToken, 'refresh');
    const user = await this.#activeUser(claims.sub);
    if (claims.gen !== (user.tokenGen ?? 0)) throw unauthorized('token revoked');
    // revoke() doubles as an atomic claim: of two concurrent refreshes with the same token
    // only one gets `true`, so a refresh token can be redeemed exactly once.
    if (!(await this.#revocations.revoke(claims.jti, claims.exp * 1000))) {
      if (await this.#revocations.isRevoked(LOGGED_OUT + claims.jti)) throw unauthorized('token revoked');
      // Spent once already, so two parties hold it (a stolen copy, or the owner's after the thief's use):
      // which one is which cannot be told, so every token of the user goes, the thief's new pair included.
      await this.#users.update(user.id, { tokenGen: (user.tokenGen ?? 0) + 1 });
      this.#onRevoke({ reason: 'reuse', userId: user.id });
      throw unauthorized('refresh token already used: every session of this account is signed out');
    }
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
        tokenGen: claims.gen,
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

  /**
   * Whether a principal authenticated earlier would still be accepted, as the same role: what an open
   * socket is re-checked against, should a revocation event have been lost (the bus delivers at most once).
   */
  async stillValid(p: Principal): Promise<boolean> {
    const user = await this.#users.findById(p.userId);
    if (!user || user.disabled || user.role !== p.role) return false;
    if (p.via === 'jwt') {
      if ((user.tokenGen ?? 0) !== (p.tokenGen ?? 0)) return false;
      return p.tokenId === undefined || !(await this.#revocations.isRevoked(p.tokenId));
    }
    return p.apiKeyId !== undefined && (await this.#apiKeys.listByUser(user.id)).some((k) => k.id === p.apiKeyId);
  }

  async logout(principal: Principal, refreshToken?: string): Promise<void> {
    if (principal.via !== 'jwt' || principal.tokenId === undefined || principal.tokenExp === undefined) {
      throw badRequest('logout applies to bearer tokens', 'not_a_token');
    }
    await this.#revocations.revoke(principal.tokenId, principal.tokenExp * 1000);
    if (refreshToken) await this.#retireRefresh(principal, refreshToken);
    // Sockets close last: a client that refreshes on the close must find its refresh token spent already.
    this.#onRevoke({ reason: 'logout', userId: principal.userId, tokenId: principal.tokenId });
  }

  async #retireRefresh(principal: Principal, refreshToken: string): Promise<void> {
    let claims: TokenClaims;
    try {
      claims = this.#tokens.verify(refreshToken, 'refresh');
    } catch (err) {
      // A stale or bogus refresh token must not turn a successful logout into an error.
      if (err instanceof AppError) return;
      throw err;
    }
    // Only the owner may kill a refresh token; anyone else's is silently ignored. The logout mark goes
    // first, so a refresh racing this logout never sees the token spent without it (no false reuse).
    if (claims.sub === principal.userId) {
      await this.#revocations.revoke(LOGGED_OUT + claims.jti, claims.exp * 1000);
      await this.#revocations.revoke(claims.jti, claims.exp * 1000);
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
    const updated = await this.#users.update(current.id, { displayName: next.displayName, avatarUrl: next.avatarUrl });
    if (!updated) throw unauthorized();
    return toPublicUser(updated);
  }

  /** Sets (null: removes) the caller's uploaded avatar; returns the user and the file id it replaced, if any. */
  async setAvatarFile(principal: Principal, fileId: string | null): Promise<{ user: PublicUser; replaced: string | null }> {
    const current = await this.#activeUser(principal.userId);
    const updated = await this.#users.update(current.id, { avatarFileId: fileId ?? undefined });
    if (!updated) throw unauthorized();
    return { user: toPublicUser(updated), replaced: current.avatarFileId ?? null };
  }

  /** What an avatar shows of a user: the uploaded file, else the name its initials come from; null: no such user. */
  async avatarSource(userId: string): Promise<{ fileId: string | null; name: string } | null> {
    const user = await this.#users.findById(userId);
    if (!user || user.disabled) return null;
    return { fileId: user.avatarFileId ?? null, name: user.displayName ?? user.username };
  }

  /**
   * Checks the current password, stores the new one and moves the token generation on, so every token
   * issued before (other sessions' refresh tokens included) stops working, and deletes every API key (one
   * minted with a stolen session must not outlive the password change); returns a fresh pair for this session.
   */
  async changePassword(principal: Principal, currentPassword: string, newPassword: string): Promise<TokenPair> {
    validatePassword(newPassword);
    const user = await this.#activeUser(principal.userId);
    await this.#confirmPassword(user, currentPassword);
    const passwordHash = await hashPassword(newPassword);
    // Keys go before the password: if the update then fails, the user has lost keys, not kept a thief's.
    await this.#apiKeys.deleteByUser(user.id);
    const updated = await this.#users.update(user.id, { passwordHash, tokenGen: (user.tokenGen ?? 0) + 1 });
    if (!updated) throw unauthorized();
    this.#onRevoke({ reason: 'password', userId: user.id }); // its key sockets too: the keys went above
    return this.#tokens.issuePair(updated);
  }

  /**
   * A password reset (a mailed token, already checked and consumed by the caller): the new password, every
   * API key deleted and every token issued before refused, as after a password change.
   */
  async resetPassword(userId: string, newPassword: string): Promise<void> {
    validatePassword(newPassword);
    const user = await this.#activeUser(userId);
    const passwordHash = await hashPassword(newPassword);
    await this.#apiKeys.deleteByUser(user.id);
    const updated = await this.#users.update(user.id, { passwordHash, tokenGen: (user.tokenGen ?? 0) + 1 });
    if (!updated) throw unauthorized();
    this.#onRevoke({ reason: 'password', userId: user.id });
    // Whoever holds the mailbox may sign in at once, whatever failures the old password collected.
    await this.#failures?.reset(user.username.toLowerCase());
  }

  /**
   * Deletes the account and its API keys, given a bearer token and the current password. `cleanup` (what
   * other services keep, e.g. reports) runs once the password is confirmed, before the account goes.
   */
  async deleteAccount(principal: Principal, currentPassword: string, cleanup?: (userId: string) => Promise<unknown>): Promise<void> {
    requireJwt(principal);
    const user = await this.#activeUser(principal.userId);
    await this.#confirmPassword(user, currentPassword);
    await cleanup?.(user.id);
    await this.#apiKeys.deleteByUser(user.id);
    await this.#users.delete(user.id);
    this.#onRevoke({ reason: 'deleted', userId: user.id });
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
    if (patch.role !== undefined || patch.disabled === true)
      this.#onRevoke({ reason: patch.disabled === true ? 'disabled' : 'role', userId: id });
    return toAdminUser(updated);
  }

  apiKeyUsage(since: number): Promise<{ keys: number; usedSince: number }> {
    return this.#apiKeys.usage(since);
  }

  /** Accounts by role (admin overview). */
  userCounts(): Promise<Record<Role, number>> {
    return this.#users.countByRole();
  }

  /** Needs a bearer token and the current password: a key (or a stolen session alone) cannot mint keys. */
  async createApiKey(principal: Principal, name: string, currentPassword: string): Promise<CreatedApiKey> {
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (trimmed.length < 1 || trimmed.length > API_KEY_NAME_MAX) {
      throw invalid(`name must be 1-${API_KEY_NAME_MAX} characters`);
    }
    requireJwt(principal);
    await this.#confirmPassword(await this.#activeUser(principal.userId), currentPassword);
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

  /**
   * The current-password check of sensitive account actions. It spends from the same per-account budget
   * as login: a stolen session must not be a way around the login throttle to guess the password.
   */
  async #confirmPassword(user: UserRecord, password: string): Promise<void> {
    const key = await this.#spendAttempt(user.username);
    if (!(await verifyPassword(password, user.passwordHash))) throw new AppError(403, 'wrong_password', 'the current password is wrong');
    await this.#forgetAttempts(key);
  }

  /** Spends one point of the account's failure budget (429 once spent); returns the key, null when untracked. */
  async #spendAttempt(username: string): Promise<string | null> {
    // A name registration refuses cannot be an account: nothing to protect, and no unbounded keys.
    if (!this.#failures || !USERNAME_PATTERN.test(username)) return null;
    const key = username.toLowerCase();
    const decision = await this.#failures.consume(key);
    if (!decision.allowed) {
      throw rateLimited(decision.retryAfterMs / 1000, 'too many failed password attempts for this account; retry later');
    }
    return key;
  }

  /** A success gives the account its whole budget back: a user's own typos must not add up to a lockout. */
  async #forgetAttempts(key: string | null): Promise<void> {
    if (key !== null) await this.#failures?.reset(key);
  }

  /** Stores `password` under the current scrypt parameters, unless the hash changed meanwhile. */
  /** Best effort: a failure leaves the old hash (upgraded at a later login) and never fails this login. */
  async #upgradeHash(user: UserRecord, password: string): Promise<void> {
    try {
      const passwordHash = await hashPassword(password);
      // Re-read after the slow hash: a password change that landed meanwhile must not be overwritten with the
      // old password (the store has no compare-and-set; this leaves a window of one round trip, not a hash).
      const current = await this.#users.findById(user.id);
      if (current?.passwordHash === user.passwordHash) await this.#users.update(user.id, { passwordHash });
    } catch {
      return;
    }
  }

  async #activeUser(id: string): Promise<UserRecord> {
    const user = await this.#users.findById(id);
    if (!user || user.disabled) throw unauthorized();
    return user;
  }
}
