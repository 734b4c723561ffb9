// AuditStore contract: memory always, MongoDB when MONGODB_URL is set (a fresh database per file):
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-audit
import { describe, expect, it } from 'vitest';
import { AuditLog, MemoryAuditStore, type AuditEntry, type AuditStore } from '../../src/store/audit.js';
import { AUDIT_COLLECTION, MongoAuditStore } from '../../src/store/mongo-audit.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();

const entry = (n: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
  id: `01A${String(n).padStart(23, '0')}`,
  ts: 1_700_000_000_000 + n * 1000,
  kind: n % 2 ? 'login' : 'user.delete',
  actor: n % 3 ? `u${n}` : null,
  target: `t${n}`,
  outcome: 'success',
  ip: '10.0.0.1',
  request_id: `r${n}`,
  ...over,
});

function contract(make: () => Promise<AuditStore>): void {
  it('lists newest first, by kind, before a cursor', async () => {
    const store = await make();
    await store.append([1, 2, 3, 4, 5].map((n) => entry(n)));
    expect((await store.list({ limit: 10 })).map((e) => e.id)).toEqual([5, 4, 3, 2, 1].map((n) => entry(n).id));
    expect(await store.list({ limit: 1 })).toEqual([entry(5)]);
    expect((await store.list({ limit: 10, kind: 'login' })).map((e) => e.target)).toEqual(['t5', 't3', 't1']);
    expect((await store.list({ limit: 2, before: entry(4).id })).map((e) => e.target)).toEqual(['t3', 't2']);
  });

  it('deletes entries older than a time', async () => {
    const store = await make();
    await store.append([1, 2, 3].map((n) => entry(n)));
    expect(await store.deleteBefore(entry(3).ts)).toBe(2);
    expect(await store.list({ limit: 10 })).toEqual([entry(3)]);
    expect(await store.deleteBefore(0)).toBe(0);
  });
}

describe('MemoryAuditStore', () => {
  contract(async () => new MemoryAuditStore());

  it('keeps the newest entries up to its capacity', async () => {
    const store = new MemoryAuditStore(2);
    await store.append([1, 2, 3].map((n) => entry(n)));
    expect((await store.list({ limit: 10 })).map((e) => e.target)).toEqual(['t3', 't2']);
  });
});

describe('AuditLog', () => {
  it('never blocks the caller, drops past its bound, and survives a failing store', async () => {
    const store = new MemoryAuditStore();
    const log = new AuditLog(store, { maxBuffered: 2 });
    const event = { kind: 'login', actor: null, target: 'x', outcome: 'success' as const, ip: '::1', request_id: null };
    log.record(event);
    log.record(event);
    log.record(event);
    expect(log.dropped).toBe(1);
    await log.flush();
    expect(await store.list({ limit: 10 })).toHaveLength(2);
    const errors: unknown[] = [];
    const failing = new AuditLog(
      { append: () => Promise.reject(new Error('down')), list: (q) => store.list(q), deleteBefore: (ts) => store.deleteBefore(ts) },
      { onError: (e) => errors.push(e) },
    );
    failing.record(event);
    await failing.flush();
    expect(errors).toHaveLength(1);
  });
});

describe.skipIf(!mongoUrl)('MongoAuditStore', () => {
  contract(async () => {
    const { db } = mongo.handle;
    await db.collection(AUDIT_COLLECTION).deleteMany({});
    const store = new MongoAuditStore(db, 30);
    await store.ensureIndexes();
    return store;
  });

  it('expires entries with a TTL index of the retention, replaced when the retention changes', async () => {
    const { db } = mongo.handle;
    await new MongoAuditStore(db, 30).ensureIndexes();
    await new MongoAuditStore(db, 7).ensureIndexes();
    const ttl = (await db.collection(AUDIT_COLLECTION).indexes()).find((i) => i.name === 'audit_ttl');
    expect(ttl?.expireAfterSeconds).toBe(7 * 86_400);
  });
});
