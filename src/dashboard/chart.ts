// A small wrapper over uPlot for sentiment series: one line per label (message counts) on the left axis
// and the mean score (-1..1) on the right. Used for the live mood chart and for history timelines.
import uPlot from 'uplot';

export interface SentimentPoint {
  /** Epoch ms. */
  ts: number;
  counts: Record<string, number>;
  score: number | null;
}

const DEFAULT_LABELS = ['negative', 'neutral', 'positive'];
const FALLBACK_COLOURS = ['#bf8700', '#0969da', '#8250df', '#1b7c83'];

function cssColour(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
  return value === '' ? fallback : value;
}

export class SentimentChart {
  private points: SentimentPoint[] = [];
  private labels: string[] = [...DEFAULT_LABELS];
  private plot: uPlot | null = null;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly el: HTMLElement,
    /** Keep only the last `windowMs` of points (by their time); 0 keeps everything. */
    private readonly windowMs = 0,
    private readonly height = 220,
  ) {
    this.resize = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: this.height }));
    this.resize.observe(el);
    this.build();
  }

  get length(): number {
    return this.points.length;
  }

  /** Replaces every point (a timeline). */
  setPoints(points: SentimentPoint[]): void {
    this.points = [...points].sort((a, b) => a.ts - b.ts);
    this.refresh();
  }

  /** Appends one point (a mood frame), dropping those older than the window. */
  push(point: SentimentPoint): void {
    const last = this.points[this.points.length - 1];
    if (last && point.ts <= last.ts) return;
    this.points.push(point);
    if (this.windowMs > 0) {
      const cutoff = point.ts - this.windowMs;
      while ((this.points[0]?.ts ?? cutoff) < cutoff) this.points.shift();
    }
    this.refresh();
  }

  clear(): void {
    this.points = [];
    this.refresh();
  }

  private width(): number {
    return Math.max(240, Math.floor(this.el.clientWidth));
  }

  private refresh(): void {
    const seen = new Set(this.labels);
    const extra = this.points.flatMap((p) => Object.keys(p.counts)).filter((l) => !seen.has(l));
    if (extra.length > 0) {
      this.labels = [...this.labels, ...new Set(extra)];
      this.build();
      return;
    }
    this.plot?.setData(this.data());
    this.el.dataset.points = String(this.points.length);
  }

  private data(): uPlot.AlignedData {
    const xs = this.points.map((p) => p.ts / 1000);
    const series = this.labels.map((l) => this.points.map((p) => p.counts[l] ?? 0));
    const score = this.points.map((p) => p.score);
    return [xs, ...series, score];
  }

  private build(): void {
    this.plot?.destroy();
    const series: uPlot.Series[] = [
      {},
      ...this.labels.map((label, i) => ({
        label,
        scale: 'count',
        stroke: cssColour(label, FALLBACK_COLOURS[i % FALLBACK_COLOURS.length] as string),
        width: 2,
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : String(v)),
      })),
      {
        label: 'mean score',
        scale: 'score',
        stroke: cssColour('score', '#8250df'),
        width: 2,
        dash: [6, 4],
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : v.toFixed(2)),
      },
    ];
    const axisColour = cssColour('muted', '#59636e');
    const grid = { stroke: cssColour('line', '#d1d9e0'), width: 1 };
    this.plot = new uPlot(
      {
        width: this.width(),
        height: this.height,
        series,
        scales: {
          x: this.windowMs > 0 ? { time: true, range: (_u, _min, max) => [max - this.windowMs / 1000, max] } : { time: true },
          count: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] },
          score: { range: [-1, 1] },
        },
        axes: [
          { stroke: axisColour, grid },
          { scale: 'count', stroke: axisColour, grid, label: 'messages', size: 50 },
          { scale: 'score', side: uPlot.Axis.Side.Right, stroke: axisColour, grid: { show: false }, label: 'score', size: 50 },
        ],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      this.data(),
      this.el,
    );
    this.el.dataset.points = String(this.points.length);
  }
}
