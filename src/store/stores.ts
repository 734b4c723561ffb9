// The persistent store's ports (messages, buckets, reports: what ChatPulse keeps beyond a process's life) and
// their memory drivers, the default when no MONGODB_URL is set: they keep what a single process needs and
// forget it on restart. Records are copied in and out so callers cannot mutate stored state by reference,
// matching what a networked driver does. MongoDB drivers: mongo-*.ts. Both pass test/contracts/.
import { conflict } from '../errors.js';
import type { StoredMessage } from '../vocabulary.js';

export interface MessageQuery {
  /** 1..1000 */
  limit: number;
  /** Only ids strictly below this one (the cursor: the last id of the previous page). */
  before?: string;
  /** Epoch ms, inclusive lower / exclusive upper bound on ts. */
  from?: number;
  to?: number;
}

/** What a sentiment timeline needs of a message. */
export interface SentimentPoint {
  ts: number;
  label: string;
  polarity: number;
}

/** A message as a report quotes it. */
export interface QuotedMessage {
  id: string;
  text: string;
  polarity: number;
}

/**
 * Range reads for the history service, answered by the store (projected, sorted and limited there) rather
 * than by paging whole messages through `list`.
 */
export interface MessageRangeReads {
  /** (ts, label, polarity) of at most `limit` messages of [from, to), in no particular order. */
  points(channel: string, from: number, to: number, limit: number): Promise<SentimentPoint[]>;
  /**
   * The `n` most negative (polarity < 0, lowest first) and `n` most positive (polarity > 0, highest
   * first) messages of [from, to); ties by id, ascending.
   */
  extremes(channel: string, from: number, to: number, n: number): Promise<{ negative: QuotedMessage[]; positive: QuotedMessage[] }>;
}

export interface MessageStore extends MessageRangeReads {
  /** Inserts; a message whose id exists already is skipped (replays are idempotent). */
  insertMany(messages: readonly StoredMessage[]): Promise<void>;
  /** Newest first. */
  list(channel: string, query: MessageQuery): Promise<StoredMessage[]>;
  /** Removes messages (moderation); unknown ids are ignored. */
  remove(channel: string, ids: readonly string[]): Promise<void>;
  count(): Promise<number>;
}

/** Per-label counts and the sum of polarities of the messages of one channel in one bucket. */
export interface BucketCounts {
  counts: Record<string, number>;
  polaritySum: number;
}

export interface BucketIncrement extends BucketCounts {
  channel: string;
  /** Epoch ms of the bucket's start (a multiple of BUCKET_MS). */
  start: number;
}

export interface Bucket extends BucketCounts {
  start: number;
}

/** Stored buckets are one minute long; the timeline API sums them into longer ones. */
export const BUCKET_MS = 60_000;

export interface ChannelTotals {
  channel: string;
  messages: number;
  counts: Record<string, number>;
  /** Epoch ms of the newest bucket with traffic. */
  lastTs: number;
}

/**
 * A batch id names its writer's stream and its place in it: `<stream>:<seq>`, `stream` letters, digits,
 * `_` or `-`, `seq` a positive integer. One stream's batches reach a bucket in `seq` order (the writer
 * keeps them in order, and its spool is a FIFO), which is what lets a bucket remember one number per
 * stream instead of every batch id. An id without `:<seq>` is a stream of its own (seq 0): applied once.
 */
export function parseBatchId(batchId: string): { stream: string; seq: number } {
  const m = /^([A-Za-z0-9_-]+):([1-9][0-9]{0,14})$/.exec(batchId);
  if (m) return { stream: m[1]!, seq: Number(m[2]) };
  return { stream: batchId, seq: 0 };
}

export interface BucketStore {
  /**
   * Adds increments, idempotently: a bucket counts a batch only when its `seq` is above the last one of
   * its stream applied to that bucket (see parseBatchId). So a spool replay after a write whose answer
   * was lost counts once, however long after and however many other writers hit the bucket meanwhile.
   */
  apply(batchId: string, increments: readonly BucketIncrement[]): Promise<void>;
  /** Buckets with traffic in [from, to), oldest first. */
  range(channel: string, from: number, to: number): Promise<Bucket[]>;
  /** Totals per channel over all buckets, most recently active first (at most `limit`). */
  channels(limit: number): Promise<ChannelTotals[]>;
}

