// The mood chart, a small wrapper over uPlot: one mood line (mean polarity, -1..1 on the left axis, green
// above 0 and red below) over a volume band (messages per minute, right axis, the bottom of the plot), local
// time on the x axis, moments as clickable markers. Gaps (quiet windows, `score: null`) break the line
// instead of reading as neutral. Used for the live chart (the channel's past from /timeline, then mood
// frames) and for history timelines.
import uPlot from 'uplot';
import { clock, MOMENT_TEXT, type Moment } from './mood.js';

export interface SentimentPoint {
  /** Epoch ms. */
  ts: number;
  counts: Record<string, number>;
  /** Mean polarity; null for a quiet window (no messages). */
  score: number | null;
  /** Messages per minute over the point's window; default: the counts' total over `spanS`. */
  perMinute?: number;
  /** The seconds the counts cover (a timeline bucket, a mood window); default 60. */
  spanS?: number;
}

function cssColour(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
  return value === '' ? fallback : value;
}

/** `#rrggbb` with an alpha (canvas styles do not take color-mix everywhere); other colours as they are. */
function withAlpha(colour: string, alpha: number): string {
  if (!/^#[0-9a-f]{6}$/i.test(colour)) return colour;
  return (
    colour +
    Math.round(alpha * 255)
      .toString(16)
      .padStart(2, '0')
  );
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, n) => a + (typeof n === 'number' ? n : 0), 0);

/** A point's volume in messages per minute. */
export function perMinute(p: SentimentPoint): number {
  if (typeof p.perMinute === 'number' && Number.isFinite(p.perMinute)) return p.perMinute;
  return (total(p.counts) * 60) / Math.max(1, p.spanS ?? 60);
}

/** The shortest span the x axis shows (s): a single point sits in the middle of a minute, not on a 50-year axis. */
const MIN_SPAN_S = 60;
/** Live points further apart than this (ms) are not joined: chat was quiet between them. */
const GAP_MS = 15_000;

export class SentimentChart {
  private points: SentimentPoint[] = [];
  private moments: Moment[] = [];
  private plot: uPlot | null = null;
  private readonly resize: ResizeObserver;
  private readonly empty: HTMLElement;
  private readonly markers: HTMLElement;
  private highlighted: number | null = null;
  private readonly markerButtons = new Map<string, HTMLButtonElement>();

  constructor(
    private readonly el: HTMLElement,
    /** Keep only the last `windowMs` of points (by their time); 0 keeps everything. */
    private readonly windowMs = 0,
    private readonly height = 240,
    /** Told when a moment's marker is clicked. */
    private readonly onMoment?: (m: Moment) => void,
  ) {
    this.el.classList.add('mood-chart');
    this.empty = document.createElement('p');
    this.empty.className = 'chart-empty';
    this.empty.textContent = 'No chat yet: the mood line starts with the first message.';
    this.markers = document.createElement('div');
    this.markers.className = 'chart-markers';
    this.resize = new ResizeObserver(() => {
      const width = this.width();
      const height = this.chartHeight();
      if (this.plot && (this.plot.width !== width || this.plot.height !== height)) this.plot.setSize({ width, height });
    });
    this.resize.observe(el);
    this.build();
  }

  get length(): number {
    return this.points.length;
  }

  /** Replaces every point (a timeline, or the channel's past). */
  setPoints(points: SentimentPoint[]): void {
    this.points = [...points].sort((a, b) => a.ts - b.ts);
    this.trim();
    this.refresh();
  }

  /** Puts the channel's past before the points already here (live ones that came while it loaded). */
  addPast(past: SentimentPoint[]): void {
    const first = this.points[0]?.ts ?? Infinity;
    const older = past.filter((p) => p.ts < first).sort((a, b) => a.ts - b.ts);
    const joint = older[older.length - 1];
    // The live window overlaps the last bucket: break the line where the two kinds of point meet if far apart.
    if (joint && this.points[0] && this.points[0].ts - joint.ts > GAP_MS * 2)
      older.push({ ts: joint.ts + 1000, counts: {}, score: null, perMinute: 0 });
    this.points = [...older, ...this.points];
    this.trim();
    this.refresh();
  }

