// IngestManager with fakes of its connector and hub over the memory lease manager, board and store (no
// server, no platform, no model): a stream runs only under a held lease, a lost lease fences its events
// and stops its connection, close() hands the stream to the next owner, and lines reach the hub in order.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Published } from '../src/channels/hub.js';
import { MemoryIngestBoard } from '../src/ingest/board.js';
import { MemoryLeaseManager, type Lease } from '../src/ingest/lease.js';
import { IngestManager, type IngestManagerDeps, type IngestManagerOptions } from '../src/ingest/manager.js';
import type { IngestConnection, IngestConnector, IngestEvent } from '../src/ingest/source.js';
import { MemoryIngestStore, type IngestRecord } from '../src/ingest/store.js';
import { createLogger } from '../src/observability/log.js';
import type { IngestedChat, SourceKind } from '../src/vocabulary.js';
import { chatLine } from './chat-line.js';

type Hub = IngestManagerDeps['hub'];
type Announced = Parameters<Hub['announce']>[0];

/** One connection the fake connector opened: the test emits through it. */
interface FakeConnection extends IngestConnection {
  channel: string;
  emit(event: IngestEvent): void;
  stopped: boolean;
}

class FakeConnector implements IngestConnector {
  readonly source: SourceKind = 'twitch';
  readonly connections: FakeConnection[] = [];

  normalize(channel: string): string {
    return channel.toLowerCase();
  }

  connect(channel: string, emit: (event: IngestEvent) => void): IngestConnection {
    const conn: FakeConnection = {
      channel,
      emit,
      stopped: false,
      stop: async () => {
        conn.stopped = true;
      },
    };
    this.connections.push(conn);
    return conn;
  }

  /** The n-th connection opened; fails the test if there is none. */
  opened(n: number): FakeConnection {
    const conn = this.connections[n];
    if (!conn) throw new Error(`no connection #${n} was opened`);
    return conn;
  }
}

interface Ingested {
  channel: string;
  chat: IngestedChat;
  stillOwner: (() => boolean) | undefined;
  publish(): void;
  refuse(): void;
}

/** Records what the manager hands the hub; each line is published (or refused) when the test says. */
class FakeHub implements Hub {
  readonly ingested: Ingested[] = [];
  readonly removed: Array<{ channel: string; ids: readonly string[] }> = [];
  readonly announced: Announced[] = [];
  private seq = 0;

  ingest(_source: SourceKind, channel: string, chat: IngestedChat, stillOwner?: () => boolean): Promise<Published> {
    return new Promise((resolve, reject) => {
      const id = `M${++this.seq}`;
      this.ingested.push({
        channel,
        chat,
        stillOwner,
        publish: () => resolve({ id, offset: this.seq, epoch: 'e', frame: '{}' }),
        refuse: () => reject(new Error('refused')),
      });
    });
  }

  remove(channel: string, ids: readonly string[]): void {
    this.removed.push({ channel, ids });
  }

  announce(event: Announced): void {
    this.announced.push(event);
  }

  /** The n-th line handed over; fails the test if there is none. */
  chatLine(n: number): Ingested {
    const got = this.ingested[n];
    if (!got) throw new Error(`no line #${n} was ingested`);
    return got;
  }

  texts(): string[] {
    return this.ingested.map((i) => i.chat.text);
  }
}

/** A lease manager whose renewals the test can make fail (the backend says the lease is gone). */
class RefusingLeases extends MemoryLeaseManager {
  refuseRenew = false;

  override async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    return this.refuseRenew ? false : super.renew(lease, ttlMs);
  }
}

const OPTIONS: IngestManagerOptions = {
  leaseTtlMs: 10_000,
  scanMs: 3_000,
  maxOwned: 10,
  maxStreams: 10,
  retryEndedMs: 1_000,
  retryErrorMs: 1_000,
  stopTimeoutMs: 500,
};

const REC: IngestRecord = { id: 'S1', source: 'twitch', channel: 'streamer', createdBy: 'u1', createdAt: 1 };
const LEASE = `ingest:${REC.id}`;
const CHANNEL = 'twitch:streamer';

/** One process's manager over state shared with the others of the test (store, leases, board). */
function manager(ownerId: string, shared: Pick<IngestManagerDeps, 'store' | 'leases' | 'board'>) {
  const connector = new FakeConnector();
  const hub = new FakeHub();
  const m = new IngestManager(
    { ...shared, connectors: new Map([['twitch', connector]]), hub, ownerId, log: createLogger('silent') },
    OPTIONS,
  );
  return { m, connector, hub };
}

