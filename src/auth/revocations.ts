// Revocations that must reach open WebSockets: REST refuses a revoked credential at its next request, but a
// socket authenticated minutes ago never asks again. The auth service announces each one (onRevoke); the
// composition root carries it to every process over the cluster bus, where the gateway closes the sockets
// it names (code 4001). A plain JSON value, so any transport can carry it.

export type RevocationReason = 'logout' | 'password' | 'disabled' | 'deleted' | 'role' | 'api_key' | 'reuse';

export interface Revocation {
  reason: RevocationReason;
  /**
   * Whose sockets stop: all of that user's, unless `tokenId` or `apiKeyId` narrows it. May be absent only
   * with `apiKeyId` (an admin deleting a key does not know its owner).
   */
  userId?: string;
  /** Only the sockets opened (or renewed) with this access token id (jti). */
  tokenId?: string;
  /** Only the sockets opened with this API key. */
  apiKeyId?: string;
}

/** The close code of a socket whose credentials were revoked or expired (4000-4999: application codes). */
export const REVOKED_CLOSE_CODE = 4001;

const REASONS: ReadonlySet<string> = new Set<RevocationReason>(['logout', 'password', 'disabled', 'deleted', 'role', 'api_key', 'reuse']);

const optionalId = (v: unknown) => v === undefined || (typeof v === 'string' && v.length > 0 && v.length <= 128);

/** For values read off the bus: a malformed one is ignored, never half-applied. */
export function isRevocation(v: unknown): v is Revocation {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.reason !== 'string' || !REASONS.has(r.reason)) return false;
  if (!optionalId(r.userId) || !optionalId(r.tokenId) || !optionalId(r.apiKeyId)) return false;
  return r.userId !== undefined || r.apiKeyId !== undefined;
}

/** What a revocation is matched against: the credential a socket was opened (or renewed) with. */
export interface RevocableCredential {
  userId: string;
  tokenId?: string;
  apiKeyId?: string;
}

export function revokes(r: Revocation, c: RevocableCredential): boolean {
  if (r.userId !== undefined && r.userId !== c.userId) return false;
  if (r.tokenId !== undefined && r.tokenId !== c.tokenId) return false;
  return r.apiKeyId === undefined || r.apiKeyId === c.apiKeyId;
}

/**
 * The last revocations seen, numbered. An authentication that was under way while one arrived may have read
 * the state from before it (a cache, a lookup already answered): the caller notes `seq` before it starts and
 * asks `since` afterwards whether to authenticate once more.
 */
export class RecentRevocations {
  private readonly entries: Array<{ seq: number; r: Revocation }> = [];
  private last = 0;

  constructor(private readonly max = 1024) {}

  get seq(): number {
    return this.last;
  }

  add(r: Revocation): void {
    this.entries.push({ seq: ++this.last, r });
    if (this.entries.length > this.max) this.entries.shift();
  }

  /** Whether a revocation after `seq` may concern `c` (true as well when so many arrived that some were forgotten). */
  since(seq: number, c: RevocableCredential): boolean {
    if (seq === this.last) return false;
    const oldest = this.entries[0]?.seq ?? this.last + 1;
    if (oldest > seq + 1) return true;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as { seq: number; r: Revocation };
      if (e.seq <= seq) break;
      if (revokes(e.r, c)) return true;
    }
    return false;
  }
}
