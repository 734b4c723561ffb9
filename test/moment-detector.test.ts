// The moment detector (src/channels/moments.ts) on scripted streams: its only clock is the message times it
// is fed, so every case here sets them. Calm baselines then bursts (hype, tilt), bursts that are not
// moments (neutral, too small, no swing, no faster than the baseline), the cooldown, and the same moments
// on a process that rebuilt its state from history mid-stream.
import { describe, expect, it } from 'vitest';
import {
  MOMENT_BASELINE_S,
  MOMENT_COOLDOWN_MS,
  MOMENT_MIN_BURST,
  MomentDetector,
  momentRule,
  sampleLine,
  type Moment,
  type MomentInput,
} from '../src/channels/moments.js';

const SHORT_S = 10;
const T0 = 1_700_000_000_000;
const CH = 'room:finals';

let seq = 0;
const msg = (ts: number, polarity: number, text = `line ${seq}`): MomentInput => {
  const id = `M${String(seq++).padStart(6, '0')}`;
  return { id, polarity, ts, text: () => text };
};

/** `n` messages of `polarity` spread evenly over [from, from + spanMs). */
const stream = (from: number, spanMs: number, n: number, polarity: number, text?: (i: number) => string): MomentInput[] =>
  Array.from({ length: n }, (_, i) => msg(from + Math.floor((i * spanMs) / n), polarity, text?.(i)));

/** A calm baseline: one neutral-ish message every 20 s over the five minutes before `until`. */
const calm = (until: number): MomentInput[] => stream(until - MOMENT_BASELINE_S * 1000, MOMENT_BASELINE_S * 1000, 15, 0.02);

function feed(detector: MomentDetector, messages: readonly MomentInput[], channel = CH): Moment[] {
  const out: Moment[] = [];
  for (const m of messages) {
    const moment = detector.add(channel, m);
    if (moment) out.push(moment);
  }
  return out;
}

const detector = () => new MomentDetector(momentRule(SHORT_S));

