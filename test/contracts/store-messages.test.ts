// MessageStore contract: memory always, MongoDB when MONGODB_URL is set (a fresh database per file):
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-
import { describe, expect, it } from 'vitest';
import { MemoryMessageStore } from '../../src/store/stores.js';
import type { MessageRangeReads, MessageStore } from '../../src/store/stores.js';
import type { StoredMessage } from '../../src/vocabulary.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();

const T0 = 1_700_000_000_000;

/** Ids sort as strings, like the ULIDs they stand for; `n` is also the message's second. */
const msg = (n: number, channel = 'room:a', over: Partial<StoredMessage> = {}): StoredMessage => ({
  id: `01M${String(n).padStart(6, '0')}`,
  channel,
  source: 'native',
  user: { id: `u${n % 3}`, name: `User ${n % 3}`, badges: n % 2 ? ['moderator'] : [] },
  text: `message ${n}`,
  label: n % 2 ? 'positive' : 'negative',
  score: 0.9,
  polarity: n % 2 ? 0.8 : -0.7,
  ts: T0 + n * 1_000,
  ...over,
});

const ids = (list: StoredMessage[]) => list.map((m) => m.id);

function contract(make: () => Promise<MessageStore & MessageRangeReads>): void {
  it('returns what was inserted, as copies, optional fields included', async () => {
    const store = await make();
    const plain = msg(1);
    const ingested = msg(2, 'twitch:chan', { source: 'twitch', sourceId: 'abc-123' });
    await store.insertMany([plain, ingested]);
    expect(await store.list('room:a', { limit: 10 })).toEqual([plain]);
    const [got] = await store.list('twitch:chan', { limit: 10 });
    expect(got).toEqual(ingested);
    expect(got && 'sourceId' in got).toBe(true);
    expect('sourceId' in ((await store.list('room:a', { limit: 1 }))[0] as StoredMessage)).toBe(false);

    plain.user.badges.push('mutated');
    (got as StoredMessage).text = 'mutated';
    expect(await store.list('room:a', { limit: 10 })).toEqual([msg(1)]);
    expect((await store.list('twitch:chan', { limit: 10 }))[0]?.text).toBe('message 2');
    expect(await store.list('nowhere', { limit: 10 })).toEqual([]);
  });

  it('skips ids that exist (replays), within one call and across calls, keeping the first version', async () => {
    const store = await make();
    await store.insertMany([msg(1), msg(2), msg(1)]);
    await store.insertMany([msg(2, 'room:a', { text: 'replayed' }), msg(3), msg(1)]);
    await store.insertMany([]);
    expect(ids(await store.list('room:a', { limit: 10 }))).toEqual(ids([msg(3), msg(2), msg(1)]));
    expect((await store.list('room:a', { limit: 10 }))[1]?.text).toBe('message 2');
    expect(await store.count()).toBe(3);
  });

  it('pages newest first with the `before` cursor, with no gaps or repeats, whatever the insert order', async () => {
    const store = await make();
    const all = Array.from({ length: 23 }, (_, i) => msg(i + 1));
    // Shuffled deterministically, in several calls: ingest and native traffic interleave.
    const shuffled = [...all].sort((a, b) => ((a.ts * 7919) % 23) - ((b.ts * 7919) % 23));
    for (let i = 0; i < shuffled.length; i += 5) await store.insertMany(shuffled.slice(i, i + 5));
    await store.insertMany([msg(100, 'room:b')]);

    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.list('room:a', { limit: 5, ...(before !== undefined && { before }) });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(5);
      seen.push(...ids(page));
      before = page[page.length - 1]?.id;
    }
    expect(seen).toEqual(ids(all).reverse());
    // `before` is exclusive and need not be a stored id.
    expect(ids(await store.list('room:a', { limit: 2, before: msg(5).id }))).toEqual(ids([msg(4), msg(3)]));
    expect(ids(await store.list('room:a', { limit: 2, before: `${msg(5).id}0` }))).toEqual(ids([msg(5), msg(4)]));
    expect(await store.list('room:a', { limit: 5, before: msg(1).id })).toEqual([]);
  });

  it('filters on ts: `from` inclusive, `to` exclusive, combined with the cursor', async () => {
    const store = await make();
    await store.insertMany(Array.from({ length: 10 }, (_, i) => msg(i + 1)));
    const at = (n: number) => T0 + n * 1_000;
    expect(ids(await store.list('room:a', { limit: 100, from: at(3), to: at(6) }))).toEqual(ids([msg(5), msg(4), msg(3)]));
    expect(ids(await store.list('room:a', { limit: 100, from: at(9) }))).toEqual(ids([msg(10), msg(9)]));
    expect(ids(await store.list('room:a', { limit: 100, to: at(2) }))).toEqual(ids([msg(1)]));
    expect(ids(await store.list('room:a', { limit: 2, from: at(2), to: at(8) }))).toEqual(ids([msg(7), msg(6)]));
    expect(ids(await store.list('room:a', { limit: 2, from: at(2), to: at(8), before: msg(6).id }))).toEqual(ids([msg(5), msg(4)]));
    expect(await store.list('room:a', { limit: 100, from: at(6), to: at(6) })).toEqual([]);
  });

  it('reads sentiment points and the extremes of [from, to) only, sorted and cut by the store', async () => {
    const store = await make();
    const at = (n: number) => T0 + n * 1_000;
    const polarities = [-0.99, -0.5, -0.7, 0, 0.6, 0.9, -0.7, 0.99]; // messages 1..8; only 2..7 are in range
    await store.insertMany(polarities.map((polarity, i) => msg(i + 1, 'room:a', { polarity })));
    await store.insertMany([msg(20, 'room:b', { polarity: -1, ts: at(3) })]);

    const points = await store.points('room:a', at(2), at(8), 100);
    expect(points.sort((x, y) => x.ts - y.ts)).toEqual(
      [2, 3, 4, 5, 6, 7].map((n) => ({ ts: at(n), label: msg(n).label, polarity: polarities[n - 1] })),
    );
    expect(await store.points('room:a', at(2), at(8), 3)).toHaveLength(3);
    expect(await store.points('room:a', at(8), at(8), 10)).toEqual([]);

    const quote = (n: number) => ({ id: msg(n).id, text: msg(n).text, polarity: polarities[n - 1] });
    // Ties (messages 3 and 7) by id; polarity 0 is neither side; 1 and 8 are outside, room:b is another channel.
    expect(await store.extremes('room:a', at(2), at(8), 2)).toEqual({ negative: [quote(3), quote(7)], positive: [quote(6), quote(5)] });
    expect(await store.extremes('room:a', at(2), at(8), 10)).toEqual({
      negative: [quote(3), quote(7), quote(2)],
      positive: [quote(6), quote(5)],
    });
    expect(await store.extremes('room:a', at(20), at(30), 5)).toEqual({ negative: [], positive: [] });
  });

  it('removes messages of the channel named, ignoring unknown ids and other channels', async () => {
    const store = await make();
    await store.insertMany([msg(1), msg(2), msg(3), msg(4, 'room:b')]);
    await store.remove('room:a', [msg(2).id, 'unknown', msg(4).id]);
    await store.remove('room:a', []);
    await store.remove('nowhere', [msg(1).id]);
    expect(ids(await store.list('room:a', { limit: 10 }))).toEqual(ids([msg(3), msg(1)]));
    expect(ids(await store.list('room:b', { limit: 10 }))).toEqual(ids([msg(4, 'room:b')]));
    expect(await store.count()).toBe(3);
    // A removed id may be stored again (a moderator's mistake undone by a replay is the caller's business).
    await store.insertMany([msg(2)]);
    expect(await store.count()).toBe(4);
  });
}

