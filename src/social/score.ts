// The compatibility score of two queued tickets, in [0, 1], and the minimum score a pair needs after waiting.
// docs/protocol.md "Matching" states the formula; what a side did not say (no interests, no languages, no
// recent chat) counts as neutral (0.5), neither for nor against.
import type { MatchTicket } from './queue.js';

export const SCORE_WEIGHTS = { interests: 0.5, languages: 0.3, mood: 0.2 } as const;
/** The minimum score of two users who have just queued; it falls linearly to 0 over the relaxation time. */
export const START_THRESHOLD = 0.5;
const NEUTRAL = 0.5;

/** Jaccard similarity of two sets of words (already lower-cased by the route); neutral when either is empty. */
export function interestScore(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return NEUTRAL;
  const setA = new Set(a);
  let shared = 0;
  const union = new Set(a);
  for (const x of b) {
    if (setA.has(x)) shared++;
    union.add(x);
  }
  return shared / union.size;
}

/** 1 when the two share a language, 0 when both name some and none is shared, neutral otherwise. */
export function languageScore(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return NEUTRAL;
  return a.some((x) => b.includes(x)) ? 1 : 0;
}

/** How close two recent moods (mean polarity, -1..1) are: 1 for the same, 0 for opposite ends. */
export function moodScore(a: number | null, b: number | null): number {
  if (a === null || b === null) return NEUTRAL;
  return 1 - Math.min(2, Math.abs(a - b)) / 2;
}

export function compatibility(a: MatchTicket, b: MatchTicket): number {
  const s =
    SCORE_WEIGHTS.interests * interestScore(a.interests, b.interests) +
    SCORE_WEIGHTS.languages * languageScore(a.languages, b.languages) +
    SCORE_WEIGHTS.mood * moodScore(a.mood, b.mood);
  return Math.round(s * 1000) / 1000;
}

/** The minimum score two tickets need now: START_THRESHOLD, falling to 0 as the longer wait of the two reaches relaxMs. */
export function threshold(a: MatchTicket, b: MatchTicket, now: number, relaxMs: number): number {
  if (relaxMs <= 0) return 0;
  const waited = now - Math.min(a.queuedAt, b.queuedAt);
  return START_THRESHOLD * Math.max(0, 1 - waited / relaxMs);
}

export interface Pairing {
  a: MatchTicket;
  b: MatchTicket;
  score: number;
}

/**
 * Disjoint pairs among `tickets` (oldest first), best scores first: every pair at or above its threshold,
 * sorted by score, then by the longer wait, taken greedily. Deterministic for one snapshot, so processes
 * that tick on the same snapshot try the same pairs (and the queue's `take` lets one of them have each).
 */
export function bestPairs(tickets: readonly MatchTicket[], now: number, relaxMs: number): Pairing[] {
  const candidates: Array<Pairing & { since: number }> = [];
  for (let i = 0; i < tickets.length; i++) {
    const a = tickets[i] as MatchTicket;
    for (let j = i + 1; j < tickets.length; j++) {
      const b = tickets[j] as MatchTicket;
      if (a.userId === b.userId) continue;
      const score = compatibility(a, b);
      if (score >= threshold(a, b, now, relaxMs)) candidates.push({ a, b, score, since: Math.min(a.queuedAt, b.queuedAt) });
    }
  }
  candidates.sort((x, y) => y.score - x.score || x.since - y.since);
  const used = new Set<string>();
  const out: Pairing[] = [];
  for (const c of candidates) {
    if (used.has(c.a.userId) || used.has(c.b.userId)) continue;
    used.add(c.a.userId);
    used.add(c.b.userId);
    out.push({ a: c.a, b: c.b, score: c.score });
  }
  return out;
}
