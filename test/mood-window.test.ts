// MoodWindow's edges: a window of N seconds is the N whole seconds up to and including now's, so a message
// in the current second counts, the oldest second counts and the one before it does not; and as now moves
// on, seconds leave the window exactly at their boundary, including after the ring has wrapped.
import { describe, expect, it } from 'vitest';
import { MoodWindow } from '../src/channels/mood.js';

const LABELS = ['negative', 'neutral', 'positive'] as const;
const counts = (negative: number, neutral: number, positive: number) => ({ negative, neutral, positive });

describe('MoodWindow', () => {
  it('counts a message in the current second in a one-second window, until that second ends', () => {
    const w = new MoodWindow(LABELS, 60);
    w.add('positive', 1, 10_500);
    for (const now of [10_500, 10_999]) {
      expect(w.summary(now, 1)).toEqual({ counts: counts(0, 0, 1), score: 1, rate: 1, window_s: 1 });
    }
    // A quiet window has no score: null, not a neutral 0.
    expect(w.summary(11_000, 1)).toEqual({ counts: counts(0, 0, 0), score: null, rate: 0, window_s: 1 });
  });

  it('counts the current second when the ring is one second long', () => {
    const w = new MoodWindow(LABELS, 1);
    w.add('negative', -1, 7_000);
    w.add('negative', -0.5, 7_999);
    expect(w.summary(7_999, 1)).toEqual({ counts: counts(2, 0, 0), score: -0.75, rate: 2, window_s: 1 });
    expect(w.summary(8_000, 1).counts).toEqual(counts(0, 0, 0));
  });

  // One message a second, 100 s to 105 s: a label per second that says which seconds a summary counted.
  function sixSeconds(spanS: number): MoodWindow {
    const w = new MoodWindow(LABELS, spanS);
    w.add('negative', -1, 100_250); // the second before the 5 s window at 105 s
    w.add('positive', 1, 101_750); // the oldest second of that window
    for (const sec of [102, 103, 104, 105]) w.add('neutral', 0, sec * 1000 + 500);
    return w;
  }

  it('counts the oldest second of an N-second window and not the one before it', () => {
    const w = sixSeconds(10);
    expect(w.summary(105_300, 5)).toEqual({ counts: counts(0, 4, 1), score: 0.2, rate: 1, window_s: 5 });
    expect(w.summary(105_300, 6)).toEqual({ counts: counts(1, 4, 1), score: 0, rate: 1, window_s: 6 });
  });

  it('drops each second exactly at its boundary as time advances', () => {
    const w = sixSeconds(10);
    expect(w.summary(105_999, 5).counts).toEqual(counts(0, 4, 1));
    expect(w.summary(106_000, 5)).toEqual({ counts: counts(0, 4, 0), score: 0, rate: 0.8, window_s: 5 });
    expect(w.summary(109_999, 5).counts).toEqual(counts(0, 1, 0)); // 105 s is the oldest of 105..109
    expect(w.summary(110_000, 5)).toEqual({ counts: counts(0, 0, 0), score: null, rate: 0, window_s: 5 });
  });

  it('a window as long as the ring counts its oldest second, and never a stale lap of the ring', () => {
    const w = sixSeconds(5); // 100 s and 105 s share a slot: 105 s replaced 100 s's message
    expect(w.summary(105_000, 5)).toEqual({ counts: counts(0, 4, 1), score: 0.2, rate: 1, window_s: 5 });
    // At 106 s the slot 101 s's message sits in belongs to 106 s, which has no messages.
    expect(w.summary(106_000, 5).counts).toEqual(counts(0, 4, 0));
    // Ten seconds on, every slot holds a second from a past lap: nothing counts.
    expect(w.summary(115_000, 5).counts).toEqual(counts(0, 0, 0));
    w.add('positive', 1, 115_100);
    expect(w.summary(115_100, 5)).toEqual({ counts: counts(0, 0, 1), score: 1, rate: 0.2, window_s: 5 });
  });
});