describe('MessageStore contract: memory', () => contract(async () => new MemoryMessageStore()));
describe.skipIf(!mongoUrl)('MessageStore contract: mongo', () => contract(async () => (await mongo.fresh()).messages));

describe('MemoryMessageStore retention', () => {
  it('keeps the newest maxPerChannel messages of each channel', async () => {
    const store = new MemoryMessageStore({ maxPerChannel: 5 });
    await store.insertMany(Array.from({ length: 4 }, (_, i) => msg(i + 1)));
    await store.insertMany(Array.from({ length: 4 }, (_, i) => msg(i + 5)));
    await store.insertMany([msg(50, 'room:b'), msg(51, 'room:b')]);
    expect(ids(await store.list('room:a', { limit: 100 }))).toEqual(ids([8, 7, 6, 5, 4].map((n) => msg(n))));
    expect(ids(await store.list('room:b', { limit: 100 }))).toHaveLength(2);
    expect(await store.count()).toBe(7);

    // A late message older than everything kept is dropped at once; a newer one pushes the oldest out.
    await store.insertMany([msg(1)]);
    await store.insertMany([msg(9)]);
    expect(ids(await store.list('room:a', { limit: 100 }))).toEqual(ids([9, 8, 7, 6, 5].map((n) => msg(n))));
    expect(await store.count()).toBe(7);
  });

  it('defaults to 10,000 per channel', async () => {
    const store = new MemoryMessageStore();
    await store.insertMany(Array.from({ length: 10_050 }, (_, i) => msg(i)));
    expect(await store.count()).toBe(10_000);
    expect((await store.list('room:a', { limit: 1, before: msg(51).id }))[0]?.id).toBe(msg(50).id);
    expect(await store.list('room:a', { limit: 1, before: msg(50).id })).toEqual([]);
  });
});
