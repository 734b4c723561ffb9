// Leases: exclusive, expiring ownership of a named job (e.g. "ingest twitch:somechannel"), so that in a
// cluster exactly one process does it, and another takes over when the owner dies (its lease lapses).
//
// Every grant carries a fencing token, strictly increasing per name. An owner that stalled past its
// expiry may still believe it owns the job; whatever it writes to must reject tokens lower than the
// highest it has seen, which makes the stale owner harmless. Renew and release only act while the lease
// is still held with the same token, so a stale owner can neither extend nor drop its successor's lease.

export interface Lease {
  readonly name: string;
  readonly owner: string;
  /** Fencing token: strictly increasing per name across grants. */
  readonly token: number;
  /**
   * Epoch ms by which the lease has lapsed at the latest, by this process's clock (taken before the grant
   * was asked for, so it errs early). Moved forward by a successful `renew`.
   */
  expiresAt: number;
}

export interface LeaseManager {
  /** The lease, or null while someone (this owner included: leases are not re-entrant) holds it. */
  acquire(name: string, ownerId: string, ttlMs: number): Promise<Lease | null>;
  /** Extends the lease to `ttlMs` from now; false when it lapsed or was taken over (stop working then). */
  renew(lease: Lease, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if still held with this token; a no-op otherwise. */
  release(lease: Lease): Promise<void>;
  /** Who holds the name now, or null. */
  current(name: string): Promise<Lease | null>;
}

interface Held {
  owner: string;
  token: number;
  expiresAt: number;
}

/** One process's leases (a single gateway needs no coordination, but the code paths stay the same). */
export class MemoryLeaseManager implements LeaseManager {
  private readonly held = new Map<string, Held>();
  /** Last token per name; kept after release so tokens never repeat. */
  private readonly tokens = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  private live(name: string): Held | null {
    const h = this.held.get(name);
    if (!h) return null;
    if (h.expiresAt <= this.now()) {
      this.held.delete(name);
      return null;
    }
    return h;
  }

  async acquire(name: string, ownerId: string, ttlMs: number): Promise<Lease | null> {
    if (this.live(name)) return null;
    const token = (this.tokens.get(name) ?? 0) + 1;
    this.tokens.set(name, token);
    const held: Held = { owner: ownerId, token, expiresAt: this.now() + ttlMs };
    this.held.set(name, held);
    return { name, ...held };
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const h = this.live(lease.name);
    if (!h || h.token !== lease.token || h.owner !== lease.owner) return false;
    h.expiresAt = this.now() + ttlMs;
    lease.expiresAt = h.expiresAt;
    return true;
  }

  async release(lease: Lease): Promise<void> {
    const h = this.held.get(lease.name);
    if (h && h.token === lease.token && h.owner === lease.owner) this.held.delete(lease.name);
  }

  async current(name: string): Promise<Lease | null> {
    const h = this.live(name);
    return h ? { name, ...h } : null;
  }
}
