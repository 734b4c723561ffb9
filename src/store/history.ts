// What the history API computes from the store: timelines (counts per label and mean score per bucket)
// and report summaries. Timelines whose bucket is a whole number of minutes are sums of the stored
// one-minute buckets; finer ones are computed from the messages themselves (three fields of each), within
// a bound that is checked against the minute buckets before any message is read. Reports count exactly
// [from, to): whole minutes from their buckets, the partial minutes at either end from their messages.
import { badRequest } from '../errors.js';
import { BUCKET_MS, type BucketStore, type MessageStore, type QuotedMessage, type ReportSummary } from './stores.js';

export interface TimelinePoint {
  /** Epoch ms of the bucket's start. */
  ts: number;
  counts: Record<string, number>;
  /** Mean polarity, null for an empty bucket. */
  score: number | null;
}

export interface HistoryLimits {
  /** Points in one timeline. */
  maxBuckets: number;
  /** Messages read for a sub-minute timeline or a partial minute of a report. */
  maxScan: number;
}

const DEFAULT_LIMITS: HistoryLimits = { maxBuckets: 1440, maxScan: 50_000 };

export class HistoryService {
  constructor(
    private readonly messages: MessageStore,
    private readonly buckets: BucketStore,
    private readonly labels: readonly string[],
    private readonly limits: HistoryLimits = DEFAULT_LIMITS,
  ) {}

  /** Dense series: every bucket of [from, to) appears, empty ones with zero counts. */
  async timeline(channel: string, from: number, to: number, bucketS: number): Promise<TimelinePoint[]> {
    if (!(to > from)) throw badRequest('`to` must be after `from`', 'validation_failed');
    const size = bucketS * 1000;
    const start = Math.floor(from / size) * size;
    const n = Math.ceil((to - start) / size);
    if (n > this.limits.maxBuckets) {
      throw badRequest(
        `that is ${n} buckets; at most ${this.limits.maxBuckets}: use a larger bucket or a shorter range`,
        'validation_failed',
      );
    }
    const series = new Series(this.labels, start, size, n);
    if (size % BUCKET_MS === 0 && start % BUCKET_MS === 0) {
      for (const b of await this.buckets.range(channel, start, start + n * size)) series.add(b.start, b.counts, b.polaritySum);
    } else {
      const end = start + n * size;
      const tooMany = () =>
        badRequest(
          `more than ${this.limits.maxScan} messages in range: use a bucket that is a whole number of minutes`,
          'validation_failed',
        );
      // The whole minutes inside the range hold at least this many: a busy range is refused unread.
      const inside = await this.buckets.range(channel, ceilMinute(start), floorMinute(end));
      if (inside.reduce((sum, b) => sum + countOf(b.counts), 0) > this.limits.maxScan) throw tooMany();
      const points = await this.messages.points(channel, start, end, this.limits.maxScan + 1);
      if (points.length > this.limits.maxScan) throw tooMany();
      for (const p of points) series.add(p.ts, { [p.label]: 1 }, p.polarity);
    }
    return series.points();
  }

  /**
   * A saved analysis of [from, to): totals, a series of at most ~120 points starting at from's minute,
   * and the extremes. Only messages inside [from, to) count, in the totals and in the series.
   */
  async summarize(channel: string, from: number, to: number): Promise<ReportSummary> {
    if (!(to > from)) throw badRequest('`to` must be after `from`', 'validation_failed');
    const minutes = Math.max(1, Math.ceil((to - from) / BUCKET_MS / 120));
    const size = minutes * BUCKET_MS;
    const first = floorMinute(from);
    const series = new Series(this.labels, first, size, Math.ceil((to - first) / size));
    const wholeFrom = ceilMinute(from);
    const wholeTo = floorMinute(to);
    // A partial minute from its messages; one with more than a scan's worth counts as its whole bucket
    // rather than failing the report.
    const partial = async (lo: number, hi: number) => {
      if (lo >= hi) return;
      const points = await this.messages.points(channel, lo, hi, this.limits.maxScan + 1);
      if (points.length <= this.limits.maxScan) {
        for (const p of points) series.add(p.ts, { [p.label]: 1 }, p.polarity);
        return;
      }
      const minute = floorMinute(lo);
      for (const b of await this.buckets.range(channel, minute, minute + BUCKET_MS)) series.add(b.start, b.counts, b.polaritySum);
    };
    if (wholeFrom <= wholeTo) {
      for (const b of await this.buckets.range(channel, wholeFrom, wholeTo)) series.add(b.start, b.counts, b.polaritySum);
      await partial(from, wholeFrom);
      await partial(wholeTo, to);
    } else await partial(from, to); // within one minute

    const { counts, n, polarity } = series.total();
    const extremes = await this.messages.extremes(channel, from, to, 5);
    const pick = (m: QuotedMessage) => ({ id: m.id, text: m.text, score: m.polarity });
    return {
      messages: n,
      counts,
      score: n === 0 ? null : polarity / n,
      bucket_s: size / 1000,
      buckets: series.points(),
      most_negative: extremes.negative.map(pick),
      most_positive: extremes.positive.map(pick),
    };
  }
}

interface Slot {
  counts: Record<string, number>;
  n: number;
  polarity: number;
}

/** `length` consecutive slots of `size` ms from `start`: counts per label and the polarity sum in each. */
class Series {
  private readonly slots: Slot[];

  constructor(
    private readonly labels: readonly string[],
    private readonly start: number,
    private readonly size: number,
    length: number,
  ) {
    this.slots = Array.from({ length }, () => this.empty());
  }

  /** Adds counts at `ts`; a time outside the series is ignored. */
  add(ts: number, counts: Record<string, number>, polarity: number): void {
    const slot = this.slots[Math.floor((ts - this.start) / this.size)];
    if (slot) merge(slot, counts, polarity);
  }

  points(): Array<{ ts: number; counts: Record<string, number>; score: number | null }> {
    return this.slots.map((s, i) => ({ ts: this.start + i * this.size, counts: s.counts, score: s.n === 0 ? null : s.polarity / s.n }));
  }

  total(): Slot {
    const all = this.empty();
    for (const slot of this.slots) merge(all, slot.counts, slot.polarity);
    return all;
  }

  private empty(): Slot {
    return { counts: Object.fromEntries(this.labels.map((l) => [l, 0])), n: 0, polarity: 0 };
  }
}

function merge(slot: Slot, counts: Record<string, number>, polarity: number): void {
  for (const [label, c] of Object.entries(counts)) {
    slot.counts[label] = (slot.counts[label] ?? 0) + c;
    slot.n += c;
  }
  slot.polarity += polarity;
}

const floorMinute = (ms: number): number => Math.floor(ms / BUCKET_MS) * BUCKET_MS;
const ceilMinute = (ms: number): number => Math.ceil(ms / BUCKET_MS) * BUCKET_MS;
const countOf = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