  /** Appends one point (a mood frame), dropping those older than the window. */
  push(point: SentimentPoint): void {
    const last = this.points[this.points.length - 1];
    if (last && point.ts <= last.ts) return;
    // Traffic stopped between the two (no frames while quiet): break the line rather than join across it.
    if (last && point.ts - last.ts > GAP_MS && last.score !== null)
      this.points.push({ ts: last.ts + 1000, counts: {}, score: null, perMinute: 0 });
    this.points.push(point);
    this.trim();
    this.refresh();
  }

  setMoments(moments: Moment[]): void {
    this.moments = [...moments].sort((a, b) => a.ts - b.ts);
    this.plot?.redraw(false);
  }

  /** Marks one moment (by its ts) as the selected one. */
  highlight(ts: number | null): void {
    this.highlighted = ts;
    this.plot?.redraw(false);
  }

  clear(): void {
    this.points = [];
    this.moments = [];
    this.highlighted = null;
    this.refresh();
  }

  private trim(): void {
    const last = this.points[this.points.length - 1];
    if (this.windowMs <= 0 || !last) return;
    const cutoff = last.ts - this.windowMs;
    while ((this.points[0]?.ts ?? cutoff) < cutoff) this.points.shift();
  }

  private width(): number {
    return Math.max(200, Math.floor(this.el.clientWidth));
  }

  /** Shorter on a phone, taller where the card is wide. */
  private chartHeight(): number {
    const w = this.el.clientWidth;
    return w < 500 ? Math.round(this.height * 0.85) : w >= 700 ? Math.round(this.height * 1.45) : this.height;
  }

  private refresh(): void {
    this.plot?.setData(this.data());
    this.el.dataset.points = String(this.points.length);
    this.empty.hidden = this.points.length > 0;
  }

  private data(): uPlot.AlignedData {
    const xs = this.points.map((p) => p.ts / 1000);
    const volume = this.points.map((p) => Math.round(perMinute(p) * 10) / 10);
    const score = this.points.map((p) => (typeof p.score === 'number' && Number.isFinite(p.score) ? p.score : null));
    return [xs, volume, score];
  }

  /** The x range (s): the data's own span, at least a minute, centred on a lone point; the last 5 minutes when empty. */
  private xRange(): [number, number] {
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    if (!first || !last) {
      const now = Date.now() / 1000;
      return [now - 300, now];
    }
    let lo = first.ts / 1000;
    let hi = last.ts / 1000;
    if (hi - lo < MIN_SPAN_S) {
      const mid = (lo + hi) / 2;
      lo = mid - MIN_SPAN_S / 2;
      hi = mid + MIN_SPAN_S / 2;
    }
    const pad = (hi - lo) * 0.02;
    return [lo - pad, hi + pad];
  }