export interface ReportRecord {
  id: string;
  ownerId: string;
  channel: string;
  title: string;
  from: number;
  to: number;
  createdAt: number;
  /** Computed once at creation from buckets and messages, then kept as is. */
  summary: ReportSummary;
}

export interface ReportSummary {
  messages: number;
  counts: Record<string, number>;
  /** Mean polarity, or null without messages. */
  score: number | null;
  /** Per-bucket series used by the report (bucket seconds, points). */
  bucket_s: number;
  buckets: Array<{ ts: number; counts: Record<string, number>; score: number | null }>;
  /** The most negative and most positive messages in the range. */
  most_negative: Array<{ id: string; text: string; score: number }>;
  most_positive: Array<{ id: string; text: string; score: number }>;
}

export interface ReportStore {
  create(report: ReportRecord): Promise<void>;
  get(id: string): Promise<ReportRecord | null>;
  /** Newest first; ids below `before`. */
  listByOwner(ownerId: string, limit: number, before?: string): Promise<ReportRecord[]>;
  delete(id: string): Promise<boolean>;
  deleteByOwner(ownerId: string): Promise<number>;
  /** Reports this owner holds (the per-user quota). */
  countByOwner(ownerId: string): Promise<number>;
  /** Deletes reports created before `cutoff` (epoch ms), only this owner's when given; how many went. */
  deleteCreatedBefore(cutoff: number, ownerId?: string): Promise<number>;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Index of the first element whose id is >= `id` in an array sorted by id. */
function lowerBound(sorted: readonly { id: string }[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as { id: string }).id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface MemoryMessageStoreOptions {
  /** Messages kept per channel; the oldest (smallest id) go first. */
  maxPerChannel?: number;
}

export class MemoryMessageStore implements MessageStore {
  readonly #max: number;
  /** Per channel, sorted by id (ULIDs: by time) so pages are slices and trimming drops from the front. */
  readonly #byChannel = new Map<string, StoredMessage[]>();
  /** Every stored id and its channel: what makes replays idempotent. */
  readonly #channelOf = new Map<string, string>();

  constructor(options: MemoryMessageStoreOptions = {}) {
    this.#max = Math.max(1, options.maxPerChannel ?? 10_000);
  }

  async insertMany(messages: readonly StoredMessage[]): Promise<void> {
    const touched = new Set<StoredMessage[]>();
    for (const msg of messages) {
      if (this.#channelOf.has(msg.id)) continue;
      let list = this.#byChannel.get(msg.channel);
      if (!list) this.#byChannel.set(msg.channel, (list = []));
      const copy = structuredClone(msg);
      // Live traffic arrives in id order, so the append is the common case.
      const last = list[list.length - 1];
      if (!last || last.id < msg.id) list.push(copy);
      else list.splice(lowerBound(list, msg.id), 0, copy);
      this.#channelOf.set(msg.id, msg.channel);
      touched.add(list);
    }
    // Trimmed once per call rather than per message: one splice instead of a shift each.
    for (const list of touched) {
      const excess = list.length - this.#max;
      if (excess > 0) for (const dropped of list.splice(0, excess)) this.#channelOf.delete(dropped.id);
    }
  }

  async list(channel: string, query: MessageQuery): Promise<StoredMessage[]> {
    const list = this.#byChannel.get(channel);
    if (!list) return [];
    const out: StoredMessage[] = [];
    const start = query.before === undefined ? list.length : lowerBound(list, query.before);
    for (let i = start - 1; i >= 0 && out.length < query.limit; i--) {
      const msg = list[i] as StoredMessage;
      if (query.from !== undefined && msg.ts < query.from) continue;
      if (query.to !== undefined && msg.ts >= query.to) continue;
      out.push(structuredClone(msg));
    }
    return out;
  }

  async points(channel: string, from: number, to: number, limit: number): Promise<SentimentPoint[]> {
    const out: SentimentPoint[] = [];
    for (const m of this.#byChannel.get(channel) ?? []) {
      if (out.length >= limit) break;
      if (m.ts >= from && m.ts < to) out.push({ ts: m.ts, label: m.label, polarity: m.polarity });
    }
    return out;
  }

  async extremes(channel: string, from: number, to: number, n: number): Promise<{ negative: QuotedMessage[]; positive: QuotedMessage[] }> {
    const negative: StoredMessage[] = [];
    const positive: StoredMessage[] = [];
    for (const m of this.#byChannel.get(channel) ?? []) {
      if (m.ts < from || m.ts >= to) continue;
      if (m.polarity < 0) negative.push(m);
      else if (m.polarity > 0) positive.push(m);
    }
    // The list is in id order and sorts are stable: ties stay by id, as the Mongo driver orders them.
    const quote = (m: StoredMessage): QuotedMessage => ({ id: m.id, text: m.text, polarity: m.polarity });
    return {
      negative: negative
        .sort((a, b) => a.polarity - b.polarity)
        .slice(0, Math.max(0, n))
        .map(quote),
      positive: positive
        .sort((a, b) => b.polarity - a.polarity)
        .slice(0, Math.max(0, n))
        .map(quote),
    };
  }

  async remove(channel: string, ids: readonly string[]): Promise<void> {
    const list = this.#byChannel.get(channel);
    if (!list) return;
    for (const id of ids) {
      if (this.#channelOf.get(id) !== channel) continue;
      const i = lowerBound(list, id);
      if (list[i]?.id === id) list.splice(i, 1);
      this.#channelOf.delete(id);
    }
    if (list.length === 0) this.#byChannel.delete(channel);
  }

  async count(): Promise<number> {
    return this.#channelOf.size;
  }
}

export interface MemoryBucketStoreOptions {
  /**
   * How far behind the newest bucket a bucket is kept; older ones are dropped (and a channel with none
   * left). Default 48 hours. Measured from the data rather than the clock, so a quiet store keeps its last
   * window instead of emptying itself.
   */
  retentionMs?: number;
}

interface StoredBucket extends BucketCounts {
  /** Per writer stream, the last batch seq applied here: what makes replays idempotent (see parseBatchId). */
  applied: Map<string, number>;
}

interface ChannelState {
  buckets: Map<number, StoredBucket>;
  /** Counts in a Map, not an object: labels come and go (swept to zero) as keys. */
  totals: { messages: number; counts: Map<string, number>; lastTs: number };
}

const sumCounts = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

function addCounts(into: Record<string, number>, counts: Record<string, number>): void {
  for (const [label, n] of Object.entries(counts)) into[label] = (into[label] ?? 0) + n;
}

/** Sums increments that hit the same bucket, so a batch is applied to each bucket once, as a whole. */
export function mergeIncrements(increments: readonly BucketIncrement[]): BucketIncrement[] {
  const merged = new Map<string, BucketIncrement>();
  for (const inc of increments) {
    const key = `${inc.channel}|${inc.start}`;
    const into = merged.get(key);
    if (!into) merged.set(key, { channel: inc.channel, start: inc.start, counts: { ...inc.counts }, polaritySum: inc.polaritySum });
    else {
      addCounts(into.counts, inc.counts);
      into.polaritySum += inc.polaritySum;
    }
  }
  return [...merged.values()];
}

export class MemoryBucketStore implements BucketStore {
  readonly #retentionMs: number;
  readonly #channels = new Map<string, ChannelState>();
  /** Start of the newest bucket seen: what retention counts back from. */
  #newest = -Infinity;
  /** The cutoff of the last sweep; the next runs once the newest bucket has moved on. */
  #sweptTo = -Infinity;

  constructor(options: MemoryBucketStoreOptions = {}) {
    this.#retentionMs = Math.max(BUCKET_MS, options.retentionMs ?? 48 * 3_600_000);
  }

  async apply(batchId: string, increments: readonly BucketIncrement[]): Promise<void> {
    const { stream, seq } = parseBatchId(batchId);
    for (const inc of mergeIncrements(increments)) {
      // Past retention: it would be swept away at once, and its totals with it.
      if (inc.start < this.#newest - this.#retentionMs) continue;
      let state = this.#channels.get(inc.channel);
      if (!state) {
        state = { buckets: new Map(), totals: { messages: 0, counts: new Map(), lastTs: inc.start } };
        this.#channels.set(inc.channel, state);
      }
      let bucket = state.buckets.get(inc.start);
      if (!bucket) state.buckets.set(inc.start, (bucket = { counts: {}, polaritySum: 0, applied: new Map() }));
      const last = bucket.applied.get(stream);
      if (last !== undefined && last >= seq) continue;
      bucket.applied.set(stream, seq);
      addCounts(bucket.counts, inc.counts);
      bucket.polaritySum += inc.polaritySum;
      for (const [label, n] of Object.entries(inc.counts)) state.totals.counts.set(label, (state.totals.counts.get(label) ?? 0) + n);
      state.totals.messages += sumCounts(inc.counts);
      state.totals.lastTs = Math.max(state.totals.lastTs, inc.start);
      this.#newest = Math.max(this.#newest, inc.start);
    }
    this.#sweep();
  }

  /** Drops buckets past retention, taking them out of their channel's totals. At most once per new minute. */
  #sweep(): void {
    const cutoff = this.#newest - this.#retentionMs;
    if (cutoff <= this.#sweptTo) return;
    this.#sweptTo = cutoff;
    for (const [channel, state] of this.#channels) {
      for (const [start, bucket] of state.buckets) {
        if (start >= cutoff) continue;
        state.buckets.delete(start);
        for (const [label, n] of Object.entries(bucket.counts)) {
          const left = (state.totals.counts.get(label) ?? 0) - n;
          if (left > 0) state.totals.counts.set(label, left);
          else state.totals.counts.delete(label);
          state.totals.messages -= n;
        }
      }
      if (state.buckets.size === 0) this.#channels.delete(channel);
    }
  }

  async range(channel: string, from: number, to: number): Promise<Bucket[]> {
    const state = this.#channels.get(channel);
    if (!state) return [];
    const out: Bucket[] = [];
    for (const [start, b] of state.buckets) {
      if (start >= from && start < to) out.push({ start, counts: { ...b.counts }, polaritySum: b.polaritySum });
    }
    return out.sort((a, b) => a.start - b.start);
  }

  async channels(limit: number): Promise<ChannelTotals[]> {
    const all: ChannelTotals[] = [];
    for (const [channel, { totals }] of this.#channels) {
      all.push({ channel, messages: totals.messages, counts: Object.fromEntries(totals.counts), lastTs: totals.lastTs });
    }
    // Ties by name, as the Mongo driver, so both give one order.
    all.sort((a, b) => b.lastTs - a.lastTs || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    return all.slice(0, Math.max(0, limit));
  }
}

export class MemoryReportStore implements ReportStore {
  readonly #reports = new Map<string, ReportRecord>();

  async create(report: ReportRecord): Promise<void> {
    if (this.#reports.has(report.id)) throw conflict(`report "${report.id}" already exists`);
    this.#reports.set(report.id, structuredClone(report));
  }

  async get(id: string): Promise<ReportRecord | null> {
    const r = this.#reports.get(id);
    return r ? structuredClone(r) : null;
  }

  async listByOwner(ownerId: string, limit: number, before?: string): Promise<ReportRecord[]> {
    const mine = [...this.#reports.values()].filter((r) => r.ownerId === ownerId && (before === undefined || r.id < before));
    return mine
      .sort((a, b) => byId(b, a))
      .slice(0, Math.max(0, limit))
      .map((r) => structuredClone(r));
  }

  async delete(id: string): Promise<boolean> {
    return this.#reports.delete(id);
  }

  async deleteByOwner(ownerId: string): Promise<number> {
    let n = 0;
    for (const [id, r] of this.#reports) {
      if (r.ownerId === ownerId) {
        this.#reports.delete(id);
        n++;
      }
    }
    return n;
  }

  async countByOwner(ownerId: string): Promise<number> {
    let n = 0;
    for (const r of this.#reports.values()) if (r.ownerId === ownerId) n++;
    return n;
  }

  async deleteCreatedBefore(cutoff: number, ownerId?: string): Promise<number> {
    let n = 0;
    for (const [id, r] of this.#reports) {
      if (r.createdAt < cutoff && (ownerId === undefined || r.ownerId === ownerId)) {
        this.#reports.delete(id);
        n++;
      }
    }
    return n;
  }
}
