// Hype and tilt moments: a burst of chat with a strong swing against the channel's own recent baseline.
// Pure logic driven by message time alone (no clock of its own: the times it is fed are its clock), so every
// process that watches a channel sees the same stream in the same order and finds the same moments at the
// same message. The rule, per channel, evaluated at each message (docs/protocol.md, "Moments"):
//
//   short    = the last `shortS` whole seconds up to the message's (the mood frame's short window)
//   baseline = the `baselineS` whole seconds before the short window
//   burst    : n(short) >= max(MIN_BURST, RATE_FACTOR x rate(baseline) x shortS)
//   hype     : score(short) >= +MIN_SCORE and score(short) - score(baseline) >= MIN_SWING
//   tilt     : score(short) <= -MIN_SCORE and score(baseline) - score(short) >= MIN_SWING
//   cooldown : no second moment of the same kind on the channel within COOLDOWN_MS of the last one
//
// score = mean P(positive) - P(negative); an empty baseline counts as neutral (0) at rate 0. Counts sit in
// one-second buckets in a ring as long as both windows (adding is O(1), a check sums the short window); the
// baseline's sums only change when the second does, so they are computed once per second. For samples, only
// the first few lines leaning each way per second of the short window are held.
import { MOMENT_SAMPLE_CHARS, MOMENT_SAMPLES, type MomentKind } from '../contract/index.js';
import type { StoredMoment } from '../store/moments.js';

/** A burst needs at least this many messages in the short window, however quiet the baseline was. */
export const MOMENT_MIN_BURST = 8;
/** ...and a rate at least this many times the baseline's. */
export const MOMENT_RATE_FACTOR = 3;
/** How far the burst's score must move from the baseline's (polarity runs -1..1). */
export const MOMENT_MIN_SWING = 0.35;
/** How positive (hype) or negative (tilt) the burst itself must be. */
export const MOMENT_MIN_SCORE = 0.3;
/** The baseline: the five minutes before the short window. */
export const MOMENT_BASELINE_S = 300;
/** At most one moment of each kind per channel within this much message time. */
export const MOMENT_COOLDOWN_MS = 30_000;

export interface MomentRule {
  /** The short window, in seconds (the hub uses MOOD_WINDOW_S, so a moment's score is the mood frame's). */
  shortS: number;
  baselineS: number;
  minBurst: number;
  rateFactor: number;
  minSwing: number;
  minScore: number;
  cooldownMs: number;
}

export const momentRule = (shortS: number): MomentRule => ({
  shortS,
  baselineS: MOMENT_BASELINE_S,
  minBurst: MOMENT_MIN_BURST,
  rateFactor: MOMENT_RATE_FACTOR,
  minSwing: MOMENT_MIN_SWING,
  minScore: MOMENT_MIN_SCORE,
  cooldownMs: MOMENT_COOLDOWN_MS,
});

/** One delivered message, as the detector needs it. */
export interface MomentInput {
  /** The message id: names the moment it sets off, the same on every process. */
  id: string;
  polarity: number;
  /** Epoch ms (the message's time, which is this module's clock). */
  ts: number;
  /** Its text, asked only for the few lines kept as samples (the hub parses it out of the frame lazily). */
  text: () => string;
}

/** A detected moment: what the store keeps (`id` is `<kind>:<message id>`; `score` the short window's, -1..1). */
export type Moment = StoredMoment;

