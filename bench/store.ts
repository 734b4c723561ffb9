// Store benchmark (npm run bench:store [-- --quick --messages 200000 --channels 20 --rates 1000,10000
// --seconds 3 --outage 2 --flush-ms MS --max-docs N]): sustained message ingest through the StoreWriter
// (batches of messages plus their 1-minute bucket increments, a disk spool behind them), with the memory
// drivers and, when MONGODB_URL is set, the MongoDB drivers on a throwaway database dropped at the end.
//
// Baseline, measured in the same run on the same driver: no writer, one `insertMany([m])` and one
// `apply(batchId, [increment])` per message, awaited in turn: what storing chat looks like without batching.
// Every store call goes through a thin counting wrapper (calls, documents, bucket upserts), which can also
// fail on demand: the failure scenario takes the store away for `--outage` seconds mid-run and checks that
// every recorded message and every bucket count comes out exactly once after the spool is replayed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicFactory } from 'ulid';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/log.js';
import { MemoryBucketStore, MemoryMessageStore } from '../src/store/stores.js';
import { COLLECTIONS, connectMongo, mongoStores, type MongoHandle } from '../src/app/persistent.js';
import {
  BUCKET_MS,
  type BucketIncrement,
  type BucketStore,
  type MessageQuery,
  type MessageStore,
  type SentimentPoint,
} from '../src/store/stores.js';
import { type StoredMessage } from '../src/vocabulary.js';
import { DiskSpool, type WriteBatch } from '../src/store/spool.js';
import { StoreWriter, type BatchSizeStats } from '../src/store/writer.js';
import { loadCorpus } from './corpus.js';
import { int, parseFlags, positive, positiveList } from './lib/flags.js';
import { loadAvgNow, machine, machineLine } from './lib/machine.js';
import { sleep } from './lib/phases.js';
import { guardRun } from './lib/processes.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';
import { percentile } from './lib/stats.js';

const flags = parseFlags(
  ['messages', 'channels', 'rates', 'seconds', 'outage', 'failure-rate', 'baseline-seconds', 'flush-ms', 'max-docs'],
  ['quick'],
);
const quick = flags.quick === true;
const storeDefaults = loadConfig({}).store;
const N = int('messages', flags.messages, quick ? 50_000 : 200_000);
const channels = int('channels', flags.channels, 20);
const rates = positiveList('rates', flags.rates ?? '1000,10000').map(Math.round);
const rateSeconds = positive('seconds', flags.seconds, quick ? 2 : 4);
const outageS = positive('outage', flags.outage, 2);
const failureRate = int('failure-rate', flags['failure-rate'], 10_000);
const baselineCapS = positive('baseline-seconds', flags['baseline-seconds'], quick ? 8 : 20);
const flushMs = int('flush-ms', flags['flush-ms'], storeDefaults.flushMs);
const maxDocs = int('max-docs', flags['max-docs'], storeDefaults.flushMaxDocs);
/** The writer's default pause between replay attempts while the store fails. */
const RETRY_MS = 1000;
const TICK_MS = 10;
/** The failure run: this long before the outage and this long after it, at `failureRate`. */
const FAILURE_MARGIN_S = 2;
/** The first part of the outage loses answers rather than requests: the write lands, then the call throws. */
const LOST_ANSWER_MS = 200;
const host = machine();
const log = createLogger('silent');
const yieldLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

// ------------------------------------------------------------------------------------------------ messages

const corpus = loadCorpus('twitch');
const LABELS = ['negative', 'neutral', 'positive'] as const;
// Multiples of 1/8 add up exactly in floating point, so polarity sums can be compared for equality.
const POLARITY: Record<(typeof LABELS)[number], number[]> = {
  negative: [-0.875, -0.5, -0.25],
  neutral: [-0.125, 0, 0.125],
  positive: [0.25, 0.625, 0.875],
};

/** Message `i` of a run, without id and time: those are stamped when it is recorded, as the hub does. */
function template(i: number): StoredMessage {
  const h = (i * 2654435761) >>> 0;
  const label = LABELS[h % 3] as (typeof LABELS)[number];
  const viewer = h % 5000;
  return {
    id: '',
    channel: `twitch:bench_${String(i % channels).padStart(2, '0')}`,
    source: 'twitch',
    user: { id: String(100_000 + viewer), name: `viewer${viewer}`, badges: viewer % 7 === 0 ? ['subscriber'] : [] },
    text: corpus.texts[i % corpus.texts.length] as string,
    label,
    score: 0.5 + (h % 50) / 100,
    polarity: POLARITY[label][h % 3] as number,
    ts: 0,
    sourceId: `src-${i}`,
  };
}

