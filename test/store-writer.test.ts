// The batched store writer and its disk spool: batching, a store that fails (before or after writing),
// replay order and idempotence, restarts, the spool bound, and a crash-torn spool file. Real timers and
// a real temp dir per test: what is under test is the interplay of timers, files and async writes.
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/observability/log.js';
import { MemoryBucketStore, MemoryMessageStore } from '../src/store/stores.js';
import { PermanentWriteError } from '../src/errors.js';
import { BUCKET_MS, type BucketStore, type MessageStore } from '../src/store/stores.js';
import { type StoredMessage } from '../src/vocabulary.js';
import { DEAD_LETTER_FILE, DiskSpool, type DiskSpoolOptions, type WriteBatch } from '../src/store/spool.js';
import { StoreWriter, type StoreWriterOptions } from '../src/store/writer.js';

/**
 * 'down': every call throws before touching the store; 'lost': the call lands, then its answer throws;
 * 'hang': calls wait until release() (a slow or hung server), then follow the mode of that moment.
 */
type Mode = 'ok' | 'down' | 'lost' | 'hang';

interface Switch {
  mode: Mode;
  /** Method name and first argument of every call that reached the inner store. */
  calls: Array<{ method: string; args: unknown[] }>;
  /** Calls it matches are refused for good (PermanentWriteError, as a driver throws for a document the database rejects). */
  refuse?: (method: string, args: unknown[]) => boolean;
  /** Calls waiting in 'hang' mode. */
  hanging: number;
  release(): void;
}

/** Wraps any store so that its async methods fail on demand; the inner store stays inspectable. */
function failing<T extends object>(inner: T): { store: T; ctl: Switch } {
  let open: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const ctl: Switch = {
    mode: 'ok',
    calls: [],
    hanging: 0,
    release() {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
  };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]): Promise<unknown> => {
        if (ctl.mode === 'hang') {
          ctl.hanging++;
          await gate;
          ctl.hanging--;
        }
        if (ctl.mode === 'down') throw new Error('store unreachable');
        if (ctl.refuse?.(String(prop), args)) throw new PermanentWriteError('Document failed validation');
        ctl.calls.push({ method: String(prop), args });
        const result: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
        if (ctl.mode === 'lost') throw new Error('connection reset after write');
        return result;
      };
    },
  });
  return { store, ctl };
}

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const nextId = monotonicFactory();

function msg(channel: string, ts: number, label: string, polarity: number): StoredMessage {
  return {
    id: nextId(ts),
    channel,
    source: 'native',
    user: { id: 'u1', name: 'viewer', badges: [] },
    text: `${label} message`,
    label,
    score: 0.9,
    polarity,
    ts,
  };
}

const many = (n: number, channel = 'c1', ts = T0): StoredMessage[] =>
  Array.from({ length: n }, (_, i) => msg(channel, ts + i, i % 2 ? 'negative' : 'positive', i % 2 ? -0.5 : 0.5));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function totals(
  buckets: BucketStore,
  channel: string,
): Promise<{ counts: Record<string, number>; polaritySum: number; buckets: number }> {
  const all = await buckets.range(channel, 0, Number.MAX_SAFE_INTEGER);
  const counts: Record<string, number> = {};
  let polaritySum = 0;
  for (const b of all) {
    for (const [label, n] of Object.entries(b.counts)) counts[label] = (counts[label] ?? 0) + n;
    polaritySum += b.polaritySum;
  }
  return { counts, polaritySum, buckets: all.length };
}

async function allIds(messages: MessageStore, channel = 'c1'): Promise<string[]> {
  return (await messages.list(channel, { limit: 1000 })).map((m) => m.id).reverse();
}

const insertedIds = (ctl: Switch): string[] =>
  ctl.calls.filter((c) => c.method === 'insertMany').flatMap((c) => (c.args[0] as StoredMessage[]).map((m) => m.id));

let dir: string;
const open: Array<{ close(): Promise<void> }> = [];
const log = createLogger('silent');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chatpulse-spool-'));
});