  private build(): void {
    this.plot?.destroy();
    const positive = cssColour('positive', '#1a7f37');
    const negative = cssColour('negative', '#cf222e');
    const neutral = cssColour('neutral', '#6e7781');
    const volume = cssColour('volume', '#8c959f');
    const axisColour = cssColour('muted', '#59636e');
    const grid = { stroke: cssColour('line', '#d1d9e0'), width: 1 };
    const moodStroke = (u: uPlot): CanvasRenderingContext2D['strokeStyle'] => {
      const top = u.valToPos(1, 'score', true);
      const zero = u.valToPos(0, 'score', true);
      const bottom = u.valToPos(-1, 'score', true);
      if (![top, zero, bottom].every(Number.isFinite) || bottom <= top) return neutral;
      const g = u.ctx.createLinearGradient(0, top, 0, bottom);
      const z = Math.min(1, Math.max(0, (zero - top) / (bottom - top)));
      g.addColorStop(0, positive);
      g.addColorStop(Math.max(0, z - 0.06), positive);
      g.addColorStop(z, neutral);
      g.addColorStop(Math.min(1, z + 0.06), negative);
      g.addColorStop(1, negative);
      return g;
    };
    const series: uPlot.Series[] = [
      { label: 'time', value: (_u, v: number | null) => (v === null ? '–' : clock(v * 1000)) },
      {
        label: 'messages/min',
        scale: 'volume',
        stroke: volume,
        fill: withAlpha(volume, 0.35),
        width: 1,
        points: { show: false },
      },
      { label: 'mood', scale: 'score', stroke: moodStroke, width: 3, spanGaps: false, points: { show: (u) => u.data[0].length <= 2 } },
    ];
    this.plot = new uPlot(
      {
        width: this.width(),
        height: this.chartHeight(),
        series,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        scales: {
          x: { time: true, range: () => this.xRange() },
          score: { range: [-1, 1] },
          // The band keeps to the bottom ~40 % of the plot, under the mood line.
          volume: { range: (_u, _min, max: number | null) => [0, Math.max(6, (max ?? 0) * 2.5)] },
        },
        axes: [
          // Two rows of values (time, and the date where it changes) above the label.
          { stroke: axisColour, grid, label: 'local time', labelSize: 16, size: 46, space: 70 },
          {
            scale: 'score',
            stroke: axisColour,
            grid,
            label: 'mood',
            labelSize: 18,
            size: 46,
            splits: () => [-1, -0.5, 0, 0.5, 1],
            values: (_u, splits) => splits.map((v) => (v > 0 ? `+${v}` : v < 0 ? `−${-v}` : '0')),
          },
          {
            scale: 'volume',
            side: uPlot.Axis.Side.Right,
            stroke: axisColour,
            grid: { show: false },
            label: 'msgs/min',
            labelSize: 18,
            size: 48,
            values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')),
          },
        ],
        hooks: { draw: [(u) => this.drawOverlay(u, positive, negative)] },
      },
      this.data(),
      this.el,
    );
    this.plot.over.append(this.markers);
    this.el.append(this.empty);
    this.refresh();
  }

  /** The zero line and the moment markers (buttons over the plot, so they are clickable and focusable). */
  private drawOverlay(u: uPlot, positive: string, negative: string): void {
    const ctx = u.ctx;
    const y0 = u.valToPos(0, 'score', true);
    ctx.save();
    ctx.strokeStyle = cssColour('muted', '#59636e');
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y0);
    ctx.lineTo(u.bbox.left + u.bbox.width, y0);
    ctx.stroke();
    const [lo, hi] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    // The time axis shown (epoch ms), for tests and tools: never 1970.
    this.el.dataset.from = String(Math.round(lo * 1000));
    this.el.dataset.to = String(Math.round(hi * 1000));
    const visible = this.moments.filter((m) => m.ts / 1000 >= lo && m.ts / 1000 <= hi);
    ctx.setLineDash([2, 3]);
    for (const m of visible) {
      const x = u.valToPos(m.ts / 1000, 'x', true);
      ctx.strokeStyle = m.kind === 'hype' ? positive : negative;
      ctx.lineWidth = this.highlighted === m.ts ? 3 : 1.5;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    ctx.restore();
    // Buttons are kept across redraws (a frame a second redraws): only their place and selection change.
    const keep = new Set<string>();
    for (const m of visible) {
      const key = `${m.kind}:${m.ts}`;
      keep.add(key);
      let b = this.markerButtons.get(key);
      if (!b) {
        b = document.createElement('button');
        b.type = 'button';
        b.className = `marker ${m.kind}`;
        b.textContent = MOMENT_TEXT[m.kind].emoji;
        b.title = `${MOMENT_TEXT[m.kind].word} at ${clock(m.ts)}`;
        b.setAttribute('aria-label', `${MOMENT_TEXT[m.kind].word} moment at ${clock(m.ts)}`);
        b.dataset.ts = String(m.ts);
        b.addEventListener('click', () => this.onMoment?.(m));
        this.markerButtons.set(key, b);
        this.markers.append(b);
      }
      b.classList.toggle('selected', this.highlighted === m.ts);
      b.style.left = `${u.valToPos(m.ts / 1000, 'x')}px`;
    }
    for (const [key, b] of this.markerButtons) {
      if (keep.has(key)) continue;
      b.remove();
      this.markerButtons.delete(key);
    }
  }
}
