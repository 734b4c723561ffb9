// Ingest ownership and flow. Definitions (what to ingest) live in the store and survive restarts; every
// process scans them and tries to take a lease on each stream nobody owns, so exactly one process in the
// cluster holds a stream's connection. The owner renews on every scan and stops the moment it cannot
// (lease lost, or not renewed before it lapsed); a dead owner's lease lapses and the next scan elsewhere
// takes the stream over: within INGEST_LEASE_TTL_MS + INGEST_SCAN_MS.
//
// A stale owner is fenced locally: no event is published once the lease's expiry has passed by this
// process's clock (taken before the grant, so it errs early), checked again for each chat line right before
// it is published (it waits for inference meanwhile), which is what keeps two owners from delivering the
// same line while both are alive.
//
// A connection that ends (`ended`: e.g. the TikTok user is not live yet) or gives up (`error`) is closed and
// started again after a cooldown, the lease kept meanwhile; its status and last error stay visible until
// the new connection is live. Its subscribers get a `closed` notice (reason `ended`/`error`) when it goes down,
// and one (`deleted`) when its definition is deleted, from the owner only, once per stop. Connections are stopped off the scan path with a time bound, so a socket that
// hangs while closing delays no renewal.
import { LRUCache } from 'lru-cache';
import { ulid } from '../ids.js';
import type { Principal } from '../auth/index.js';
import type { ChannelHub } from '../channels/index.js';
import { frames, type IngestView } from '../contract/index.js';
import { AppError, forbidden, notFound } from '../errors.js';
import { KeyedSerializer } from '../limits/index.js';
import type { Logger } from '../observability/log.js';
import type { IngestRecord, IngestStore } from './store.js';
import type { IngestBoard, StreamCounters, StreamState } from './board.js';
import type { Lease, LeaseManager } from './lease.js';
import type { IngestConnection, IngestConnector, IngestEvent, SourceKind } from './source.js';

export interface IngestManagerDeps {
  store: IngestStore;
  leases: LeaseManager;
  board: IngestBoard;
  connectors: ReadonlyMap<SourceKind, IngestConnector>;
  hub: Pick<ChannelHub, 'ingest' | 'remove' | 'announce'>;
  /** `<host>:<pid>`. */
  ownerId: string;
  log: Logger;
}

export interface IngestManagerOptions {
  leaseTtlMs: number;
  scanMs: number;
  /** Streams one process owns at most (the rest are left to others). */
  maxOwned: number;
  /** Streams defined cluster-wide at most. */
  maxStreams: number;
  /** Streams one user may have defined at once (admins: maxStreams only). Default maxStreams. */
  maxStreamsPerUser?: number;
  /** Cooldown before a connection that reported `ended` is started again. */
  retryEndedMs: number;
  /** Cooldown after `error`, doubled per consecutive error (jittered; capped at 10 min, or at this if longer). */
  retryErrorMs: number;
  /** How long a connection may take to stop before it is abandoned. Default 5000. */
  stopTimeoutMs?: number;
}

/** A stream as REST shows it: the contract's reply. */
export type { IngestView };

interface Owned {
  rec: IngestRecord;
  lease: Lease;
  channel: string;
  conn: IngestConnection | null;
  /** Bumped per connection started or retired: a retired connection's late events are ignored. */
  generation: number;
  state: StreamState;
  stopped: boolean;
  /** From `ended`/`error` until a new connection is live: that one's connecting/reconnecting is not shown. */
  down: boolean;
  /** A `closed` notice went out for the current stop (reset when the stream is live again). */
  announced: boolean;
  /** `error`s since the stream was last live (the restart backoff). */
  errors: number;
  restartTimer: NodeJS.Timeout | null;
  /**
   * Platform message id -> its ChatPulse id once published (null if it never is). Remembered when the line
   * arrives, not when it is published: a delete may come while the line is still being classified.
   */
  ids: LRUCache<string, { id: Promise<string | null>; userId: string }>;
}

const LEASE_PREFIX = 'ingest:';
const REMEMBERED_IDS = 2000;
const RETRY_ERROR_CAP_MS = 10 * 60_000;

const zero = (): StreamCounters => ({ messages: 0, dropped: 0, deletes: 0, members: 0, gifts: 0, reconnects: 0 });