async function sharedState(leases = new MemoryLeaseManager()) {
  const store = new MemoryIngestStore();
  await store.create(REC);
  return { store, leases, board: new MemoryIngestBoard() };
}

/** Lets every pending promise chain run (setImmediate is left real). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('IngestManager', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('starts a stream only once it holds the lease', async () => {
    const shared = await sharedState();
    const other = await shared.leases.acquire(LEASE, 'other:1', OPTIONS.leaseTtlMs);
    const a = manager('a:1', shared);

    await a.m.scan();
    expect(a.connector.connections).toEqual([]);
    expect(a.m.ownedCount).toBe(0);

    await shared.leases.release(other as Lease);
    await a.m.scan();
    expect(a.connector.connections.map((c) => c.channel)).toEqual(['streamer']);
    expect(a.m.ownedCount).toBe(1);
    expect((await shared.leases.current(LEASE))?.owner).toBe('a:1');
    expect((await shared.board.get([REC.id])).get(REC.id)).toMatchObject({ owner: 'a:1', status: 'connecting' });
    await a.m.close();
  });

  it('hands the hub the lines of one connection in the order they were emitted', async () => {
    const a = manager('a:1', await sharedState());
    await a.m.scan();
    const conn = a.connector.opened(0);
    for (const t of ['one', 'two', 'three', 'four']) conn.emit(chatLine(t));
    expect(a.hub.texts()).toEqual(['one', 'two', 'three', 'four']);
    expect(a.hub.ingested.every((i) => i.channel === CHANNEL && i.stillOwner?.() === true)).toBe(true);
    await a.m.close();
  });

  it('fences a stream whose renewal fails: no more lines, the earlier ones refused, the connection stopped', async () => {
    const leases = new RefusingLeases();
    const a = manager('a:1', await sharedState(leases));
    await a.m.scan();
    const conn = a.connector.opened(0);
    conn.emit(chatLine('before'));
    const before = a.hub.chatLine(0);
    expect(before.stillOwner?.()).toBe(true);

    leases.refuseRenew = true;
    await a.m.scan();
    await settle();

    // The line still being classified must not be published now, nor anything emitted since.
    expect(before.stillOwner?.()).toBe(false);
    conn.emit(chatLine('after'));
    expect(a.hub.texts()).toEqual(['before']);
    expect(conn.stopped).toBe(true);
    expect(a.m.ownedCount).toBe(0);
  });

  it('fences a stream whose lease lapsed by the clock before any scan noticed, and lets the successor take it', async () => {
    const shared = await sharedState();
    const a = manager('a:1', shared);
    const b = manager('b:1', shared);
    await a.m.scan();
    const conn = a.connector.opened(0);
    conn.emit(chatLine('before'));
    const before = a.hub.chatLine(0);

    // A stalls past its lease: no scan of its own runs meanwhile.
    vi.setSystemTime(Date.now() + OPTIONS.leaseTtlMs + 1);
    expect(before.stillOwner?.()).toBe(false);
    conn.emit(chatLine('stale'));
    expect(a.hub.texts()).toEqual(['before']);

    await b.m.scan();
    expect(b.connector.connections).toHaveLength(1);
    expect((await shared.leases.current(LEASE))?.owner).toBe('b:1');
    b.connector.opened(0).emit(chatLine('successor'));
    expect(b.hub.texts()).toEqual(['successor']);

    // A's next scan finds its renewal refused and stops its copy without touching B's lease.
    await a.m.scan();
    await settle();
    expect(conn.stopped).toBe(true);
    expect(a.m.ownedCount).toBe(0);
    expect((await shared.leases.current(LEASE))?.owner).toBe('b:1');
    await b.m.close();
  });

  it('on close stops the connection and releases the lease, and another process takes over at once', async () => {
    const shared = await sharedState();
    const a = manager('a:1', shared);
    const b = manager('b:1', shared);
    await a.m.scan();
    await b.m.scan();
    expect(b.connector.connections).toEqual([]); // A holds it

    const conn = a.connector.opened(0);
    await a.m.close();
    expect(conn.stopped).toBe(true);
    expect(await shared.leases.current(LEASE)).toBeNull();
    conn.emit(chatLine('after close'));
    expect(a.hub.ingested).toEqual([]);

    await b.m.scan();
    expect(b.connector.connections).toHaveLength(1);
    const lease = await shared.leases.current(LEASE);
    expect(lease).toMatchObject({ owner: 'b:1', token: 2 });
    // The board now reports B (A's entry is not removed on close; B's report replaces it).
    expect((await shared.board.get([REC.id])).get(REC.id)).toMatchObject({ owner: 'b:1', token: 2 });
    await b.m.close();
    expect(await shared.leases.current(LEASE)).toBeNull();
  });

  it('removes a deleted line from the hub once it is published, and not one that never was', async () => {
    const a = manager('a:1', await sharedState());
    await a.m.scan();
    const conn = a.connector.opened(0);
    conn.emit(chatLine('kept', 'src-1'));
    conn.emit(chatLine('dropped', 'src-2'));
    conn.emit({ kind: 'delete', sourceId: 'src-1' });
    conn.emit({ kind: 'delete', sourceId: 'src-2' });
    await settle();
    expect(a.hub.removed).toEqual([]); // still being classified

    a.hub.chatLine(0).publish();
    a.hub.chatLine(1).refuse();
    await settle();
    expect(a.hub.removed).toEqual([{ channel: CHANNEL, ids: ['M1'] }]);
    await a.m.close();
  });

  it('ignores a retired connection after `ended` and starts a new one after the cooldown', async () => {
    const a = manager('a:1', await sharedState());
    await a.m.scan();
    const first = a.connector.opened(0);
    first.emit({ kind: 'status', status: 'ended' });
    await settle();
    expect(first.stopped).toBe(true);
    first.emit(chatLine('late'));
    expect(a.hub.ingested).toEqual([]);

    await vi.advanceTimersByTimeAsync(OPTIONS.retryEndedMs);
    expect(a.connector.connections).toHaveLength(2);
    a.connector.opened(1).emit(chatLine('fresh'));
    expect(a.hub.texts()).toEqual(['fresh']);
    await a.m.close();
  });
  it('announces `closed` from the owner only, once per stop: ended, error, deleted; not on a hand-over', async () => {
    const shared = await sharedState();
    const a = manager('a:1', shared);
    const b = manager('b:1', shared);
    await a.m.scan();
    await b.m.scan();
    const closed = (hub: FakeHub) => hub.announced.filter((e) => e.kind === 'closed');
    const first = a.connector.opened(0);
    first.emit({ kind: 'status', status: 'live' });
    first.emit({ kind: 'status', status: 'ended' });
    first.emit({ kind: 'status', status: 'ended' });
    expect(closed(a.hub)).toEqual([{ kind: 'closed', channel: CHANNEL, reason: 'ended' }]);

    // Restarted, still not live, ends again: the same stop, not announced twice.
    await vi.advanceTimersByTimeAsync(OPTIONS.retryEndedMs);
    a.connector.opened(1).emit({ kind: 'status', status: 'error', error: 'refused' });
    expect(closed(a.hub)).toHaveLength(1);
    // Live again, then it fails: a new stop.
    await vi.advanceTimersByTimeAsync(OPTIONS.retryErrorMs);
    const third = a.connector.opened(2);
    third.emit({ kind: 'status', status: 'live' });
    third.emit({ kind: 'status', status: 'error', error: 'gone' });
    expect(closed(a.hub).map((e) => e.reason)).toEqual(['ended', 'error']);

    // Deleted while down (announced already): no third notice; deleted while live: `deleted`.
    await vi.advanceTimersByTimeAsync(OPTIONS.retryErrorMs * 2);
    a.connector.opened(3).emit({ kind: 'status', status: 'live' });
    await shared.store.delete(REC.id); // elsewhere: the owner notices at its scan
    await b.m.scan();
    await a.m.scan();
    await a.m.scan();
    expect(closed(a.hub).map((e) => e.reason)).toEqual(['ended', 'error', 'deleted']);
    expect(closed(b.hub)).toEqual([]);
    await a.m.close();
    await b.m.close();
  });

  it('announces nothing when the owner closes (the stream is handed over)', async () => {
    const a = manager('a:1', await sharedState());
    await a.m.scan();
    a.connector.opened(0).emit({ kind: 'status', status: 'live' });
    await a.m.close();
    expect(a.hub.announced.filter((e) => e.kind === 'closed')).toEqual([]);
  });
});