describe('MomentDetector', () => {
  it('finds one hype moment in a burst of positive chat after a calm baseline, with its first positive lines', () => {
    const d = detector();
    const start = T0 + MOMENT_BASELINE_S * 1000;
    expect(feed(d, calm(start))).toEqual([]);
    const burst = stream(start, 3_000, 12, 0.9, (i) => `PogChamp ${i}`);
    const moments = feed(d, burst);
    expect(moments).toHaveLength(1);
    const [hype] = moments as [Moment];
    // It fires at the burst's MIN_BURST-th message (the calm baseline is older than the short window).
    const trigger = burst[MOMENT_MIN_BURST - 1] as MomentInput;
    expect(hype).toEqual({
      id: `hype:${trigger.id}`,
      channel: CH,
      kind: 'hype',
      score: 0.9,
      ts: trigger.ts,
      sample: ['PogChamp 0', 'PogChamp 1', 'PogChamp 2'],
    });
  });

  it('finds a tilt moment in a burst of negative chat, sampling only the lines that lean negative', () => {
    const d = detector();
    const start = T0 + MOMENT_BASELINE_S * 1000;
    feed(d, calm(start));
    const burst = stream(start, 2_000, 10, -0.8, (i) => `Sadge ${i}`);
    burst.splice(1, 0, msg(start + 100, 0.5, 'one happy viewer'));
    const moments = feed(d, burst);
    expect(moments.map((m) => [m.kind, m.sample])).toEqual([['tilt', ['Sadge 0', 'Sadge 1', 'Sadge 2']]]);
    expect(moments[0]?.score).toBeLessThanOrEqual(-0.3);
  });

  it('finds nothing in a calm channel, a neutral burst, a burst too small, or one no more positive than its baseline', () => {
    const start = T0 + MOMENT_BASELINE_S * 1000;
    const calmOnly = detector();
    expect(feed(calmOnly, [...calm(start), ...calm(start + MOMENT_BASELINE_S * 1000)])).toEqual([]);

    const neutral = detector();
    feed(neutral, calm(start));
    expect(feed(neutral, stream(start, 3_000, 40, 0.05))).toEqual([]);

    const small = detector();
    feed(small, calm(start));
    expect(feed(small, stream(start, 3_000, MOMENT_MIN_BURST - 1, 0.9))).toEqual([]);

    // Already happy: the burst is positive, but no swing from a baseline that was just as positive.
    const happy = detector();
    feed(happy, stream(T0, MOMENT_BASELINE_S * 1000, 30, 0.7));
    expect(feed(happy, stream(start, 3_000, 20, 0.9))).toEqual([]);

    // A positive swing but moderate: +0.25 is below MIN_SCORE.
    const mild = detector();
    feed(mild, stream(T0, MOMENT_BASELINE_S * 1000, 30, -0.2));
    expect(feed(mild, stream(start, 3_000, 20, 0.25))).toEqual([]);
  });

  it('needs a burst of volume: a busy channel whose short window is no busier than three times its baseline has none', () => {
    const d = detector();
    const start = T0 + MOMENT_BASELINE_S * 1000;
    // 2 messages a second for five minutes: 600, a rate of 2/s; three times that over 10 s is 60.
    feed(d, stream(T0, MOMENT_BASELINE_S * 1000, 600, 0));
    expect(feed(d, stream(start, 10_000, 50, 0.9))).toEqual([]);
    // The same chat at three times the rate is a burst.
    const busier = detector();
    feed(busier, stream(T0, MOMENT_BASELINE_S * 1000, 600, 0));
    expect(feed(busier, stream(start, 10_000, 70, 0.9)).map((m) => m.kind)).toEqual(['hype']);
  });

  it('holds a cooldown per channel and kind, by message time', () => {
    const d = detector();
    const start = T0 + MOMENT_BASELINE_S * 1000;
    feed(d, calm(start));
    expect(feed(d, stream(start, 3_000, 12, 0.9)).map((m) => m.kind)).toEqual(['hype']);
    // Still hyped 15 s later: within the cooldown, nothing more.
    expect(feed(d, stream(start + 15_000, 3_000, 30, 0.9))).toEqual([]);
    // A tilt is another kind: its own cooldown.
    expect(feed(d, stream(start + 30_000, 1_000, 20, -0.9)).map((m) => m.kind)).toEqual(['tilt']);
    // Another channel is its own too.
    feed(d, calm(start), 'room:other');
    expect(feed(d, stream(start + 1_000, 2_000, 10, 0.9), 'room:other').map((m) => m.channel)).toEqual(['room:other']);
    // Past the cooldown, a new burst against the baseline (which now holds the earlier ones) is a new hype.
    const later = start + MOMENT_COOLDOWN_MS + 60_000;
    feed(d, stream(start + 35_000, later - start - 35_000, 20, -0.2));
    expect(feed(d, stream(later, 3_000, 80, 0.95)).map((m) => m.kind)).toEqual(['hype']);
  });

  it('finds the same moments on a process that watched all along and one that rebuilt its state from history mid-stream', () => {
    const start = T0 + MOMENT_BASELINE_S * 1000;
    const first = stream(start, 3_000, 12, 0.9);
    const second = stream(start + 40_000, 3_000, 30, -0.9);
    const before = [...calm(start), ...first, ...stream(start + 5_000, 30_000, 6, 0)];
    const all = detector();
    const seen = feed(all, [...before, ...second]);
    expect(seen.map((m) => m.kind)).toEqual(['hype', 'tilt']);

    const late = detector();
    late.rebuild(CH, before, start + 36_000); // history read when it started watching: no moment announced
    expect(feed(late, second)).toEqual(seen.slice(1));

    // A second rebuild with no more than it holds changes nothing (a re-subscribe does not replay moments).
    const again = detector();
    again.rebuild(CH, before.slice(0, 20), start + 36_000);
    again.rebuild(CH, before.slice(0, 10), start + 36_000);
    expect(again.size).toBe(1);
  });

  it('forgets quiet channels once their windows and cooldowns have passed', () => {
    const d = detector();
    feed(d, [msg(T0, 0.5)]);
    d.sweep(T0 + 60_000);
    expect(d.size).toBe(1);
    d.sweep(T0 + (SHORT_S + MOMENT_BASELINE_S) * 1000 + MOMENT_COOLDOWN_MS + 2_000);
    expect(d.size).toBe(0);
  });

  it('cuts sample lines to 120 characters, the last an ellipsis, without splitting a surrogate pair', () => {
    expect(sampleLine('  short  ')).toBe('short');
    const long = '\u{1F525}'.repeat(200);
    const cut = sampleLine(long);
    expect(Array.from(cut)).toHaveLength(120);
    expect(cut.endsWith('\u2026')).toBe(true);
    expect(
      Array.from(cut)
        .slice(0, 119)
        .every((c) => c === '\u{1F525}'),
    ).toBe(true);
    expect(sampleLine('x'.repeat(120))).toBe('x'.repeat(120));
  });
});
