// Ingest ownership and flow. Definitions (what to ingest) live in the store and survive restarts; every
// process scans them and tries to take a lease on each stream nobody owns, so exactly one process in the
// cluster holds a stream's connection. The owner renews on every scan and stops the moment it cannot
// (lease lost, or not renewed before it lapsed); a dead owner's lease lapses and the next scan elsewhere
// takes the stream over: within INGEST_LEASE_TTL_MS + INGEST_SCAN_MS.
//
// A stale owner is fenced locally: no event is published once the lease's expiry has passed by this
// process's clock (taken before the grant, so it errs early), which is what keeps two owners from
// delivering the same line while both are alive.
import { LRUCache } from 'lru-cache';
import { ulid } from 'ulid';
import type { Principal } from '../auth/index.js';
import type { ChannelHub } from '../channels/index.js';
import { AppError, forbidden, notFound } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { IngestRecord, IngestStore } from '../store/ports.js';
import type { IngestBoard, StreamCounters, StreamState } from './board.js';
import type { Lease, LeaseManager } from './lease.js';
import type { IngestConnection, IngestConnector, IngestEvent, IngestSourceName, IngestStatus } from './source.js';

export interface IngestManagerDeps {
  store: IngestStore;
  leases: LeaseManager;
  board: IngestBoard;
  connectors: ReadonlyMap<IngestSourceName, IngestConnector>;
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
}

export interface IngestView {
  id: string;
  source: IngestSourceName;
  channel: string;
  /** The ChatPulse channel its messages appear on. */
  ws_channel: string;
  status: IngestStatus;
  owner: string | null;
  created_by: string;
  created_at: string;
  since: string | null;
  counters: StreamCounters;
  viewers: number | null;
  likes: number | null;
  last_error: string | null;
}

interface Owned {
  rec: IngestRecord;
  lease: Lease;
  channel: string;
  conn: IngestConnection | null;
  state: StreamState;
  stopped: boolean;
  /** Platform message id -> ChatPulse id, for deletes. */
  ids: LRUCache<string, { id: string; userId: string }>;
}

const LEASE_PREFIX = 'ingest:';
const REMEMBERED_IDS = 2000;

const zero = (): StreamCounters => ({ messages: 0, dropped: 0, deletes: 0, members: 0, gifts: 0, reconnects: 0 });

export class IngestManager {
  private readonly owned = new Map<string, Owned>();
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private closed = false;
  private storeFailing = false;

  constructor(
    private readonly deps: IngestManagerDeps,
    private readonly options: IngestManagerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.scan(), this.options.scanMs);
    void this.scan();
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