const nextId = monotonicFactory();
function stamp(m: StoredMessage): StoredMessage {
  const now = Date.now();
  m.ts = now;
  m.id = nextId(now);
  return m;
}

/** What a run recorded, per channel: what the store must hold afterwards, exactly. */
class Expected {
  readonly perChannel = new Map<string, { messages: number; counts: Record<string, number>; polaritySum: number }>();
  total = 0;

  add(m: StoredMessage): void {
    let e = this.perChannel.get(m.channel);
    if (!e) this.perChannel.set(m.channel, (e = { messages: 0, counts: {}, polaritySum: 0 }));
    e.messages++;
    e.counts[m.label] = (e.counts[m.label] ?? 0) + 1;
    e.polaritySum += m.polarity;
    this.total++;
  }
}

// ------------------------------------------------------------------------------------------------ stores

type Mode = 'ok' | 'down' | 'lost';

/**
 * Counts every call and what it carried; fails on demand. 'down': every call throws before reaching the
 * store. 'lost': the outage starts between the two writes of a batch: message inserts still succeed, bucket
 * applies land and then throw (an answer lost to a connection reset), so the replay re-sends increments the
 * store already counted: the bucket store's idempotence by batch id is what keeps the counts exact.
 */
class Counters {
  mode: Mode = 'ok';
  insertCalls = 0;
  insertedDocs = 0;
  applyCalls = 0;
  /** Bucket documents touched: one upsert per (channel, minute) of each apply. */
  upserts = 0;
  removeCalls = 0;
  failedCalls = 0;
  /** Batch ids whose bucket apply reached the store, and how many applies repeated one of them. */
  readonly appliedBatches = new Set<string>();
  reapplied = 0;
  /** Record -> stored delay of each message, ms (ts is stamped at record time). */
  readonly delays: number[] = [];

  async around<T>(call: () => Promise<T>, losesAnswers: boolean): Promise<T> {
    if (this.mode === 'down') {
      this.failedCalls++;
      throw new Error('store unreachable (bench outage)');
    }
    const result = await call();
    if (this.mode === 'lost' && losesAnswers) {
      this.failedCalls++;
      throw new Error('connection reset after the write (bench outage)');
    }
    return result;
  }
}

class CountingMessageStore implements MessageStore {
  constructor(
    private readonly inner: MessageStore,
    private readonly c: Counters,
  ) {}

  insertMany(messages: readonly StoredMessage[]): Promise<void> {
    // Counted once the write landed, even when its answer is then lost.
    return this.c.around(async () => {
      await this.inner.insertMany(messages);
      this.c.insertCalls++;
      this.c.insertedDocs += messages.length;
      const now = Date.now();
      for (const m of messages) this.c.delays.push(now - m.ts);
    }, false);
  }

  list(channel: string, query: MessageQuery): Promise<StoredMessage[]> {
    return this.inner.list(channel, query);
  }

  remove(channel: string, ids: readonly string[]): Promise<void> {
    return this.c.around(async () => {
      await this.inner.remove(channel, ids);
      this.c.removeCalls++;
    }, false);
  }

  count(): Promise<number> {
    return this.inner.count();
  }

  points(channel: string, from: number, to: number, limit: number): Promise<SentimentPoint[]> {
    return this.inner.points(channel, from, to, limit);
  }

  extremes(channel: string, from: number, to: number, n: number): ReturnType<MessageStore['extremes']> {
    return this.inner.extremes(channel, from, to, n);
  }
}

class CountingBucketStore implements BucketStore {
  constructor(
    private readonly inner: BucketStore,
    private readonly c: Counters,
  ) {}

  apply(batchId: string, increments: readonly BucketIncrement[]): Promise<void> {
    return this.c.around(async () => {
      await this.inner.apply(batchId, increments);
      this.c.applyCalls++;
      this.c.upserts += new Set(increments.map((i) => `${i.channel}|${i.start}`)).size;
      if (this.c.appliedBatches.has(batchId)) this.c.reapplied++;
      else this.c.appliedBatches.add(batchId);
    }, true);
  }

