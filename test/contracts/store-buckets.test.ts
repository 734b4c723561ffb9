// BucketStore contract: memory always, MongoDB when MONGODB_URL is set (a fresh database per file):
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-
import { describe, expect, it } from 'vitest';
import { MemoryBucketStore } from '../../src/store/stores.js';
import { BUCKET_MS, type Bucket, type BucketIncrement, type BucketStore } from '../../src/store/stores.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % BUCKET_MS);
const at = (minute: number) => T0 + minute * BUCKET_MS;

const inc = (channel: string, minute: number, counts: Record<string, number>, polaritySum = 0): BucketIncrement => ({
  channel,
  start: at(minute),
  counts,
  polaritySum,
});

/** Polarity sums are floats: compared to 9 places, the rest exactly. */
function expectBuckets(got: Bucket[], want: Bucket[]): void {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- `_p` is bound only to leave polaritySum out of `rest`
  expect(got.map(({ polaritySum: _p, ...rest }) => rest)).toEqual(want.map(({ polaritySum: _p, ...rest }) => rest));
  got.forEach((b, i) => expect(b.polaritySum).toBeCloseTo((want[i] as Bucket).polaritySum, 9));
}

function contract(make: () => Promise<BucketStore>): void {
  it('adds increments into per-channel buckets, one label map per bucket', async () => {
    const store = await make();
    await store.apply('b1', [
      inc('a', 0, { positive: 2, negative: 1 }, 0.9),
      inc('a', 1, { neutral: 1 }, 0.1),
      inc('b', 0, { positive: 1 }, 0.5),
    ]);
    await store.apply('b2', [inc('a', 0, { positive: 1, neutral: 4 }, -0.4)]);
    expectBuckets(await store.range('a', at(0), at(10)), [
      { start: at(0), counts: { positive: 3, negative: 1, neutral: 4 }, polaritySum: 0.5 },
      { start: at(1), counts: { neutral: 1 }, polaritySum: 0.1 },
    ]);
    expectBuckets(await store.range('b', at(0), at(10)), [{ start: at(0), counts: { positive: 1 }, polaritySum: 0.5 }]);
  });

  it('counts a batch once per bucket: a replay adds nothing, a replay with new buckets adds only those', async () => {
    const store = await make();
    const batch = [inc('a', 0, { positive: 2 }, 1.5), inc('a', 1, { negative: 1 }, -0.9)];
    await store.apply('b1', batch);
    await store.apply('b1', batch);
    await Promise.all([store.apply('b1', batch), store.apply('b1', batch)]);
    expectBuckets(await store.range('a', at(0), at(2)), [
      { start: at(0), counts: { positive: 2 }, polaritySum: 1.5 },
      { start: at(1), counts: { negative: 1 }, polaritySum: -0.9 },
    ]);

    // The lost answer may have come after only part of the batch was written.
    await store.apply('b1', [...batch, inc('a', 2, { neutral: 3 }, 0)]);
    // Another batch with the same content is other messages: it adds.
    await store.apply('b2', batch);
    expectBuckets(await store.range('a', at(0), at(3)), [
      { start: at(0), counts: { positive: 4 }, polaritySum: 3 },
      { start: at(1), counts: { negative: 2 }, polaritySum: -1.8 },
      { start: at(2), counts: { neutral: 3 }, polaritySum: 0 },
    ]);
  });

  it('counts every batch when many create one new bucket at once (and their replays once)', async () => {
    const store = await make();
    const batches = Array.from({ length: 8 }, (_, i) => `c${i}`);
    await Promise.all(batches.map((id) => store.apply(id, [inc('a', 0, { positive: 1 }, 0.5), inc('a', 1, { negative: 1 })])));
    await Promise.all(batches.map((id) => store.apply(id, [inc('a', 0, { positive: 1 }, 0.5), inc('a', 1, { negative: 1 })])));
    expectBuckets(await store.range('a', at(0), at(2)), [
      { start: at(0), counts: { positive: 8 }, polaritySum: 4 },
      { start: at(1), counts: { negative: 8 }, polaritySum: 0 },
    ]);
  });

  it('sums increments of one bucket within one batch, and counts them once on replay', async () => {
    const store = await make();
    const batch = [inc('a', 0, { positive: 1 }, 0.5), inc('a', 0, { positive: 2, negative: 1 }, 0.25), inc('a', 0, { neutral: 1 })];
    await store.apply('b1', batch);
    await store.apply('b1', batch);
    expectBuckets(await store.range('a', at(0), at(1)), [
      { start: at(0), counts: { positive: 3, negative: 1, neutral: 1 }, polaritySum: 0.75 },
    ]);
    await store.apply('empty', []);
  });

  it('refuses a replay however late and however many other writers hit the bucket meanwhile', async () => {
    const store = await make();
    const mine = [inc('a', 0, { positive: 1 }, 0.5)];
    await store.apply('w0:1', mine);
    // More writers on the same channel-minute than the 200 batch ids older versions remembered.
    for (let i = 1; i <= 250; i++) await store.apply(`w${i}:${i}`, [inc('a', 0, { negative: 1 })]);
    await store.apply('w0:1', mine); // the replay of a write whose answer was lost
    expect((await store.range('a', at(0), at(1)))[0]?.counts).toEqual({ positive: 1, negative: 250 });
    // A writer's batches come in seq order: its next one counts, and one below the last it applied is a replay.
    await store.apply('w0:2', mine);
    await store.apply('w0:2', mine);
    await store.apply('w0:1', mine);
    // Another bucket has its own memory: the first batch of w0 to reach it counts there.
    await store.apply('w0:1', [...mine, inc('a', 1, { neutral: 2 })]);
    expectBuckets(await store.range('a', at(0), at(2)), [
      { start: at(0), counts: { positive: 2, negative: 250 }, polaritySum: 1 },
      { start: at(1), counts: { neutral: 2 }, polaritySum: 0 },
    ]);
  });

  it('ranges over [from, to), oldest first, one channel only', async () => {
    const store = await make();
    // Applied newest first: the order of the answer must not depend on the order of writes.
    for (const minute of [5, 4, 3, 2, 1, 0]) await store.apply(`m${minute}`, [inc('a', minute, { positive: minute + 1 })]);
    await store.apply('other', [inc('b', 2, { negative: 1 })]);
    const starts = (list: Bucket[]) => list.map((b) => b.start);
    expect(starts(await store.range('a', at(1), at(4)))).toEqual([at(1), at(2), at(3)]);
    expect(starts(await store.range('a', at(1) + 1, at(4) + 1))).toEqual([at(2), at(3), at(4)]);
    expect(starts(await store.range('a', 0, Number.MAX_SAFE_INTEGER))).toEqual([0, 1, 2, 3, 4, 5].map(at));
    expect(await store.range('a', at(3), at(3))).toEqual([]);
    expect(await store.range('a', at(6), at(60))).toEqual([]);
    expect(await store.range('nobody', 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect((await store.range('b', 0, Number.MAX_SAFE_INTEGER))[0]?.counts).toEqual({ negative: 1 });
  });

  it('totals channels over all buckets, most recently active first, at most `limit`', async () => {
    const store = await make();
    expect(await store.channels(10)).toEqual([]);
    await store.apply('b1', [inc('old', 0, { positive: 1, negative: 2 }), inc('old', 3, { positive: 4 })]);
    await store.apply('b2', [inc('new', 9, { neutral: 1 })]);
    await store.apply('b3', [inc('mid', 5, { negative: 1 }), inc('new', 2, { positive: 2 })]);
    // A late batch for an older bucket does not make a channel more recent.
    await store.apply('b4', [inc('old', 1, { negative: 1 })]);
    await store.apply('b5', [inc('tie-b', 7, { positive: 1 }), inc('tie-a', 7, { positive: 1 })]);

    expect(await store.channels(10)).toEqual([
      { channel: 'new', messages: 3, counts: { neutral: 1, positive: 2 }, lastTs: at(9) },
      { channel: 'tie-a', messages: 1, counts: { positive: 1 }, lastTs: at(7) },
      { channel: 'tie-b', messages: 1, counts: { positive: 1 }, lastTs: at(7) },
      { channel: 'mid', messages: 1, counts: { negative: 1 }, lastTs: at(5) },
      { channel: 'old', messages: 8, counts: { positive: 5, negative: 3 }, lastTs: at(3) },
    ]);
    expect((await store.channels(2)).map((c) => c.channel)).toEqual(['new', 'tie-a']);
    expect(await store.channels(0)).toEqual([]);
  });
}

describe('BucketStore contract: memory', () => contract(async () => new MemoryBucketStore()));
describe.skipIf(!mongoUrl)('BucketStore contract: mongo', () => contract(async () => (await mongo.fresh()).buckets));

describe('MemoryBucketStore retention', () => {
  const channelNames = async (store: BucketStore) => (await store.channels(10)).map((c) => c.channel);

  it('drops buckets older than retentionMs behind the newest one, out of the totals, and channels with none left', async () => {
    const store = new MemoryBucketStore({ retentionMs: 10 * BUCKET_MS });
    await store.apply('w:1', [inc('old', 0, { positive: 2 }), inc('both', 0, { negative: 1 }), inc('both', 5, { positive: 1 })]);
    expect(await channelNames(store)).toEqual(['both', 'old']);
    await store.apply('w:2', [inc('both', 12, { neutral: 1 })]); // minute 0 is now more than 10 minutes behind
    expect(await store.range('old', 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect((await store.range('both', 0, Number.MAX_SAFE_INTEGER)).map((b) => b.start)).toEqual([at(5), at(12)]);
    expect(await store.channels(10)).toEqual([{ channel: 'both', messages: 2, counts: { positive: 1, neutral: 1 }, lastTs: at(12) }]);
    // A late batch for a minute already past retention is not kept.
    await store.apply('w:3', [inc('late', 1, { positive: 1 })]);
    expect(await channelNames(store)).toEqual(['both']);
  });

  it('keeps 48 hours by default', async () => {
    const store = new MemoryBucketStore();
    await store.apply('w:1', [inc('a', 0, { positive: 1 }), inc('b', 1, { positive: 1 })]);
    await store.apply('w:2', [inc('c', 48 * 60, { positive: 1 })]);
    expect(await channelNames(store)).toEqual(['c', 'b', 'a']);
    await store.apply('w:3', [inc('c', 48 * 60 + 1, { positive: 1 })]);
    expect(await channelNames(store)).toEqual(['c', 'b']);
  });
});