afterEach(async () => {
  for (const x of open.splice(0)) await x.close().catch(() => undefined);
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

interface Rig {
  writer: StoreWriter;
  spool: DiskSpool;
  messages: MemoryMessageStore;
  buckets: MemoryBucketStore;
  msgCtl: Switch;
  bucketCtl: Switch;
}

async function rig(
  options: Partial<Omit<StoreWriterOptions, 'messages' | 'buckets' | 'spool' | 'log'>> = {},
  spoolOptions: DiskSpoolOptions = {},
  stores: { messages?: MemoryMessageStore; buckets?: MemoryBucketStore } = {},
): Promise<Rig> {
  const messages = stores.messages ?? new MemoryMessageStore();
  const buckets = stores.buckets ?? new MemoryBucketStore();
  const m = failing<MessageStore>(messages);
  const b = failing<BucketStore>(buckets);
  const spool = await DiskSpool.open(dir, { fsyncMs: 20, log, ...spoolOptions });
  const writer = new StoreWriter({ messages: m.store, buckets: b.store, spool, log, flushMs: 30, retryMs: 50, ...options });
  open.push(writer);
  return { writer, spool, messages, buckets, msgCtl: m.ctl, bucketCtl: b.ctl };
}

const segmentFiles = async (): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.jsonl'));

describe('StoreWriter: batching', () => {
  it('flushes after flushMs with the right per-minute bucket counts', async () => {
    const r = await rig({ flushMs: 50, maxDocs: 1000 });
    r.writer.record(msg('c1', T0 + 1_000, 'positive', 0.75));
    r.writer.record(msg('c1', T0 + 59_999, 'negative', -0.5));
    r.writer.record(msg('c1', T0 + BUCKET_MS, 'positive', 0.25));
    r.writer.record(msg('c2', T0 + 5, 'neutral', 0));
    expect(await r.messages.count()).toBe(0);
    expect(r.writer.state().pending).toBe(4);

    await until(async () => (await r.messages.count()) === 4);
    expect(r.writer.batches).toBe(1);
    expect(r.writer.written).toBe(4);
    expect(r.writer.state()).toMatchObject({
      pending: 0,
      spooledBatches: 0,
      storeHealthy: true,
      dropped: 0,
      overflow: false,
      lastError: null,
    });
    expect(await r.buckets.range('c1', 0, Number.MAX_SAFE_INTEGER)).toEqual([
      { start: T0, counts: { positive: 1, negative: 1 }, polaritySum: 0.25 },
      { start: T0 + BUCKET_MS, counts: { positive: 1 }, polaritySum: 0.25 },
    ]);
    expect(await r.buckets.range('c2', 0, Number.MAX_SAFE_INTEGER)).toEqual([{ start: T0, counts: { neutral: 1 }, polaritySum: 0 }]);
    // One batch: one insertMany and one apply carrying both channels' merged increments.
    expect(r.msgCtl.calls.map((c) => c.method)).toEqual(['insertMany']);
    expect(r.bucketCtl.calls).toHaveLength(1);
    expect(r.bucketCtl.calls[0]!.args[1]).toHaveLength(3);
  });

  it('flushes at once when maxDocs are buffered', async () => {
    const r = await rig({ flushMs: 60_000, maxDocs: 5 });
    for (const m of many(12)) r.writer.record(m);
    await until(async () => (await r.messages.count()) === 10);
    expect(r.writer.state().pending).toBe(2);
    await r.writer.flush();
    expect(await r.messages.count()).toBe(12);
    expect(r.writer.batches).toBe(3);
    const sizes = r.writer.batchSizes;
    expect(sizes).toMatchObject({ count: 3, last: 2, max: 5 });
    expect(sizes.mean).toBeCloseTo(4);
    expect(sizes.histogram.find((h) => h.le === 10)!.count).toBe(3);
    expect(await totals(r.buckets, 'c1')).toMatchObject({ counts: { positive: 6, negative: 6 }, polaritySum: 0 });
  });

  it('applies removals after the inserts recorded before them', async () => {
    const r = await rig({ flushMs: 60_000 });
    const ms = many(3);
    for (const m of ms) r.writer.record(m);
    r.writer.remove('c1', [ms[1]!.id]);
    await r.writer.flush();
    expect(await allIds(r.messages)).toEqual([ms[0]!.id, ms[2]!.id]);
    // Moderation hides the message; the stats keep counting it.
    expect((await totals(r.buckets, 'c1')).counts).toEqual({ positive: 2, negative: 1 });
  });

  it('close() writes what is pending', async () => {
    const r = await rig({ flushMs: 60_000 });
    for (const m of many(4)) r.writer.record(m);
    await r.writer.close();
    expect(await r.messages.count()).toBe(4);
    expect(() => r.writer.record(msg('c1', T0, 'positive', 1))).toThrow(/closed/);
    const again = await DiskSpool.open(dir);
    open.push(again);
    expect(again.size).toBe(0);
  });
});

describe('StoreWriter: a failing store', () => {
  it('spools batches to disk, keeps order, and replays them once the store is back', async () => {
    const r = await rig({ flushMs: 60_000, retryMs: 50 });
    r.msgCtl.mode = 'down';
    r.bucketCtl.mode = 'down';
    const first = many(5);
    for (const m of first) r.writer.record(m);
    await r.writer.flush();
    expect(r.writer.state()).toMatchObject({ spooledBatches: 1, storeHealthy: false, lastError: 'store unreachable', pending: 0 });
    expect(r.writer.state().spooledBytes).toBeGreaterThan(0);
    const files = await segmentFiles();
    expect(files.length).toBeGreaterThan(0);
    const onDisk = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('');
    expect((JSON.parse(onDisk.split('\n')[0]!) as WriteBatch).messages.map((m) => m.id)).toEqual(first.map((m) => m.id));

    const second = many(3, 'c1', T0 + BUCKET_MS);
    for (const m of second) r.writer.record(m);
    await r.writer.flush();
    r.writer.remove('c1', [first[1]!.id]);
    await r.writer.flush();
    await sleep(150); // a few failed retries
    expect(r.writer.state().spooledBatches).toBe(3);
    expect(r.msgCtl.calls).toHaveLength(0);

    r.msgCtl.mode = 'ok';
    r.bucketCtl.mode = 'ok';
    await until(() => r.writer.state().spooledBatches === 0);
    const expected = [...first, ...second].map((m) => m.id);
    expect(insertedIds(r.msgCtl)).toEqual(expected);
    expect(r.msgCtl.calls.map((c) => c.method)).toEqual(['insertMany', 'insertMany', 'remove']);
    expect(await allIds(r.messages)).toEqual(expected.filter((id) => id !== first[1]!.id));
    expect(await totals(r.buckets, 'c1')).toMatchObject({ counts: { positive: 5, negative: 3 }, buckets: 2 });
    expect(r.writer.state()).toMatchObject({ storeHealthy: true, lastError: null, spooledBytes: 0, dropped: 0 });
    // Drained: acked segments are gone and new batches go straight to the store again.
    expect((await segmentFiles()).length).toBe(1);
    r.writer.record(msg('c1', T0 + 2 * BUCKET_MS, 'positive', 1));
    await r.writer.flush();
    expect(await r.messages.count()).toBe(8);
    expect(r.writer.state().spooledBatches).toBe(0);
  });

  it('sends nothing past a non-empty spool, even to a healthy store', async () => {
    const r = await rig({ flushMs: 60_000, retryMs: 400 });
    r.msgCtl.mode = 'down';
    const first = many(2);
    for (const m of first) r.writer.record(m);
    await r.writer.flush();
    r.msgCtl.mode = 'ok';
    const later = many(2, 'c1', T0 + 10);
    for (const m of later) r.writer.record(m);
    await r.writer.flush();
    expect(r.writer.state().spooledBatches).toBe(2);
    expect(await r.messages.count()).toBe(0);
    await until(() => r.writer.state().spooledBatches === 0);
    expect(insertedIds(r.msgCtl)).toEqual([...first, ...later].map((m) => m.id));
  });

  it('does not double-count a replayed batch whose write landed but whose answer was lost', async () => {
    const r = await rig({ flushMs: 60_000, retryMs: 50 });
    r.bucketCtl.mode = 'lost';
    for (const m of many(6)) r.writer.record(m);
    await r.writer.flush();
    expect(r.writer.state()).toMatchObject({ spooledBatches: 1, storeHealthy: false });
    // Both writes landed already...
    expect(await r.messages.count()).toBe(6);
    expect((await totals(r.buckets, 'c1')).counts).toEqual({ positive: 3, negative: 3 });
    await sleep(120); // ...and land again on every retry while answers keep getting lost
    expect(r.bucketCtl.calls.length).toBeGreaterThan(1);

    r.bucketCtl.mode = 'ok';
    await until(() => r.writer.state().spooledBatches === 0);
    expect(await r.messages.count()).toBe(6);
    expect(await totals(r.buckets, 'c1')).toMatchObject({ counts: { positive: 3, negative: 3 }, polaritySum: 0 });
    expect(r.writer.written).toBe(6);
  });

  it('survives a restart: a new writer on the same dir delivers every spooled batch exactly once', async () => {
    const messages = new MemoryMessageStore();
    const buckets = new MemoryBucketStore();
    const a = await rig({ flushMs: 60_000, retryMs: 60_000 }, {}, { messages, buckets });
    const direct = many(2);
    for (const m of direct) a.writer.record(m);
    await a.writer.flush();
    a.msgCtl.mode = 'down';
    const spooled = many(4, 'c1', T0 + 100);
    for (const m of spooled.slice(0, 2)) a.writer.record(m);
    await a.writer.flush();
    for (const m of spooled.slice(2)) a.writer.record(m);
    await a.writer.close(); // its one attempt fails: the pending batch joins the spool
    expect(a.spool.size).toBe(2);

    const b = await rig({ flushMs: 60_000, retryMs: 50 }, {}, { messages, buckets });
    expect(b.spool.size).toBe(2);
    await until(() => b.writer.state().spooledBatches === 0);
    expect(insertedIds(b.msgCtl)).toEqual(spooled.map((m) => m.id));
    expect(await allIds(messages)).toEqual([...direct, ...spooled].map((m) => m.id));
    expect((await totals(buckets, 'c1')).counts).toEqual({ positive: 3, negative: 3 });
    await b.writer.close();

    // Acked batches stay acked across the next restart too.
    const c = await rig({}, {}, { messages, buckets });
    expect(c.spool.size).toBe(0);
    await sleep(100);
    expect(c.msgCtl.calls).toHaveLength(0);
  });

  it('rejects batches once the spool is full: counted, flagged, logged once, reported', async () => {
    const onOverflow = vi.fn();
    const error = vi.spyOn(log, 'error');
    const r = await rig({ flushMs: 60_000, retryMs: 50, onOverflow }, { maxBytes: 1_000 });
    r.msgCtl.mode = 'down';
    const kept = many(3);
    for (const m of kept) r.writer.record(m);
    await r.writer.flush();
    expect(r.writer.state()).toMatchObject({ spooledBatches: 1, overflow: false });
    for (let i = 0; i < 3; i++) {
      for (const m of many(3, 'c1', T0 + 10 * (i + 1))) r.writer.record(m);
      await r.writer.flush();
    }
    const state = r.writer.state();
    expect(state).toMatchObject({ spooledBatches: 1, dropped: 9, overflow: true, storeHealthy: false, lastError: 'store unreachable' });
    expect(state.spooledBytes).toBeLessThanOrEqual(1_000);
    expect(onOverflow).toHaveBeenCalledTimes(1);
    expect(onOverflow).toHaveBeenCalledWith({ dropped: 3, spooledBytes: state.spooledBytes });
    expect(error).toHaveBeenCalledTimes(1);

    r.msgCtl.mode = 'ok';
    await until(() => r.writer.state().spooledBatches === 0);
    expect(r.writer.state()).toMatchObject({ overflow: false, dropped: 9, storeHealthy: true });
    expect(await allIds(r.messages)).toEqual(kept.map((m) => m.id));
  });
});

describe('StoreWriter: a slow or hung store', () => {
  /** Records `n` messages as one batch (maxDocs 5) and lets the writer's queue move. */
  async function batchOf(r: Rig, ms: StoredMessage[]): Promise<void> {
    for (const m of ms) r.writer.record(m);
    await sleep(5);
  }

  it.each(['lands', 'fails'] as const)(
    'spills queued batches to the spool past maxQueuedDocs, keeping their order, while the write under way %s',
    async (outcome) => {
      const r = await rig({ flushMs: 60_000, maxDocs: 5, maxQueuedDocs: 10, retryMs: 50 });
      r.msgCtl.mode = 'hang';
      const all = many(40);
      await batchOf(r, all.slice(0, 5));
      await until(() => r.msgCtl.hanging === 1); // the first batch's insert is under way, and hangs
      let maxPending = 0;
      for (let i = 5; i < 40; i += 5) {
        await batchOf(r, all.slice(i, i + 5));
        maxPending = Math.max(maxPending, r.writer.state().pending);
      }
      // Memory stays bounded: at most the bound plus one batch ever waits; the rest went to disk, in order,
      // the batch under way included.
      expect(maxPending).toBeLessThanOrEqual(15);
      await until(() => r.writer.state().spooledBatches === 8);
      expect(r.writer.state().pending).toBe(0);
      const onDisk = (await Promise.all((await segmentFiles()).sort().map((f) => readFile(join(dir, f), 'utf8')))).join('');
      const spooledIds = onDisk
        .trim()
        .split('\n')
        .flatMap((line) => (JSON.parse(line) as WriteBatch).messages.map((m) => m.id));
      expect(spooledIds).toEqual(all.map((m) => m.id));

      r.msgCtl.mode = outcome === 'lands' ? 'ok' : 'down';
      r.msgCtl.release();
      if (outcome === 'fails') {
        await sleep(120); // a few failed replays
        r.msgCtl.mode = 'ok';
      }
      await until(() => r.writer.state().spooledBatches === 0);
      // Every batch reached the store once, in record order: a first batch that landed is not replayed.
      expect(insertedIds(r.msgCtl)).toEqual(all.map((m) => m.id));
      expect(await allIds(r.messages)).toEqual(all.map((m) => m.id));
      expect(await totals(r.buckets, 'c1')).toMatchObject({ counts: { positive: 20, negative: 20 }, polaritySum: 0 });
      expect(r.writer.written).toBe(40);
      // Back to direct writes.
      r.writer.record(msg('c1', T0 + BUCKET_MS, 'positive', 1));
      await r.writer.flush();
      expect(r.writer.state()).toMatchObject({ spooledBatches: 0, pending: 0, storeHealthy: true });
    },
  );

  it('close() does not wait on a hung write past closeWaitMs: it spools it and what is pending, in order', async () => {
    const messages = new MemoryMessageStore();
    const buckets = new MemoryBucketStore();
    const a = await rig({ flushMs: 60_000, maxDocs: 5, closeWaitMs: 100 }, {}, { messages, buckets });
    a.msgCtl.mode = 'hang';
    const all = many(8);
    await batchOf(a, all.slice(0, 5));
    await until(() => a.msgCtl.hanging === 1);
    await batchOf(a, all.slice(5));
    await a.writer.close(); // resolves although the store never answers
    expect(a.spool.size).toBe(2);

    const b = await rig({ retryMs: 50 }, {}, { messages, buckets });
    await until(() => b.writer.state().spooledBatches === 0);
    expect(insertedIds(b.msgCtl)).toEqual(all.map((m) => m.id));
    expect((await totals(buckets, 'c1')).counts).toEqual({ positive: 4, negative: 4 });
  });
});

describe('StoreWriter: batches the store refuses for good', () => {
  const isBad = (method: string, args: unknown[]) =>
    method === 'insertMany' && (args[0] as StoredMessage[]).some((m) => m.text.startsWith('$bad'));
  const bad = (ts: number) => ({ ...msg('c1', ts, 'negative', -1), text: '$bad: a document the database refuses' });
  const deadLetters = async () =>
    (await readFile(join(dir, DEAD_LETTER_FILE), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { at: string; error: string; batch: WriteBatch });

  it('moves them to the dead-letter file, counted and logged once, and goes on with the batches behind them', async () => {
    const error = vi.spyOn(log, 'error');
    const r = await rig({ flushMs: 60_000, retryMs: 50 });
    r.msgCtl.refuse = isBad;

    // Refused on its first write: set aside at once; the rest of the batch (its counts) is still written.
    const first = [msg('c1', T0, 'positive', 1), bad(T0 + 1)];
    for (const m of first) r.writer.record(m);
    await r.writer.flush();
    expect(r.writer.state()).toMatchObject({ deadLettered: 1, spooledBatches: 0, storeHealthy: true });
    expect((await totals(r.buckets, 'c1')).counts).toEqual({ positive: 1, negative: 1 });

    // Refused on replay, in front of a good batch: set aside, and the good one goes through.
    r.msgCtl.mode = 'down';
    const second = [bad(T0 + 10)];
    const third = [msg('c1', T0 + 20, 'positive', 1)];
    for (const m of second) r.writer.record(m);
    await r.writer.flush();
    for (const m of third) r.writer.record(m);
    await r.writer.flush();
    expect(r.writer.state().spooledBatches).toBe(2);
    r.msgCtl.mode = 'ok';
    await until(() => r.writer.state().spooledBatches === 0);
    expect(await allIds(r.messages)).toEqual(third.map((m) => m.id));
    expect(r.writer.state()).toMatchObject({ deadLettered: 2, dropped: 0, storeHealthy: true });
    const letters = await deadLetters();
    expect(letters.map((l) => l.batch.messages.map((m) => m.id))).toEqual([first.map((m) => m.id), second.map((m) => m.id)]);
    expect(letters[0]!.error).toMatch(/validation/);
    expect(error.mock.calls.filter(([, text]) => typeof text === 'string' && text.includes('dead-letter'))).toHaveLength(2);

    // A restarted spool leaves the dead letters alone.
    await r.writer.close();
    const again = await DiskSpool.open(dir);
    open.push(again);
    expect(again.size).toBe(0);
    expect(await deadLetters()).toHaveLength(2);
  });
});

describe('DiskSpool', () => {
  const batch = (n: number): WriteBatch => ({ id: nextId(), messages: many(n), increments: [] });

  it('rotates segments, deletes acked ones, and remembers acks across a restart', async () => {
    const spool = await DiskSpool.open(dir, { segmentBytes: 1_000 });
    const batches = Array.from({ length: 6 }, () => batch(2));
    for (const b of batches) expect(await spool.append(b)).toBe(true);
    const before = await segmentFiles();
    expect(before.length).toBeGreaterThan(2);
    expect(spool.size).toBe(6);
    for (let i = 0; i < 3; i++) {
      expect((await spool.peek())!.id).toBe(batches[i]!.id);
      await spool.ack();
    }
    expect((await segmentFiles()).length).toBeLessThan(before.length);
    await spool.close();

    const again = await DiskSpool.open(dir, { segmentBytes: 1_000 });
    open.push(again);
    expect(again.size).toBe(3);
    const left: string[] = [];
    for (let b = await again.peek(); b; b = await again.peek()) {
      left.push(b.id);
      await again.ack();
    }
    expect(left).toEqual(batches.slice(3).map((b) => b.id));
    expect(again.bytes).toBe(0);
    expect(await segmentFiles()).toHaveLength(1);
  });

  it('refuses an append that would pass maxBytes and writes nothing', async () => {
    const spool = await DiskSpool.open(dir, { maxBytes: 700 });
    open.push(spool);
    expect(await spool.append(batch(2))).toBe(true);
    const bytes = spool.bytes;
    expect(await spool.append(batch(2))).toBe(false);
    expect(spool.size).toBe(1);
    expect(spool.bytes).toBe(bytes);
    const files = await segmentFiles();
    expect((await readFile(join(dir, files[0]!))).length).toBe(bytes);
  });

  it('starts past a stale offset file when no segment is left, so a second crash replays every new batch', async () => {
    // What a crash between deleting the acked segments and rewriting the offset file can leave.
    await writeFile(join(dir, 'spool.offset'), JSON.stringify({ seq: 3, offset: 500 }));
    const spool = await DiskSpool.open(dir);
    open.push(spool);
    const appended = [batch(1), batch(1), batch(1)];
    for (const b of appended) expect(await spool.append(b)).toBe(true);
    // Crash: no close, no ack; the next process opens what is on disk.
    const next = await DiskSpool.open(dir);
    open.push(next);
    const replayed: string[] = [];
    for (let b = await next.peek(); b; b = await next.peek()) {
      replayed.push(b.id);
      await next.ack();
    }
    expect(replayed).toEqual(appended.map((b) => b.id));
  });

  it('skips a torn last line after a crash, with a warning, and appends cleanly after it', async () => {
    const spool = await DiskSpool.open(dir);
    const kept = [batch(2), batch(1)];
    for (const b of kept) await spool.append(b);
    await spool.close();
    const [file] = await segmentFiles();
    // What a crash in the middle of a write leaves: half a line, no newline.
    const half = JSON.stringify(batch(3));
    await appendFile(join(dir, file!), half.slice(0, half.length / 2));

    const warn = vi.spyOn(log, 'warn');
    const reopened = await DiskSpool.open(dir, { log });
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ bytes: Math.floor(half.length / 2) }), expect.stringMatching(/torn/));
    expect(reopened.size).toBe(2);
    const next = batch(1);
    await reopened.append(next);
    await reopened.close();

    // The writer over a healthy store replays all three, none glued to the fragment.
    const r = await rig({ retryMs: 50 });
    expect(r.spool.size).toBe(3);
    await until(() => r.writer.state().spooledBatches === 0);
    expect(insertedIds(r.msgCtl)).toEqual([...kept, next].flatMap((b) => b.messages.map((m) => m.id)));
  });
});
