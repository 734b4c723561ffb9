// MomentStore contract: memory always, MongoDB when MONGODB_URL is set (a fresh database per file):
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-moments
// Every process that watches a channel stores the moments it detects, so inserting one id twice keeps one.
import { describe, expect, it } from 'vitest';
import { MemoryMomentStore, type MomentStore, type StoredMoment } from '../../src/store/moments.js';
import { MOMENTS_COLLECTION, MongoMomentStore } from '../../src/store/mongo-moments.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();
const T0 = 1_700_000_000_000;

const moment = (n: number, over: Partial<StoredMoment> = {}): StoredMoment => ({
  id: `hype:01M${String(n).padStart(23, '0')}`,
  channel: 'room:a',
  kind: n % 2 ? 'hype' : 'tilt',
  score: n % 2 ? 0.5 : -0.5,
  ts: T0 + n * 60_000,
  sample: [`line ${n}`, 'PogChamp'],
  ...over,
});

const all = { from: 0, to: Number.MAX_SAFE_INTEGER, limit: 500 };

function contract(make: () => Promise<MomentStore>): void {
  it('lists a channel’s moments newest first within [from, to), up to limit, as copies', async () => {
    const store = await make();
    for (const n of [3, 1, 2, 5, 4]) await store.insert(moment(n));
    await store.insert(moment(6, { channel: 'room:b' }));
    expect((await store.list('room:a', all)).map((m) => m.ts)).toEqual([5, 4, 3, 2, 1].map((n) => T0 + n * 60_000));
    expect(await store.list('room:a', { from: T0 + 2 * 60_000, to: T0 + 4 * 60_000, limit: 10 })).toEqual([moment(3), moment(2)]);
    expect(await store.list('room:a', { ...all, limit: 2 })).toEqual([moment(5), moment(4)]);
    expect(await store.list('room:b', all)).toEqual([moment(6, { channel: 'room:b' })]);
    expect(await store.list('room:none', all)).toEqual([]);
    const got = await store.list('room:a', { ...all, limit: 1 });
    got[0]?.sample.push('changed');
    expect(await store.list('room:a', { ...all, limit: 1 })).toEqual([moment(5)]);
  });

  it('keeps one of a moment stored twice (every watching process stores it)', async () => {
    const store = await make();
    await store.insert(moment(1));
    await store.insert(moment(1));
    await Promise.all([store.insert(moment(2)), store.insert(moment(2))]);
    expect(await store.list('room:a', all)).toEqual([moment(2), moment(1)]);
    // The same id on another channel is another moment.
    await store.insert(moment(1, { channel: 'room:b' }));
    expect(await store.list('room:b', all)).toHaveLength(1);
  });
}

describe('MomentStore contract: memory', () => contract(async () => new MemoryMomentStore()));
describe.skipIf(!mongoUrl)('MomentStore contract: mongo', () =>
  contract(async () => {
    const { db } = mongo.handle;
    await db.collection(MOMENTS_COLLECTION).deleteMany({});
    const store = new MongoMomentStore(db);
    await store.ensureIndexes(30);
    return store;
  }),
);

describe('MemoryMomentStore bounds', () => {
  it('keeps at most maxPerChannel per channel and drops those past retention behind the newest', async () => {
    const store = new MemoryMomentStore({ maxPerChannel: 3, retentionMs: 10 * 60_000 });
    for (const n of [1, 2, 3, 4, 5]) await store.insert(moment(n));
    expect((await store.list('room:a', all)).map((m) => m.ts)).toEqual([5, 4, 3].map((n) => T0 + n * 60_000));
    await store.insert(moment(15));
    expect((await store.list('room:a', all)).map((m) => m.ts)).toEqual([15, 5].map((n) => T0 + n * 60_000));
  });
});