/** Cuts a line to MOMENT_SAMPLE_CHARS code points, the last one an ellipsis when it was longer. */
export function sampleLine(text: string): string {
  // Code points, as the contract's maxLength counts them (a surrogate pair is never split).
  const points = Array.from(text.trim());
  return points.length <= MOMENT_SAMPLE_CHARS ? points.join('') : `${points.slice(0, MOMENT_SAMPLE_CHARS - 1).join('')}\u2026`;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

class ChannelMoments {
  private readonly span: number;
  private readonly seconds: Float64Array;
  private readonly n: Uint32Array;
  private readonly polarity: Float64Array;
  /**
   * Per second of the short window only (a ring of its own, so nothing older is held): the first few lines
   * that leaned positive / negative, their texts asked only when a moment fires.
   */
  private readonly sampleSeconds: Float64Array;
  private readonly positive: Array<Array<() => string>>;
  private readonly negative: Array<Array<() => string>>;
  /** The newest second seen (-1: none). */
  newestSec = -1;
  private baseline = { sec: -1, n: 0, polarity: 0 };
  readonly lastFired: Record<MomentKind, number> = { hype: -Infinity, tilt: -Infinity };

  constructor(private readonly rule: MomentRule) {
    this.span = rule.shortS + rule.baselineS;
    this.seconds = new Float64Array(this.span).fill(-1);
    this.n = new Uint32Array(this.span);
    this.polarity = new Float64Array(this.span);
    this.sampleSeconds = new Float64Array(rule.shortS).fill(-1);
    this.positive = Array.from({ length: rule.shortS }, () => []);
    this.negative = Array.from({ length: rule.shortS }, () => []);
  }

  /** Adds a message; the moment it sets off, if any (before the cooldown, which the caller applies). */
  add(channel: string, m: MomentInput): Moment | null {
    const sec = Math.floor(m.ts / 1000);
    if (this.newestSec >= 0 && sec <= this.newestSec - this.span) return null; // older than both windows
    const slot = sec % this.span;
    if (this.seconds[slot] !== sec) {
      this.seconds[slot] = sec;
      this.n[slot] = 0;
      this.polarity[slot] = 0;
    }
    (this.n[slot] as number)++;
    this.polarity[slot] = (this.polarity[slot] as number) + m.polarity;
    const sampleSlot = sec % this.rule.shortS;
    if (this.sampleSeconds[sampleSlot] !== sec) {
      this.sampleSeconds[sampleSlot] = sec;
      this.positive[sampleSlot] = [];
      this.negative[sampleSlot] = [];
    }
    const lean = m.polarity > 0 ? this.positive[sampleSlot] : m.polarity < 0 ? this.negative[sampleSlot] : undefined;
    if (lean && lean.length < MOMENT_SAMPLES) lean.push(m.text);
    if (sec > this.newestSec) this.newestSec = sec;
    return this.evaluate(channel, m);
  }

  private evaluate(channel: string, m: MomentInput): Moment | null {
    const { rule } = this;
    const now = this.newestSec;
    const short = this.sum(now - rule.shortS + 1, now);
    if (short.n < rule.minBurst) return null;
    if (this.baseline.sec !== now) this.baseline = { sec: now, ...this.sum(now - this.span + 1, now - rule.shortS) };
    const base = this.baseline;
    if (short.n < rule.rateFactor * (base.n / rule.baselineS) * rule.shortS) return null;
    const score = short.polarity / short.n;
    const baseScore = base.n === 0 ? 0 : base.polarity / base.n;
    let kind: MomentKind;
    if (score >= rule.minScore && score - baseScore >= rule.minSwing) kind = 'hype';
    else if (score <= -rule.minScore && baseScore - score >= rule.minSwing) kind = 'tilt';
    else return null;
    const ts = Math.max(m.ts, now * 1000);
    if (ts - this.lastFired[kind] < rule.cooldownMs) return null;
    this.lastFired[kind] = ts;
    return { id: `${kind}:${m.id}`, channel, kind, score: round(score), ts: m.ts, sample: this.samples(kind, now) };
  }

  /** Messages held in both windows as of `now` (epoch ms): what a rebuild from history compares against. */
  held(now: number): number {
    const sec = Math.floor(now / 1000);
    return this.sum(sec - this.span + 1, sec).n;
  }

  private sum(from: number, to: number): { n: number; polarity: number } {
    let n = 0;
    let polarity = 0;
    for (let sec = Math.max(from, 0); sec <= to; sec++) {
      const slot = sec % this.span;
      if (this.seconds[slot] !== sec) continue;
      n += this.n[slot] as number;
      polarity += this.polarity[slot] as number;
    }
    return { n, polarity };
  }

  /** The burst's first lines that lean its way, oldest first. */
  private samples(kind: MomentKind, now: number): string[] {
    const out: string[] = [];
    const lines = kind === 'hype' ? this.positive : this.negative;
    for (let sec = now - this.rule.shortS + 1; sec <= now && out.length < MOMENT_SAMPLES; sec++) {
      const slot = sec % this.rule.shortS;
      if (this.sampleSeconds[slot] !== sec) continue;
      for (const text of lines[slot] ?? []) {
        if (out.length === MOMENT_SAMPLES) break;
        const line = sampleLine(text());
        if (line !== '') out.push(line);
      }
    }
    return out;
  }
}

/** Moments per channel, for the channels this process delivers. */
export class MomentDetector {
  private readonly channels = new Map<string, ChannelMoments>();

  constructor(private readonly rule: MomentRule) {}

  /** Feeds one delivered message (per channel, in delivery order); returns the moment it sets off, if any. */
  add(channel: string, m: MomentInput): Moment | null {
    let state = this.channels.get(channel);
    if (!state) this.channels.set(channel, (state = new ChannelMoments(this.rule)));
    return state.add(channel, m);
  }

  /**
   * Rebuilds a channel's state from history (a process that starts watching a channel mid-stream), when
   * history holds more of the windows than this process saw: the messages are replayed with their moments
   * discarded (they were announced when they happened), so the cooldowns and the next moment match those of
   * a process that watched all along. `now`: the newest time the windows should reach to.
   */
  rebuild(channel: string, messages: readonly MomentInput[], now: number): void {
    const spanMs = (this.rule.shortS + this.rule.baselineS) * 1000;
    const inSpan = messages.filter((m) => now - m.ts < spanMs);
    const current = this.channels.get(channel);
    if (inSpan.length === 0 || (current && current.held(now) >= inSpan.length)) return;
    const state = new ChannelMoments(this.rule);
    for (const m of inSpan) state.add(channel, m);
    if (current) {
      state.lastFired.hype = Math.max(state.lastFired.hype, current.lastFired.hype);
      state.lastFired.tilt = Math.max(state.lastFired.tilt, current.lastFired.tilt);
    }
    this.channels.set(channel, state);
  }

  /** Forgets channels with nothing in either window at `now` (epoch ms); their cooldowns have passed too. */
  sweep(now: number): void {
    const spanS = this.rule.shortS + this.rule.baselineS + Math.ceil(this.rule.cooldownMs / 1000);
    for (const [channel, state] of this.channels) if (Math.floor(now / 1000) - state.newestSec > spanS) this.channels.delete(channel);
  }

  /** Channels with state (tests, metrics). */
  get size(): number {
    return this.channels.size;
  }
}
