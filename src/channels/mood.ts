// A channel's mood over sliding windows of message time: counts per label, mean polarity (P(positive) -
// P(negative)) and messages per second. One-second buckets in a ring the length of the longest window,
// so adding is O(1) and a summary is O(window) with no per-message allocation.

export interface MoodSummary {
  counts: Record<string, number>;
  /** Mean polarity in [-1, 1]; null with no messages (a quiet window is not a neutral one). */
  score: number | null;
  /** Messages per second over the window. */
  rate: number;
  window_s: number;
}

export class MoodWindow {
  private readonly seconds: Float64Array;
  private readonly n: Uint32Array;
  private readonly polarity: Float64Array;
  private readonly counts: Uint32Array;
  /** Epoch ms of the newest message (0: none yet). */
  lastTs = 0;

  constructor(
    private readonly labels: readonly string[],
    private readonly spanS: number,
  ) {
    this.seconds = new Float64Array(spanS).fill(-1);
    this.n = new Uint32Array(spanS);
    this.polarity = new Float64Array(spanS);
    this.counts = new Uint32Array(spanS * labels.length);
  }

  add(label: string, polarity: number, ts: number): void {
    const sec = Math.floor(ts / 1000);
    const slot = sec % this.spanS;
    const width = this.labels.length;
    if (this.seconds[slot] !== sec) {
      this.seconds[slot] = sec;
      this.n[slot] = 0;
      this.polarity[slot] = 0;
      this.counts.fill(0, slot * width, slot * width + width);
    }
    (this.n[slot] as number)++;
    this.polarity[slot] = (this.polarity[slot] as number) + polarity;
    const i = this.labels.indexOf(label);
    if (i >= 0) (this.counts[slot * width + i] as number)++;
    if (ts > this.lastTs) this.lastTs = ts;
  }

  /** The last `windowS` whole seconds up to and including now's. */
  summary(now: number, windowS: number): MoodSummary {
    const nowSec = Math.floor(now / 1000);
    const width = this.labels.length;
    const totals = new Array<number>(width).fill(0);
    let n = 0;
    let polarity = 0;
    for (let k = 0; k < Math.min(windowS, this.spanS); k++) {
      const sec = nowSec - k;
      const slot = ((sec % this.spanS) + this.spanS) % this.spanS;
      if (this.seconds[slot] !== sec) continue;
      n += this.n[slot] as number;
      polarity += this.polarity[slot] as number;
      for (let i = 0; i < width; i++) totals[i] = (totals[i] as number) + (this.counts[slot * width + i] as number);
    }
    const counts: Record<string, number> = {};
    this.labels.forEach((label, i) => (counts[label] = totals[i] as number));
    return { counts, score: n === 0 ? null : round(polarity / n), rate: round(n / windowS), window_s: windowS };
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** P(positive) - P(negative) by label name, for any model whose labels say so (case-insensitive). */
export function polarityOf(scores: Readonly<Record<string, number>>): number {
  let pos = 0;
  let neg = 0;
  for (const label in scores) {
    const l = label.toLowerCase();
    if (l === 'positive' || l === 'pos') pos = scores[label] as number;
    else if (l === 'negative' || l === 'neg') neg = scores[label] as number;
  }
  return pos - neg;
}
