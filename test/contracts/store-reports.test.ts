// ReportStore contract: memory always, MongoDB when MONGODB_URL is set (a fresh database per file):
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MemoryReportStore } from '../../src/store/stores.js';
import type { ReportRecord, ReportStore } from '../../src/store/stores.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();

const report = (n: number, ownerId = 'u1', over: Partial<ReportRecord> = {}): ReportRecord => ({
  id: `01R${String(n).padStart(6, '0')}`,
  ownerId,
  channel: 'room:a',
  title: `Report ${n}`,
  from: 1_700_000_000_000,
  to: 1_700_003_600_000,
  createdAt: 1_700_004_000_000 + n,
  summary: {
    messages: 3,
    counts: { positive: 2, negative: 1 },
    score: n % 2 ? 0.25 : null,
    bucket_s: 60,
    buckets: [{ ts: 1_700_000_000_000, counts: { positive: 2, negative: 1 }, score: 0.25 }],
    most_negative: [{ id: 'm1', text: 'bad', score: -0.9 }],
    most_positive: [],
  },
  ...over,
});

const ids = (list: ReportRecord[]) => list.map((r) => r.id);

function contract(make: () => Promise<ReportStore>): void {
  it('stores and returns copies, summaries included, and refuses a taken id', async () => {
    const store = await make();
    const r = report(1);
    await store.create(r);
    await store.create(report(2));
    expect(await store.get(r.id)).toEqual(report(1));
    expect(await store.get(report(2).id)).toEqual(report(2));
    expect(await store.get('missing')).toBeNull();
    r.summary.counts.positive = 99;
    const got = (await store.get(r.id)) as ReportRecord;
    got.summary.buckets.push({ ts: 0, counts: {}, score: null });
    expect(await store.get(r.id)).toEqual(report(1));

    const err = await store.create(report(1, 'u2')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(409);
    expect((await store.get(r.id))?.ownerId).toBe('u1');
  });

  it("lists an owner's reports newest first and pages with `before`, without gaps or repeats", async () => {
    const store = await make();
    // Created out of id order, with another owner's reports between.
    for (const n of [3, 1, 7, 5, 2, 6, 4]) await store.create(report(n));
    for (const n of [8, 9]) await store.create(report(n, 'u2'));

    expect(ids(await store.listByOwner('u1', 100))).toEqual([7, 6, 5, 4, 3, 2, 1].map((n) => report(n).id));
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.listByOwner('u1', 3, before);
      if (page.length === 0) break;
      seen.push(...ids(page));
      before = page[page.length - 1]?.id;
    }
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1].map((n) => report(n).id));
    expect(ids(await store.listByOwner('u2', 100))).toEqual([report(9).id, report(8).id]);
    expect(await store.listByOwner('nobody', 100)).toEqual([]);
    expect(await store.listByOwner('u1', 0)).toEqual([]);
    expect((await store.listByOwner('u1', 1))[0]).toEqual(report(7));
  });

  it('deletes one report, and all of an owner', async () => {
    const store = await make();
    for (const n of [1, 2, 3]) await store.create(report(n));
    for (const n of [4, 5]) await store.create(report(n, 'u2'));
    expect(await store.delete(report(2).id)).toBe(true);
    expect(await store.delete(report(2).id)).toBe(false);
    expect(await store.get(report(2).id)).toBeNull();
    expect(await store.deleteByOwner('u1')).toBe(2);
    expect(await store.deleteByOwner('u1')).toBe(0);
    expect(await store.listByOwner('u1', 100)).toEqual([]);
    expect(ids(await store.listByOwner('u2', 100))).toEqual([report(5).id, report(4).id]);
    // A deleted id is free again.
    await store.create(report(2));
    expect(await store.get(report(2).id)).toEqual(report(2));
  });
}

describe('ReportStore contract: memory', () => contract(async () => new MemoryReportStore()));
describe.skipIf(!mongoUrl)('ReportStore contract: mongo', () => contract(async () => (await mongo.fresh()).reports));
