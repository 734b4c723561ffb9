// HistoryService over the memory drivers: reports count exactly [from, to) (totals and series), their
// extremes come sorted and cut from the store, and a busy sub-minute timeline is refused before a single
// message is read. The message store is wrapped only to see which of its methods are called.
import { monotonicFactory } from 'ulid';
import { describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.js';
import { HistoryService, type HistoryLimits } from '../src/store/history.js';
import { MemoryBucketStore, MemoryMessageStore } from '../src/store/stores.js';
import { BUCKET_MS, type MessageStore } from '../src/store/stores.js';
import { type StoredMessage } from '../src/vocabulary.js';

const LABELS = ['negative', 'neutral', 'positive'];
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const nextId = monotonicFactory();
const CHANNEL = 'room:report';

const msg = (ts: number, label: string, polarity: number): StoredMessage => ({
  id: nextId(ts),
  channel: CHANNEL,
  source: 'native',
  user: { id: 'u1', name: 'viewer', badges: [] },
  text: `${label} ${polarity} at ${ts - T0}`,
  label,
  score: 0.9,
  polarity,
  ts,
});

/** The memory stores, filled as the writer fills them, and the names of the message-store methods called. */
async function setup(messages: StoredMessage[], limits?: HistoryLimits) {
  const inner = new MemoryMessageStore();
  const buckets = new MemoryBucketStore();
  await inner.insertMany(messages);
  const increments = messages.map((m) => ({
    channel: m.channel,
    start: Math.floor(m.ts / BUCKET_MS) * BUCKET_MS,
    counts: { [m.label]: 1 },
    polaritySum: m.polarity,
  }));
  await buckets.apply('setup:1', increments);
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as MessageStore;
  return { history: new HistoryService(store, buckets, LABELS, limits), calls };
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('HistoryService reports', () => {
  it('count only the messages inside [from, to), in the totals, the series and the extremes', async () => {
    const from = T0 + 30_000; // mid-minute
    const to = T0 + 3 * BUCKET_MS + 20_000;
    const inside = [
      msg(from, 'positive', 0.5),
      msg(T0 + BUCKET_MS + 10, 'negative', -0.4),
      msg(T0 + 2 * BUCKET_MS + 5, 'positive', 0.8),
      msg(to - 1, 'neutral', 0),
    ];
    // Just outside, several in the same minutes as inside ones, and the most extreme of all.
    const outside = [
      msg(T0 - 1, 'negative', -1),
      msg(from - 1, 'negative', -0.99),
      msg(to, 'positive', 0.99),
      msg(T0 + 4 * BUCKET_MS, 'positive', 1),
    ];
    const { history, calls } = await setup([...inside, ...outside].sort((a, b) => a.ts - b.ts));

    const summary = await history.summarize(CHANNEL, from, to);
    expect(summary.messages).toBe(4);
    expect(summary.counts).toEqual({ negative: 1, neutral: 1, positive: 2 });
    expect(summary.score).toBeCloseTo((0.5 - 0.4 + 0.8 + 0) / 4, 9);
    // The series starts at from's minute, one point per minute here, and adds up to the totals.
    expect(summary.bucket_s).toBe(60);
    expect(summary.buckets.map((b) => b.ts)).toEqual([0, 1, 2, 3].map((m) => T0 + m * BUCKET_MS));
    expect(summary.buckets.map((b) => total(b.counts))).toEqual([1, 1, 1, 1]);
    expect(summary.buckets[0]!.score).toBeCloseTo(0.5, 9);
    expect(summary.most_negative).toEqual([{ id: inside[1]!.id, text: inside[1]!.text, score: -0.4 }]);
    expect(summary.most_positive.map((m) => m.score)).toEqual([0.8, 0.5]);
    // Read from the store sorted and cut, not paged through whole messages.
    expect(calls).not.toContain('list');
    expect(calls).toContain('extremes');
  });

  it('count a range inside one minute from its messages alone', async () => {
    const from = T0 + 10_000;
    const to = T0 + 20_000;
    const { history } = await setup([
      msg(from - 1, 'negative', -0.5),
      msg(from, 'positive', 0.5),
      msg(to - 1, 'positive', 0.7),
      msg(to, 'negative', -0.9),
    ]);
    const summary = await history.summarize(CHANNEL, from, to);
    expect(summary.messages).toBe(2);
    expect(summary.counts).toEqual({ negative: 0, neutral: 0, positive: 2 });
    expect(summary.buckets).toHaveLength(1);
    expect(summary.buckets[0]!.ts).toBe(T0);
    expect(summary.most_negative).toEqual([]);
  });
});

describe('HistoryService sub-minute timelines', () => {
  const limits = { maxBuckets: 1440, maxScan: 10 };
  const busyMinute = Array.from({ length: 12 }, (_, i) =>
    msg(T0 + BUCKET_MS + i * 1_000, i % 2 ? 'negative' : 'positive', i % 2 ? -0.5 : 0.5),
  );

  it('are refused before any message is read when the whole minutes in range already hold too many', async () => {
    const { history, calls } = await setup(busyMinute, limits);
    const err = await refusal(history.timeline(CHANNEL, T0, T0 + 3 * BUCKET_MS, 1));
    expect(err.status).toBe(400);
    expect(err.code).toBe('validation_failed');
    expect(calls).toEqual([]);
  });

  it('read three fields of at most maxScan + 1 messages otherwise, and still refuse past the bound', async () => {
    const { history, calls } = await setup(busyMinute, limits);
    const points = await history.timeline(CHANNEL, T0 + BUCKET_MS, T0 + BUCKET_MS + 5_000, 1);
    expect(points).toHaveLength(5);
    expect(points.map((p) => total(p.counts))).toEqual([1, 1, 1, 1, 1]);
    expect(points[1]!.score).toBe(-0.5);
    expect(calls).toEqual(['points']);
    // No whole minute inside, so the bound is checked on what is read: 12 messages in 59 s.
    expect((await refusal(history.timeline(CHANNEL, T0 + BUCKET_MS, T0 + 2 * BUCKET_MS - 1_000, 1))).status).toBe(400);
    expect(calls).not.toContain('list');
  });
});
