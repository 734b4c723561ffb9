// What the history API computes from the store: timelines (counts per label and mean score per bucket)
// and report summaries. Timelines whose bucket is a whole number of minutes are sums of the stored
// one-minute buckets; finer ones are computed from the messages themselves, within a bound.
import { badRequest } from '../errors.js';
import { BUCKET_MS, type BucketStore, type MessageStore, type ReportSummary, type StoredMessage } from './ports.js';

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
  /** Messages read to build a sub-minute timeline or a report's extremes. */
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
      throw badRequest(`that is ${n} buckets; at most ${this.limits.maxBuckets}: use a larger bucket or a shorter range`, 'validation_failed');
    }
    const sums = Array.from({ length: n }, () => ({ counts: this.zero(), n: 0, polarity: 0 }));
    const add = (ts: number, counts: Record<string, number>, polarity: number) => {
      const slot = sums[Math.floor((ts - start) / size)];
      if (!slot) return;
      for (const [label, c] of Object.entries(counts)) {
        slot.counts[label] = (slot.counts[label] ?? 0) + c;
        slot.n += c;
      }
      slot.polarity += polarity;
    };
    if (size % BUCKET_MS === 0 && start % BUCKET_MS === 0) {
      for (const b of await this.buckets.range(channel, start, start + n * size)) add(b.start, b.counts, b.polaritySum);
    } else {
      const scanned = await this.scan(channel, start, start + n * size);
      if (scanned.truncated) {
        throw badRequest(`more than ${this.limits.maxScan} messages in range: use a bucket that is a whole number of minutes`, 'validation_failed');
      }
      for (const m of scanned.messages) add(m.ts, { [m.label]: 1 }, m.polarity);
    }
    return sums.map((s, i) => ({ ts: start + i * size, counts: s.counts, score: s.n === 0 ? null : s.polarity / s.n }));
  }

  /** A saved analysis of [from, to): totals, a series of at most ~120 points, and the extremes. */
  async summarize(channel: string, from: number, to: number): Promise<ReportSummary> {
    const minutes = Math.max(1, Math.ceil((to - from) / BUCKET_MS / 120));
    const bucketS = (minutes * BUCKET_MS) / 1000;
    const points = await this.timeline(channel, Math.floor(from / BUCKET_MS) * BUCKET_MS, to, bucketS);
    const counts = this.zero();
    let n = 0;
    let polarity = 0;
    for (const p of points) {
      let pn = 0;
      for (const [label, c] of Object.entries(p.counts)) {
        counts[label] = (counts[label] ?? 0) + c;
        pn += c;
      }
      n += pn;
      if (p.score !== null) polarity += p.score * pn;
    }
    const { messages } = await this.scan(channel, from, to);
    const byPolarity = [...messages].sort((a, b) => a.polarity - b.polarity);
    const pick = (m: StoredMessage) => ({ id: m.id, text: m.text, score: m.polarity });
    return {
      messages: n,
      counts,
      score: n === 0 ? null : polarity / n,
      bucket_s: bucketS,
      buckets: points,
      most_negative: byPolarity.slice(0, 5).filter((m) => m.polarity < 0).map(pick),
      most_positive: byPolarity.slice(-5).reverse().filter((m) => m.polarity > 0).map(pick),
    };
  }

  private zero(): Record<string, number> {
    return Object.fromEntries(this.labels.map((l) => [l, 0]));
  }

  /** Messages of [from, to), newest first, paging through the store up to the scan bound. */
  private async scan(channel: string, from: number, to: number): Promise<{ messages: StoredMessage[]; truncated: boolean }> {
    const out: StoredMessage[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await this.messages.list(channel, { limit: 1000, from, to, ...(before === undefined ? {} : { before }) });
      out.push(...page);
      if (page.length < 1000) return { messages: out, truncated: false };
      if (out.length >= this.limits.maxScan) return { messages: out, truncated: true };
      before = page[page.length - 1]?.id;
    }
  }
}
