// The audit log: security and admin events (logins, role and disable changes, deletions, API keys, password
// resets, ingest start and stop, moderation). A port with a memory ring driver (the default) and a MongoDB
// driver (mongo-audit.ts, TTL-indexed). Writes never block a request: AuditLog buffers a bounded number of
// entries and drains them in the background; past the bound, entries are dropped and counted.
import { monotonicFactory } from '../ids.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  /** A ULID: sorts in time order. */
  id: string;
  /** Epoch milliseconds. */
  ts: number;
  kind: string;
  /** The acting user's id; null when nobody is signed in (a failed login, a password reset). */
  actor: string | null;
  /** What the action was on (a user id, a username, a key id, a room id); null when nothing in particular. */
  target: string | null;
  outcome: AuditOutcome;
  ip: string;
  request_id: string | null;
}

export interface AuditQuery {
  limit: number;
  /** Only entries with an id below this one (the previous page's last id). */
  before?: string;
  kind?: string;
}

export interface AuditStore {
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** Newest first. */
  list(q: AuditQuery): Promise<AuditEntry[]>;
  /** Removes entries older than `ts` (epoch ms); returns how many. */
  deleteBefore(ts: number): Promise<number>;
}

/** The newest `capacity` entries, in this process. */
export class MemoryAuditStore implements AuditStore {
  readonly #ring: AuditEntry[] = [];
  readonly #capacity: number;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    for (const e of entries) this.#ring.push({ ...e });
    if (this.#ring.length > this.#capacity) this.#ring.splice(0, this.#ring.length - this.#capacity);
  }

  async list(q: AuditQuery): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for (let i = this.#ring.length - 1; i >= 0 && out.length < q.limit; i--) {
      const e = this.#ring[i] as AuditEntry;
      if (q.before !== undefined && e.id >= q.before) continue;
      if (q.kind !== undefined && e.kind !== q.kind) continue;
      out.push({ ...e });
    }
    return out;
  }

  async deleteBefore(ts: number): Promise<number> {
    const before = this.#ring.length;
    const kept = this.#ring.filter((e) => e.ts >= ts);
    this.#ring.splice(0, this.#ring.length, ...kept);
    return before - kept.length;
  }
}

export type AuditEvent = Omit<AuditEntry, 'id' | 'ts'>;

export interface AuditLogOptions {
  /** Entries waiting for the store at most; more are dropped (and counted). */
  maxBuffered?: number;
  /** Told of every failed write (logged by the caller). */
  onError?: (err: unknown) => void;
}

const nextId = monotonicFactory();

/** Fire and forget: record() returns at once; a background drain writes batches to the store. */
export class AuditLog {
  readonly #store: AuditStore;
  readonly #max: number;
  readonly #onError: (err: unknown) => void;
  #buffer: AuditEntry[] = [];
  #draining: Promise<void> | null = null;
  dropped = 0;

  constructor(store: AuditStore, opts: AuditLogOptions = {}) {
    this.#store = store;
    this.#max = opts.maxBuffered ?? 1000;
    this.#onError = opts.onError ?? (() => undefined);
  }

  get store(): AuditStore {
    return this.#store;
  }

  record(event: AuditEvent): void {
    if (this.#buffer.length >= this.#max) {
      this.dropped++;
      return;
    }
    const ts = Date.now();
    this.#buffer.push({ ...event, id: nextId(ts), ts });
    this.#draining ??= this.#drain().finally(() => (this.#draining = null));
  }

  /** Resolves once everything recorded so far is written (or failed): tests, shutdown, and reads. */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // after the request's own work
    while (this.#buffer.length > 0) {
      const batch = this.#buffer;
      this.#buffer = [];
      try {
        await this.#store.append(batch);
      } catch (err) {
        this.#onError(err);
      }
    }
  }
}