  async create(principal: Principal, source: IngestSourceName, raw: string): Promise<{ view: IngestView; created: boolean }> {
    const connector = this.deps.connectors.get(source);
    if (!connector) throw new AppError(400, 'validation_failed', `unknown source "${source}"`);
    const channel = connector.normalize(raw);
    const existing = await this.deps.store.find(source, channel);
    if (existing) return { view: await this.view(existing), created: false };
    if ((await this.deps.store.list()).length >= this.options.maxStreams) {
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
    await this.scan(); // take it now rather than on the next tick
    return { view: await this.view(rec), created: true };
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
    if (rec.createdBy !== principal.userId && principal.role !== 'admin') throw forbidden('only the stream\'s creator or an admin may stop it');
    await this.deps.store.delete(id);
    const mine = this.owned.get(id);
    if (mine) await this.release(mine);
    await this.deps.board.remove(id);
  }

  /** Stops every owned stream and gives its lease up, so another process takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
    await Promise.all([...this.owned.values()].map((o) => this.release(o)));
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

  private async scanOnce(): Promise<void> {
    if (this.closed) return;
    let defs: IngestRecord[];
    try {
      defs = await this.deps.store.list();
      if (this.storeFailing) this.deps.log.info('ingest definitions readable again');
      this.storeFailing = false;
    } catch (err) {
      if (!this.storeFailing) this.deps.log.warn({ err: String(err) }, 'cannot read ingest definitions; owned streams keep running while their leases hold');
      this.storeFailing = true;
      defs = [...this.owned.values()].map((o) => o.rec);
    }
    const defined = new Set(defs.map((d) => d.id));
    for (const o of [...this.owned.values()]) {
      if (!defined.has(o.rec.id)) {
        await this.release(o);
        continue;
      }
      await this.renew(o);
    }
    for (const rec of defs) {
      if (this.closed || this.owned.size >= this.options.maxOwned) break;
      if (this.owned.has(rec.id) || !this.deps.connectors.has(rec.source)) continue;
      let lease: Lease | null;
      try {
        lease = await this.deps.leases.acquire(LEASE_PREFIX + rec.id, this.deps.ownerId, this.options.leaseTtlMs);
      } catch {
        return; // the lease backend is unreachable: nobody can take anything; try next scan
      }
      if (lease) this.take(rec, lease);
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
      await this.stop(o);
      return;
    }
    this.report(o);
  }

  private take(rec: IngestRecord, lease: Lease): void {
    const connector = this.deps.connectors.get(rec.source) as IngestConnector;
    const channel = `${rec.source}:${rec.channel}`;
    const o: Owned = {
      rec,
      lease,
      channel,
      conn: null,
      stopped: false,
      ids: new LRUCache({ max: REMEMBERED_IDS }),
      state: {
        status: 'connecting', owner: this.deps.ownerId, token: lease.token, since: Date.now(), counters: zero(),
        viewers: null, likes: null, lastError: null, updatedAt: Date.now(),
      },
    };
    this.owned.set(rec.id, o);
    this.deps.log.info({ stream: channel, token: lease.token }, 'ingest stream taken');
    o.conn = connector.connect(rec.channel, (e) => this.onEvent(o, e));
    this.report(o);
  }

  private onEvent(o: Owned, e: IngestEvent): void {
    if (o.stopped || Date.now() >= o.lease.expiresAt) return; // fenced: a successor may own it by now
    const { counters } = o.state;
    switch (e.kind) {
      case 'chat':
        this.deps.hub.ingest(o.rec.source, o.channel, e).then(
          (m) => {
            counters.messages++;
            o.ids.set(e.sourceId, { id: m.id, userId: e.user.id });
          },
          () => void counters.dropped++,
        );
        return;
      case 'delete': {
        const known = o.ids.get(e.sourceId);
        if (known) {
          o.ids.delete(e.sourceId);
          this.removeMessages(o, [known.id]);
        }
        return;
      }
      case 'clear': {
        const ids: string[] = [];
        for (const [sourceId, v] of o.ids.entries()) {
          if (e.userId !== undefined && v.userId !== e.userId) continue;
          ids.push(v.id);
          o.ids.delete(sourceId);
        }
        this.removeMessages(o, ids);
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
          frame: JSON.stringify({ type: 'gift', channel: o.channel, user: e.user, gift: e.gift, count: e.count, diamonds: e.diamonds, ts: Date.now() }),
        });
        return;
      case 'status':
        if (e.status === 'reconnecting' && o.state.status !== 'reconnecting') counters.reconnects++;
        o.state.status = e.status;
        if (e.error !== undefined) o.state.lastError = e.error;
        this.report(o);
        return;
    }
  }

  private removeMessages(o: Owned, ids: string[]): void {
    if (ids.length === 0) return;
    o.state.counters.deletes += ids.length;
    this.deps.hub.remove(o.channel, ids);
  }

  private report(o: Owned): void {
    if (o.stopped) return;
    o.state.updatedAt = Date.now();
    this.deps.board.put(o.rec.id, o.state, this.options.leaseTtlMs).catch(() => undefined); // readiness reports the backend
  }

  private async stop(o: Owned): Promise<void> {
    if (o.stopped) return;
    o.stopped = true;
    this.owned.delete(o.rec.id);
    try {
      await o.conn?.stop();
    } catch (err) {
      this.deps.log.warn({ stream: o.channel, err: String(err) }, 'ingest connection did not stop cleanly');
    }
  }

  private async release(o: Owned): Promise<void> {
    await this.stop(o);
    await this.deps.leases.release(o.lease).catch(() => undefined); // it lapses by itself otherwise
  }
}