export class IngestManager {
  private readonly owned = new Map<string, Owned>();
  private readonly creates = new KeyedSerializer();
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  /** Connections being stopped (and leases released after them): close() waits for these. */
  private readonly stopping = new Set<Promise<void>>();
  private closed = false;
  private storeFailing = false;

  constructor(
    private readonly deps: IngestManagerDeps,
    private readonly options: IngestManagerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.scanLogged(), this.options.scanMs);
    void this.scanLogged();
  }

  /** A scan whose failure is logged: a rejection left unhandled would end the process. */
  private scanLogged(): Promise<void> {
    return this.scan().catch((err: unknown) => this.deps.log.error({ err: String(err) }, 'ingest scan failed'));
  }

  /** Owned streams by status (metrics). */
  statusCounts(): Record<string, number> {
    const out: Record<string, number> = { connecting: 0, live: 0, reconnecting: 0, ended: 0, error: 0 };
    for (const o of this.owned.values()) out[o.state.status] = (out[o.state.status] ?? 0) + 1;
    return out;
  }

  /** How many streams this process owns now (metrics, tests). */
  get ownedCount(): number {
    return this.owned.size;
  }

  async create(principal: Principal, source: SourceKind, raw: string): Promise<{ view: IngestView; created: boolean }> {
    const connector = this.deps.connectors.get(source);
    if (!connector) throw new AppError(400, 'validation_failed', `unknown source "${source}"`);
    const channel = connector.normalize(raw);
    // Counted, then created, one create per user at a time in this process (see KeyedSerializer).
    return this.creates.run(principal.userId, () => this.createCounted(principal, source, channel));
  }

  private async createCounted(principal: Principal, source: SourceKind, channel: string): Promise<{ view: IngestView; created: boolean }> {
    const existing = await this.deps.store.find(source, channel);
    if (existing) return { view: await this.view(existing), created: false };
    const all = await this.deps.store.list();
    const perUser = this.options.maxStreamsPerUser ?? this.options.maxStreams;
    // A stream counts against its creator for as long as it is defined (deleting it frees the slot).
    if (principal.role !== 'admin' && all.filter((r) => r.createdBy === principal.userId).length >= perUser) {
      throw new AppError(409, 'quota_exceeded', `you may ingest at most ${perUser} streams at once (INGEST_MAX_STREAMS_PER_USER)`);
    }
    if (all.length >= this.options.maxStreams) {
      throw new AppError(409, 'limit_reached', `at most ${this.options.maxStreams} streams may be ingested at once`);
    }
    const rec: IngestRecord = { id: ulid(), source, channel, createdBy: principal.userId, createdAt: Date.now() };
    try {
      await this.deps.store.create(rec);
    } catch (err) {
      // Created concurrently (another request or process): answer with that one.
      const raced = err instanceof AppError && err.status === 409 ? await this.deps.store.find(source, channel) : null;
      if (raced) return { view: await this.view(raced), created: false };
      throw err;
    }
    await this.scanLogged(); // take it now rather than on the next tick (which retries if this one failed)
    return { view: await this.view(rec), created: true };
  }

  /** Whether `<source>:<channel>` is defined and has an owner's live report (what likes require). */
  async isLive(source: string, channel: string): Promise<boolean> {
    if (!this.deps.connectors.has(source as SourceKind)) return false;
    const rec = await this.deps.store.find(source as SourceKind, channel);
    if (!rec) return false;
    if (this.owned.has(rec.id)) return true;
    return (await this.deps.board.get([rec.id])).has(rec.id);
  }

  async list(): Promise<IngestView[]> {
    const recs = await this.deps.store.list();
    const states = await this.deps.board.get(recs.map((r) => r.id));
    return recs.map((r) => this.render(r, this.owned.get(r.id)?.state ?? states.get(r.id) ?? null));
  }

  async get(id: string): Promise<IngestView> {
    const rec = await this.deps.store.get(id);
    if (!rec) throw notFound(`no ingest stream "${id}"`);
    return this.view(rec);
  }

  /** Only its creator or an admin; the owner (wherever it is) stops at its next scan, this process at once. */
  async remove(principal: Principal, id: string): Promise<void> {
    const rec = await this.deps.store.get(id);
    if (!rec) throw notFound(`no ingest stream "${id}"`);
    if (rec.createdBy !== principal.userId && principal.role !== 'admin')
      throw forbidden("only the stream's creator or an admin may stop it");
    await this.drop(id);
  }

  /** Removes every stream whose status is `ended` or `error` (admin); returns how many. */
  async cleanup(): Promise<number> {
    const done = (await this.list()).filter((v) => v.status === 'ended' || v.status === 'error');
    let deleted = 0;
    for (const v of done) {
      // Read again: one that came back meanwhile, or was removed already, stays as it is.
      const local = this.owned.get(v.id)?.state.status;
      if (local !== undefined && local !== 'ended' && local !== 'error') continue;
      if (await this.drop(v.id)) deleted++;
    }
    return deleted;
  }

  /** Deletes the definition; the owner (this process at once, another at its next scan) stops and announces it. */
  private async drop(id: string): Promise<boolean> {
    const existed = await this.deps.store.delete(id);
    const mine = this.owned.get(id);
    if (mine) void this.stop(mine, true, 'deleted'); // not awaited: a socket slow to close holds up no request
    await this.deps.board.remove(id);
    return existed;
  }

  /** Stops every owned stream and gives its lease up, so another process takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
    for (const o of [...this.owned.values()]) void this.stop(o, true);
    await Promise.all([...this.stopping]);
  }

  private async view(rec: IngestRecord): Promise<IngestView> {
    const local = this.owned.get(rec.id);
    const state = local ? local.state : ((await this.deps.board.get([rec.id])).get(rec.id) ?? null);
    return this.render(rec, state);
  }

  private render(rec: IngestRecord, state: StreamState | null): IngestView {
    return {
      id: rec.id,
      source: rec.source,
      channel: rec.channel,
      ws_channel: `${rec.source}:${rec.channel}`,
      // No owner's report: waiting for a process to take it (or for the dead owner's lease to lapse).
      status: state?.status ?? 'connecting',
      owner: state?.owner ?? null,
      created_by: rec.createdBy,
      created_at: new Date(rec.createdAt).toISOString(),
      since: state ? new Date(state.since).toISOString() : null,
      counters: state?.counters ?? zero(),
      viewers: state?.viewers ?? null,
      likes: state?.likes ?? null,
      last_error: state?.lastError ?? null,
    };
  }

  /** One pass: renew or drop what this process owns, then try to take what nobody owns. Never overlaps itself. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  /** `closed` as read after an await: close() may have run meanwhile, which TypeScript's narrowing does not see. */
  private isClosed(): boolean {
    return this.closed;
  }

  private async scanOnce(): Promise<void> {
    if (this.closed) return;
    let defs: IngestRecord[];
    try {
      defs = await this.deps.store.list();
      if (this.storeFailing) this.deps.log.info('ingest definitions readable again');
      this.storeFailing = false;
    } catch (err) {
      if (!this.storeFailing)
        this.deps.log.warn({ err: String(err) }, 'cannot read ingest definitions; owned streams keep running while their leases hold');
      this.storeFailing = true;
      defs = [...this.owned.values()].map((o) => o.rec);
    }
    const defined = new Set(defs.map((d) => d.id));
    const renewals: Promise<void>[] = [];
    for (const o of [...this.owned.values()]) {
      // Deleted elsewhere. Stopped off this path, like a lost lease: a slow close must not let other leases lapse.
      if (!defined.has(o.rec.id)) void this.stop(o, true, 'deleted');
      else renewals.push(this.renew(o));
    }
    await Promise.allSettled(renewals);
    for (const rec of defs) {
      if (this.isClosed() || this.owned.size >= this.options.maxOwned) break;
      if (this.owned.has(rec.id) || !this.deps.connectors.has(rec.source)) continue;
      let lease: Lease | null;
      let current: IngestRecord | null;
      try {
        lease = await this.deps.leases.acquire(LEASE_PREFIX + rec.id, this.deps.ownerId, this.options.leaseTtlMs);
        if (!lease) continue;
        // Deleted since the list was read (and its lease released by then): taking it would revive it for a scan.
        current = await this.deps.store.get(rec.id).catch(() => null);
      } catch {
        return; // the lease backend is unreachable: nobody can take anything; try next scan
      }
      if (current && !this.isClosed()) this.take(rec, lease);
      else await this.deps.leases.release(lease).catch(() => undefined);
    }
  }

  private async renew(o: Owned): Promise<void> {
    let held: boolean;
    try {
      held = await this.deps.leases.renew(o.lease, this.options.leaseTtlMs);
    } catch {
      held = Date.now() < o.lease.expiresAt; // cannot tell: keep going only while the lease surely holds
    }
    if (!held) {
      this.deps.log.warn({ stream: o.channel, owner: this.deps.ownerId }, 'ingest lease lost; stopping this copy of the stream');
      void this.stop(o, false);
      return;
    }
    this.report(o);
  }

  private take(rec: IngestRecord, lease: Lease): void {
    const channel = `${rec.source}:${rec.channel}`;
    const o: Owned = {
      rec,
      lease,
      channel,
      conn: null,
      generation: 0,
      stopped: false,
      down: false,
      announced: false,
      errors: 0,
      restartTimer: null,
      ids: new LRUCache({ max: REMEMBERED_IDS }),
      state: {
        status: 'connecting',
        owner: this.deps.ownerId,
        token: lease.token,
        since: Date.now(),
        counters: zero(),
        viewers: null,
        likes: null,
        lastError: null,
        updatedAt: Date.now(),
      },
    };
    this.owned.set(rec.id, o);
    // Not `token`: the logger redacts fields of that name.
    this.deps.log.info({ stream: channel, fence: lease.token }, 'ingest stream taken');
    this.connect(o);
    this.report(o);
  }

  private connect(o: Owned): void {
    const connector = this.deps.connectors.get(o.rec.source) as IngestConnector;
    const generation = ++o.generation;
    let conn: IngestConnection;
    try {
      conn = connector.connect(o.rec.channel, (e) => {
        if (o.generation === generation) this.onEvent(o, e);
      });
    } catch (err) {
      // E.g. a stored channel name this version no longer accepts: shown, and retried like any error.
      const error = err instanceof Error ? err.message : String(err);
      this.deps.log.warn({ stream: o.channel, err: error }, 'ingest connection could not start');
      this.onEvent(o, { kind: 'status', status: 'error', error });
      return;
    }
    // Already ended or given up while starting (the events above), or stopped: this one is nobody's.
    if (o.generation !== generation || o.stopped) void this.track(this.stopConnection(o.channel, conn));
    else o.conn = conn;
  }

  /** After `ended` or `error`: closes the connection now and starts a new one after the cooldown. */
  private restartLater(o: Owned, status: 'ended' | 'error'): void {
    if (o.stopped || o.restartTimer) return;
    this.retire(o);
    // Once per stop: a stream that never came back since its last announcement is not announced again.
    if (!o.announced) this.deps.hub.announce({ kind: 'closed', channel: o.channel, reason: status });
    o.announced = true;
    let delayMs = this.options.retryEndedMs;
    if (status === 'error') {
      const ceiling = Math.min(Math.max(RETRY_ERROR_CAP_MS, this.options.retryErrorMs), this.options.retryErrorMs * 2 ** o.errors++);
      delayMs = ceiling / 2 + Math.random() * (ceiling / 2); // streams failed by one outage do not all come back at once
    }
    this.deps.log.info({ stream: o.channel, status, delayMs: Math.round(delayMs) }, 'ingest connection closed; starting it again later');
    o.restartTimer = setTimeout(() => {
      o.restartTimer = null;
      if (!o.stopped && !this.closed) this.connect(o);
    }, delayMs);
  }

  private retire(o: Owned): void {
    o.generation++;
    const conn = o.conn;
    o.conn = null;
    if (conn) void this.track(this.stopConnection(o.channel, conn));
  }

  private holds(o: Owned): boolean {
    return !o.stopped && Date.now() < o.lease.expiresAt;
  }

  private onEvent(o: Owned, e: IngestEvent): void {
    if (!this.holds(o)) return; // fenced: a successor may own it by now
    const { counters } = o.state;
    switch (e.kind) {
      case 'chat': {
        const published = this.deps.hub
          .ingest(o.rec.source, o.channel, e, () => this.holds(o))
          .then(
            (m) => {
              counters.messages++;
              return m.id;
            },
            () => {
              counters.dropped++;
              return null;
            },
          );
        o.ids.set(e.sourceId, { id: published, userId: e.user.id });
        return;
      }
      case 'delete': {
        const known = o.ids.get(e.sourceId);
        if (known) {
          o.ids.delete(e.sourceId);
          this.removeWhenPublished(o, [known.id]);
        }
        return;
      }
      case 'clear': {
        const matched = [...o.ids.entries()].filter(([, v]) => e.userId === undefined || v.userId === e.userId);
        for (const [sourceId] of matched) o.ids.delete(sourceId);
        this.removeWhenPublished(
          o,
          matched.map(([, v]) => v.id),
        );
        return;
      }
      case 'likes':
        o.state.likes = e.total;
        this.deps.hub.announce({ kind: 'likes', channel: o.channel, total: e.total });
        return;
      case 'viewers':
        o.state.viewers = e.count;
        this.deps.hub.announce({ kind: 'external', channel: o.channel, viewers: e.count });
        return;
      case 'member':
        counters.members++;
        return;
      case 'gift':
        counters.gifts++;
        this.deps.hub.announce({
          kind: 'frame',
          channel: o.channel,
          frame: frames.gift({ channel: o.channel, user: e.user, gift: e.gift, count: e.count, diamonds: e.diamonds, ts: Date.now() }),
        });
        return;
      case 'status':
        if (o.down && (e.status === 'connecting' || e.status === 'reconnecting')) return; // a restart's attempts
        if (e.status === 'reconnecting' && o.state.status !== 'reconnecting') counters.reconnects++;
        o.state.status = e.status;
        if (e.error !== undefined) o.state.lastError = e.error;
        if (e.status === 'live') {
          o.down = false;
          o.announced = false;
          o.errors = 0;
        } else if (e.status === 'ended' || e.status === 'error') {
          o.down = true;
          this.report(o); // before the announcement: a cleanup prompted by it sees the status
          this.restartLater(o, e.status);
          return;
        }
        this.report(o);
        return;
    }
  }

  private removeWhenPublished(o: Owned, pending: Array<Promise<string | null>>): void {
    if (pending.length === 0) return;
    void Promise.all(pending).then((ids) => {
      const published = ids.filter((id): id is string => id !== null);
      if (published.length === 0) return;
      o.state.counters.deletes += published.length;
      this.deps.hub.remove(o.channel, published);
    });
  }

  private report(o: Owned): void {
    if (o.stopped) return;
    o.state.updatedAt = Date.now();
    this.deps.board.put(o.rec.id, o.state, this.options.leaseTtlMs).catch(() => undefined); // readiness reports the backend
  }

  /**
   * Drops the stream here at once and stops its connection in the background (tracked for close()), then,
   * with `release`, gives the lease up: after the connection is closed, so that a successor's never overlaps it.
   */
  private stop(o: Owned, release: boolean, reason?: 'deleted'): Promise<void> {
    if (o.stopped) return Promise.resolve();
    o.stopped = true;
    // Only a deletion ends the stream for its subscribers (a lost lease or a shutdown hands it over), and a
    // stream already announced as ended or failed is not announced twice.
    if (reason && !o.announced) this.deps.hub.announce({ kind: 'closed', channel: o.channel, reason });
    o.announced = true;
    this.owned.delete(o.rec.id);
    if (o.restartTimer) clearTimeout(o.restartTimer);
    o.restartTimer = null;
    o.generation++;
    const conn = o.conn;
    o.conn = null;
    return this.track(
      (async () => {
        if (conn) await this.stopConnection(o.channel, conn);
        if (release) await this.deps.leases.release(o.lease).catch(() => undefined); // it lapses by itself otherwise
      })(),
    );
  }

  /** Never rejects, and gives up waiting after stopTimeoutMs (a socket whose close is never answered). */
  private async stopConnection(stream: string, conn: IngestConnection): Promise<void> {
    const timeoutMs = this.options.stopTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const outcome = await Promise.race([conn.stop().then(() => 'stopped' as const), timedOut]);
      if (outcome === 'timeout') this.deps.log.warn({ stream, timeoutMs }, 'ingest connection did not stop in time; abandoned');
    } catch (err) {
      this.deps.log.warn({ stream, err: String(err) }, 'ingest connection did not stop cleanly');
    } finally {
      clearTimeout(timer);
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.stopping.add(p);
    const done = () => void this.stopping.delete(p);
    p.then(done, done);
    return p;
  }
}