  range(channel: string, from: number, to: number) {
    return this.inner.range(channel, from, to);
  }

  channels(limit: number) {
    return this.inner.channels(limit);
  }
}

interface Driver {
  name: string;
  /** Empty stores (a fresh memory store, or emptied Mongo collections). */
  fresh(): Promise<{ messages: MessageStore; buckets: BucketStore; countMessages(): Promise<number> }>;
  close(): Promise<void>;
}

function memoryDriver(): Driver {
  // Every message of a run is kept (the default keeps 10,000 per channel), so the counts can be checked.
  const maxPerChannel = Math.max(
    storeDefaults.memoryMessagesPerChannel,
    Math.ceil(N / channels) + 1,
    failureRate * (outageS + 2 * FAILURE_MARGIN_S),
  );
  return {
    name: 'memory',
    async fresh() {
      const messages = new MemoryMessageStore({ maxPerChannel });
      return { messages, buckets: new MemoryBucketStore(), countMessages: () => messages.count() };
    },
    close: async () => undefined,
  };
}

async function mongoDriver(url: string): Promise<Driver> {
  const dbName = `chatpulse_bench_${randomBytes(6).toString('hex')}`;
  const handle: MongoHandle = await connectMongo(url, { dbName, appName: 'chatpulse-bench-store' });
  await handle.ensureIndexes();
  progress(`MongoDB: throwaway database ${dbName}`);
  return {
    name: 'MongoDB',
    async fresh() {
      await Promise.all([COLLECTIONS.messages, COLLECTIONS.buckets].map((c) => handle.db.collection(c).deleteMany({})));
      const stores = mongoStores(handle);
      // An exact count (the driver's count() reads collection metadata).
      return {
        messages: stores.messages,
        buckets: stores.buckets,
        countMessages: () => handle.db.collection(COLLECTIONS.messages).countDocuments({}),
      };
    },
    async close() {
      try {
        await handle.db.dropDatabase();
        progress(`MongoDB: dropped ${dbName}`);
      } finally {
        await handle.close();
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------ runs

interface Check {
  ok: boolean;
  stored: number;
  bucketMessages: number;
  problems: string[];
}

async function verify(expected: Expected, stores: { buckets: BucketStore; countMessages(): Promise<number> }): Promise<Check> {
  const problems: string[] = [];
  const stored = await stores.countMessages();
  if (stored !== expected.total) problems.push(`${stored} messages stored, ${expected.total} recorded`);
  let bucketMessages = 0;
  for (const [channel, e] of expected.perChannel) {
    const buckets = await stores.buckets.range(channel, 0, Number.MAX_SAFE_INTEGER);
    const counts: Record<string, number> = {};
    let polaritySum = 0;
    for (const b of buckets) {
      for (const [label, n] of Object.entries(b.counts)) counts[label] = (counts[label] ?? 0) + n;
      polaritySum += b.polaritySum;
    }
    const messages = Object.values(counts).reduce((a, b) => a + b, 0);
    bucketMessages += messages;
    const labels = new Set([...Object.keys(counts), ...Object.keys(e.counts)]);
    const countsMatch = [...labels].every((l) => (counts[l] ?? 0) === (e.counts[l] ?? 0));
    if (!countsMatch || polaritySum !== e.polaritySum) {
      if (problems.length < 5)
        problems.push(
          `${channel}: buckets hold ${JSON.stringify(counts)} (polarity ${polaritySum}), recorded ${JSON.stringify(e.counts)} (polarity ${e.polaritySum})`,
        );
    }
  }
  if (bucketMessages !== expected.total && problems.length < 6)
    problems.push(`buckets count ${bucketMessages} messages, ${expected.total} recorded`);
  return { ok: problems.length === 0, stored, bucketMessages, problems };
}

interface Row {
  driver: string;
  run: string;
  kind: 'baseline' | 'writer-max' | 'writer-rate';
  offeredPerS: number | null;
  messages: number;
  seconds: number;
  docsPerS: number;
  /** docs/s over the baseline's: only for the as-fast-as-accepted run (the others are paced by their offered rate). */
  ratio: number | null;
  /** CPU per message over the baseline's (below 1: cheaper). */
  cpuVsBaseline: number | null;
  batches: number;
  meanBatch: number;
  maxBatch: number;
  histogram: BatchSizeStats['histogram'] | null;
  storeCalls: number;
  storeCallsPerMsg: number;
  upsertsPerMsg: number;
  spooledBatches: number;
  delayP50Ms: number;
  delayP99Ms: number;
  cpuMsPer1000: number;
  check: Check;
  /** The baseline stopped at its time cap before N messages. */
  capped: boolean;
}

interface Rig {
  writer: StoreWriter;
  counters: Counters;
  spool: DiskSpool;
  spoolDir: string;
  spoolStats: { appended: number; acked: number; peakBatches: number; peakBytes: number };
  stores: { messages: MessageStore; buckets: BucketStore; countMessages(): Promise<number> };
}

async function rig(driver: Driver): Promise<Rig> {
  const stores = await driver.fresh();
  const counters = new Counters();
  const spoolDir = await mkdtemp(join(tmpdir(), 'chatpulse-bench-spool-'));
  const spool = await DiskSpool.open(spoolDir, { maxBytes: storeDefaults.spoolMaxBytes, log });
  const spoolStats = { appended: 0, acked: 0, peakBatches: 0, peakBytes: 0 };
  // Counted at the spool itself: what reached the disk and what was replayed from it.
  const append = spool.append.bind(spool);
  spool.append = async (batch: WriteBatch) => {
    const accepted = await append(batch);
    if (accepted) {
      spoolStats.appended++;
      spoolStats.peakBatches = Math.max(spoolStats.peakBatches, spool.size);
      spoolStats.peakBytes = Math.max(spoolStats.peakBytes, spool.bytes);
    }
    return accepted;
  };
  const ack = spool.ack.bind(spool);
  spool.ack = async () => {
    await ack();
    spoolStats.acked++;
  };
  const writer = new StoreWriter({
    messages: new CountingMessageStore(stores.messages, counters),
    buckets: new CountingBucketStore(stores.buckets, counters),
    spool,
    flushMs,
    maxDocs,
    retryMs: RETRY_MS,
    log,
  });
  return { writer, counters, spool, spoolDir, spoolStats, stores };
}

async function closeRig(r: Rig): Promise<void> {
  await r.writer.close();
  await rm(r.spoolDir, { recursive: true, force: true });
}

function row(
  driver: string,
  run: string,
  kind: Row['kind'],
  offered: number | null,
  messages: number,
  seconds: number,
  cpuS: number,
  c: Counters,
  sizes: BatchSizeStats | null,
  spooled: number,
  check: Check,
  capped = false,
): Row {
  const delays = c.delays.sort((a, b) => a - b);
  const calls = c.insertCalls + c.applyCalls + c.removeCalls;
  return {
    driver,
    run,
    kind,
    offeredPerS: offered,
    messages,
    seconds,
    docsPerS: messages / seconds,
    ratio: null,
    cpuVsBaseline: null,
    batches: sizes?.count ?? c.insertCalls,
    meanBatch: sizes?.mean ?? 1,
    maxBatch: sizes?.max ?? 1,
    histogram: sizes?.histogram ?? null,
    storeCalls: calls,
    storeCallsPerMsg: calls / messages,
    upsertsPerMsg: c.upserts / messages,
    spooledBatches: spooled,
    delayP50Ms: percentile(delays, 50),
    delayP99Ms: percentile(delays, 99),
    cpuMsPer1000: (1e6 * cpuS) / messages,
    check,
    capped,
  };
}

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};

/** Baseline: one insertMany([m]) and one apply per message, in turn, straight to the driver. */
async function baseline(driver: Driver): Promise<Row> {
  const stores = await driver.fresh();
  const c = new Counters();
  const messages = new CountingMessageStore(stores.messages, c);
  const buckets = new CountingBucketStore(stores.buckets, c);
  const expected = new Expected();
  const templates = Array.from({ length: N }, (_, i) => template(i));
  progress(`${driver.name}: baseline, one insertMany([m]) + one apply per message (at most ${N} messages or ${baselineCapS}s)`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + baselineCapS * 1000;
  let i = 0;
  for (; i < N; i++) {
    const m = stamp(templates[i] as StoredMessage);
    await messages.insertMany([m]);
    // The message's own id as the batch id: unique per message and free (ulid() costs ~0.1 ms a call here).
    await buckets.apply(m.id, [
      { channel: m.channel, start: Math.floor(m.ts / BUCKET_MS) * BUCKET_MS, counts: { [m.label]: 1 }, polaritySum: m.polarity },
    ]);
    expected.add(m);
    if ((i & 4095) === 4095 && performance.now() > deadline) {
      i++;
      break;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(cpu0);
  const check = await verify(expected, stores);
  const r = row(
    driver.name,
    'baseline: insertMany([m]) + apply per message, sequential',
    'baseline',
    null,
    i,
    seconds,
    cpuS,
    c,
    null,
    0,
    check,
    i < N,
  );
  progress(
    `  ${fmt(r.docsPerS, 0)} docs/s (${i} messages in ${fmt(seconds, 2)}s), ${fmt(r.storeCallsPerMsg, 2)} store calls per message, counts ${check.ok ? 'exact' : 'WRONG'}`,
  );
  return r;
}

/** Records every message as fast as the writer takes them: at most 8 flushes' worth pending at a time. */
async function writerMax(driver: Driver): Promise<Row> {
  const r = await rig(driver);
  const expected = new Expected();
  const templates = Array.from({ length: N }, (_, i) => template(i));
  const cap = maxDocs * 8;
  progress(
    `${driver.name}: writer, ${N} messages over ${channels} channels as fast as it accepts them (flushMs ${flushMs}, maxDocs ${maxDocs})`,
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const m = stamp(templates[i] as StoredMessage);
    r.writer.record(m);
    expected.add(m);
    if ((i & 1023) === 1023) {
      await yieldLoop();
      while (r.writer.state().pending > cap) await sleep(1);
    }
  }
  await r.writer.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(cpu0);
  const check = await verify(expected, r.stores);
  const out = row(
    driver.name,
    'writer: as fast as accepted',
    'writer-max',
    null,
    N,
    seconds,
    cpuS,
    r.counters,
    r.writer.batchSizes,
    r.spoolStats.appended,
    check,
  );
  await closeRig(r);
  progress(
    `  ${fmt(out.docsPerS, 0)} docs/s, ${out.batches} batches (mean ${fmt(out.meanBatch, 1)}), ${fmt(out.storeCallsPerMsg, 4)} store calls per message, counts ${check.ok ? 'exact' : 'WRONG'}`,
  );
  return out;
}

/** Offers `rate` messages/s for `seconds` in ticks; `during` sees the elapsed ms at each tick. */
async function offer(
  r: Rig,
  expected: Expected,
  rate: number,
  seconds: number,
  firstIndex: number,
  during: (elapsedMs: number) => void = () => {},
): Promise<number> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const elapsed = performance.now() - t0;
    during(elapsed);
    const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const m = stamp(template(firstIndex + sent));
      r.writer.record(m);
      expected.add(m);
    }
    if (sent < total) await sleep(TICK_MS);
  }
  return total;
}

async function writerAtRate(driver: Driver, rate: number): Promise<Row> {
  const r = await rig(driver);
  const expected = new Expected();
  progress(`${driver.name}: writer at ${rate} messages/s for ${rateSeconds}s`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await offer(r, expected, rate, rateSeconds, 0);
  await r.writer.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(cpu0);
  const check = await verify(expected, r.stores);
  const out = row(
    driver.name,
    `writer: ${rate} msgs/s offered`,
    'writer-rate',
    rate,
    sent,
    seconds,
    cpuS,
    r.counters,
    r.writer.batchSizes,
    r.spoolStats.appended,
    check,
  );
  await closeRig(r);
  progress(
    `  ${out.batches} batches (mean ${fmt(out.meanBatch, 1)}), record -> stored p50 ${out.delayP50Ms} ms, p99 ${out.delayP99Ms} ms, ${fmt(out.storeCallsPerMsg, 4)} store calls per message`,
  );
  return out;
}

interface Failure {
  driver: string;
  rate: number;
  messages: number;
  outageS: number;
  lostAnswerMs: number;
  failedCalls: number;
  spooledBatches: number;
  peakSpoolBatches: number;
  peakSpoolBytes: number;
  replayedBatches: number;
  /** Store back -> first spooled batch acknowledged (mostly the wait for the next retry). */
  firstReplayS: number | null;
  /** Store back -> spool empty. */
  replayS: number | null;
  dropped: number;
  /** Message documents sent to the store more than once (replays of batches whose write had landed): skipped by id. */
  resentDocs: number;
  /** Bucket applies sent again for a batch the store had already counted. */
  reappliedBatches: number;
  batches: number;
  check: Check;
}

async function failure(driver: Driver): Promise<Failure> {
  const r = await rig(driver);
  const expected = new Expected();
  const seconds = outageS + 2 * FAILURE_MARGIN_S;
  const downAt = FAILURE_MARGIN_S * 1000;
  const upAt = downAt + outageS * 1000;
  progress(
    `${driver.name}: failure, ${failureRate} messages/s for ${seconds}s, the store failing from ${FAILURE_MARGIN_S}s for ${outageS}s (bucket answers lost for the first ${LOST_ANSWER_MS} ms)`,
  );
  // All three are set in callbacks (the producer's, the watcher's): typed so, not narrowed to their initial null.
  let recoveredAt = null as number | null;
  let firstAckAt = null as number | null;
  let drainedAt = null as number | null;
  // Watched alongside the producer, which keeps recording while the spool drains.
  const watcher = setInterval(() => {
    if (recoveredAt === null || drainedAt !== null) return;
    const s = r.writer.state();
    if (firstAckAt === null && r.spoolStats.acked > 0) firstAckAt = performance.now();
    if (s.spooledBatches === 0 && s.storeHealthy) drainedAt = performance.now();
  }, 2);
  const sent = await offer(r, expected, failureRate, seconds, N, (elapsed) => {
    if (elapsed >= upAt) {
      if (r.counters.mode !== 'ok') {
        r.counters.mode = 'ok';
        recoveredAt = performance.now();
      }
    } else if (elapsed >= downAt + LOST_ANSWER_MS) r.counters.mode = 'down';
    else if (elapsed >= downAt) r.counters.mode = 'lost';
  });
  if (recoveredAt === null) {
    r.counters.mode = 'ok';
    recoveredAt = performance.now();
  }
  await r.writer.flush();
  // The writer replays on its own (every RETRY_MS while the store fails, then batch after batch).
  const deadline = performance.now() + 120_000;
  for (;;) {
    const s = r.writer.state();
    if (drainedAt !== null && s.spooledBatches === 0 && s.pending === 0) break;
    if (performance.now() > deadline) break;
    await sleep(5);
  }
  clearInterval(watcher);
  const since = (t: number | null) => (t === null ? null : (t - (recoveredAt as number)) / 1000);
  const replayS = since(drainedAt);
  const firstReplayS = since(firstAckAt);
  const state = r.writer.state();
  const check = await verify(expected, r.stores);
  const out: Failure = {
    driver: driver.name,
    rate: failureRate,
    messages: sent,
    outageS,
    lostAnswerMs: LOST_ANSWER_MS,
    failedCalls: r.counters.failedCalls,
    spooledBatches: r.spoolStats.appended,
    peakSpoolBatches: r.spoolStats.peakBatches,
    peakSpoolBytes: r.spoolStats.peakBytes,
    replayedBatches: r.spoolStats.acked,
    firstReplayS,
    replayS,
    dropped: state.dropped,
    resentDocs: r.counters.insertedDocs - sent,
    reappliedBatches: r.counters.reapplied,
    batches: r.writer.batchSizes.count,
    check,
  };
  await closeRig(r);
  progress(
    `  ${out.spooledBatches} batches spooled (peak ${out.peakSpoolBatches}, ${fmt(out.peakSpoolBytes / 2 ** 20, 1)} MiB), ${out.replayedBatches} replayed, first replayed ${firstReplayS === null ? 'never' : `${fmt(firstReplayS, 2)}s`} and spool empty ${replayS === null ? 'NEVER' : `${fmt(replayS, 2)}s`} after the store came back, ` +
      `${out.dropped} dropped, ${out.resentDocs} documents and ${out.reappliedBatches} bucket applies re-sent; exactly once: ${check.ok ? 'yes' : `NO (${check.problems.join('; ')})`}`,
  );
  return out;
}

// ------------------------------------------------------------------------------------------------ main

guardRun('bench:store', 20 * 60, '20 minutes');

progress(`machine: ${machineLine(host)}`);
progress(
  `${N} messages over ${channels} channels; rates ${rates.join(', ')} msgs/s for ${rateSeconds}s; outage ${outageS}s at ${failureRate} msgs/s; writer flushMs ${flushMs}, maxDocs ${maxDocs}, retryMs ${RETRY_MS}`,
);
const drivers: Driver[] = [memoryDriver()];
const mongoUrl = process.env.MONGODB_URL?.trim();
if (mongoUrl) drivers.push(await mongoDriver(mongoUrl));
else progress('MONGODB_URL is not set: memory drivers only');

const rows: Row[] = [];
const failures: Failure[] = [];
try {
  for (const driver of drivers) {
    const base = await baseline(driver);
    const mine: Row[] = [base, await writerMax(driver)];
    for (const rate of rates) mine.push(await writerAtRate(driver, rate));
    for (const r of mine) {
      if (r.kind !== 'writer-rate') r.ratio = r.docsPerS / base.docsPerS;
      // Paced runs also pay the producer's 100 wake-ups a second: their CPU is for comparing paces, not with the baseline.
      if (r.kind !== 'writer-rate') r.cpuVsBaseline = r.cpuMsPer1000 / base.cpuMsPer1000;
    }
    rows.push(...mine);
    failures.push(await failure(driver));
  }
} finally {
  for (const d of drivers) await d.close().catch((err: unknown) => console.error(`closing ${d.name}: ${String(err)}`));
}
const loadAvgEnd = loadAvgNow();

const allExact = rows.every((r) => r.check.ok) && failures.every((f) => f.check.ok && f.replayS !== null);
const table = markdownTable(
  [
    'driver',
    'run',
    'messages',
    'docs/s',
    'x baseline',
    'batches',
    'mean batch',
    'max batch',
    'store calls / msg',
    'bucket upserts / msg',
    'spooled batches',
    'record -> stored p50 / p99 ms',
    'CPU ms / 1,000 msgs',
    'CPU vs baseline',
    'counts',
  ],
  rows.map((r) => [
    r.driver,
    r.run,
    `${r.messages}${r.capped ? ` (capped at ${baselineCapS}s)` : ''}`,
    fmt(r.docsPerS, 0),
    r.ratio === null ? '-' : `${fmt(r.ratio, 2)}x`,
    String(r.batches),
    fmt(r.meanBatch, 1),
    String(r.maxBatch),
    fmt(r.storeCallsPerMsg, 4),
    fmt(r.upsertsPerMsg, 4),
    String(r.spooledBatches),
    `${fmt(r.delayP50Ms, 0)} / ${fmt(r.delayP99Ms, 0)}`,
    fmt(r.cpuMsPer1000, 1),
    r.cpuVsBaseline === null ? '-' : `${fmt(r.cpuVsBaseline, 2)}x`,
    r.check.ok ? 'exact' : `WRONG: ${r.check.problems[0] ?? ''}`,
  ]),
);
const failureTable = markdownTable(
  [
    'driver',
    'offered msgs/s',
    'messages',
    'outage',
    'failed store calls',
    'batches spooled',
    'spool peak',
    'batches replayed',
    'store back -> first replay / spool empty',
    'dropped',
    're-sent: message docs / bucket applies',
    'stored / recorded',
    'bucket counts',
    'exactly once',
  ],
  failures.map((f) => [
    f.driver,
    String(f.rate),
    String(f.messages),
    `${f.outageS}s (first ${f.lostAnswerMs} ms: bucket answers lost)`,
    String(f.failedCalls),
    String(f.spooledBatches),
    `${f.peakSpoolBatches} batches, ${fmt(f.peakSpoolBytes / 2 ** 20, 2)} MiB`,
    String(f.replayedBatches),
    `${f.firstReplayS === null ? 'never' : `${fmt(f.firstReplayS, 2)}s`} / ${f.replayS === null ? 'not within 120s' : `${fmt(f.replayS, 2)}s`}`,
    String(f.dropped),
    `${f.resentDocs} / ${f.reappliedBatches}`,
    `${f.check.stored} / ${f.messages}`,
    `${f.check.bucketMessages} / ${f.messages}`,
    f.check.ok && f.replayS !== null ? 'yes' : 'NO',
  ]),
);
const histograms = rows
  .filter((r) => r.histogram !== null)
  .map(
    (r) =>
      `- ${r.driver}, ${r.run}: ${(r.histogram ?? [])
        .filter((h) => h.count > 0)
        .map((h) => `${h.count} of <= ${Number.isFinite(h.le) ? h.le : 'more'}`)
        .join(', ')}`,
  );
const problems = [
  ...rows.filter((r) => !r.check.ok).map((r) => `- ${r.driver}, ${r.run}: ${r.check.problems.join('; ')}`),
  ...failures.filter((f) => !f.check.ok).map((f) => `- ${f.driver}, failure: ${f.check.problems.join('; ')}`),
];
const markdown = [
  '# Store benchmark',
  '',
  `Machine: ${machineLine(host)}; load avg ${loadAvgEnd} at end`,
  `Setup: chat messages (${corpus.source} as texts) over ${channels} channels, ids (ULID) and timestamps stamped when recorded, as the hub does. ` +
    `StoreWriter with flushMs ${flushMs}, maxDocs ${maxDocs} (the production defaults unless --flush-ms / --max-docs), retryMs ${RETRY_MS}, a DiskSpool in a temp dir (fsync every 1 s); ` +
    `drivers: ${drivers.map((d) => d.name).join(', ')}${mongoUrl ? '' : ' (MONGODB_URL not set: no MongoDB rows)'}. Every store call goes through a counting wrapper. ` +
    'Baseline: the same driver, no writer: one `insertMany([m])` and one `apply(batchId, [increment])` per message, awaited in turn.',
  '',
  "docs/s: messages recorded / seconds until the last one was written (as-fast-as-accepted: the producer yields every 1,024 messages and waits while more than 8 flushes' worth are pending). " +
    "x baseline: docs/s over the baseline's, for the as-fast-as-accepted run only (the offered-rate runs write what they are offered). CPU vs baseline: CPU per message over the baseline's, likewise (a paced run's CPU includes its producer waking 100 times a second). " +
    'store calls / msg: insertMany + apply + remove calls per message; bucket upserts / msg: (channel, minute) bucket documents updated per message. ' +
    "record -> stored: from a message's recording to its insertMany returning (ms clock). CPU: `process.cpuUsage` of the bench process (producer included; a MongoDB server's own CPU is not in it). " +
    'counts: the store afterwards holds every recorded message once and bucket counts and polarity sums equal to what was recorded.',
  '',
  table,
  '',
  "Batch sizes (messages per write, from the writer's `batchSizes` histogram):",
  '',
  ...histograms,
  '',
  '## Failure: the store down mid-run',
  '',
  `The store wrapper fails every call for ${outageS}s, ${FAILURE_MARGIN_S}s into a run at ${failureRate} messages/s; for the first ${LOST_ANSWER_MS} ms message inserts succeed and bucket applies land and then throw (an answer lost to a connection reset: the replay re-sends increments already counted), after that every call throws before reaching the store. ` +
    `Failed batches go to the disk spool, later batches follow them there until it drains, and the writer replays it every ${RETRY_MS} ms (then batch after batch once a replay succeeds). ` +
    'store back -> first replay: from the store answering again to the first spooled batch acknowledged (the wait for the next retry, at most retryMs); -> spool empty: to the last one (the producer keeps recording meanwhile, and its batches queue behind the spool). The bench exits non-zero unless the counts come out exactly once.',
  '',
  failureTable,
  ...(problems.length > 0 ? ['', '## Problems', '', ...problems] : []),
].join('\n');
publishResults(
  'store',
  {
    name: 'store',
    machine: host,
    loadAvgEnd,
    settings: {
      messages: N,
      channels,
      rates,
      rateSeconds,
      outageS,
      failureRate,
      lostAnswerMs: LOST_ANSWER_MS,
      baselineCapS,
      flushMs,
      maxDocs,
      retryMs: RETRY_MS,
      drivers: drivers.map((d) => d.name),
    },
    rows,
    failures,
    exactlyOnce: allExact,
  },
  markdown,
);
if (!allExact) {
  console.error('bench:store: the store did not end up with every recorded message exactly once');
  process.exit(1);
}
process.exit(0);
