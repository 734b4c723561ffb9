// The loop every load bench runs: measured rounds of a phase with the best one kept, and the drain after a
// phase that waits for deliveries still in flight.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `rounds` measured rounds, the best kept by `score` (higher is better), every round's score listed: on a
 * shared machine a neighbour's burst lands on one round, not on all of them.
 */
export async function bestOfRounds<T>(
  rounds: number,
  run: (round: number) => Promise<T>,
  score: (row: T) => number,
): Promise<{ best: T; scores: number[] }> {
  let best: { row: T; score: number } | null = null;
  const scores: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const row = await run(round);
    const s = score(row);
    scores.push(s);
    if (best === null || s > best.score) best = { row, score: s };
  }
  if (best === null) throw new Error('bestOfRounds: no round');
  return { best: best.row, scores };
}

export interface Drain {
  /** At most this long, from the call. */
  maxMs: number;
  /** Ends early once deliveries stopped growing for this long: the rest were dropped, not late. */
  quietMs: number;
  everyMs: number;
  /** Must hold too for an early end (e.g. the engine has nothing queued). */
  settled?: () => boolean;
}

/** After a phase: polls deliveries until all expected arrived, they stopped growing, or `maxMs` passed. */
export async function drainDeliveries(poll: () => Promise<{ delivered: number; expected: number }>, d: Drain): Promise<void> {
  const settled = d.settled ?? (() => true);
  const began = performance.now();
  let last = -1;
  let lastChange = began;
  for (;;) {
    const { delivered, expected } = await poll();
    const now = performance.now();
    if ((delivered >= expected && settled()) || now - began >= d.maxMs) return;
    if (delivered !== last) {
      last = delivered;
      lastChange = now;
    } else if (now - lastChange >= d.quietMs && settled()) return;
    await sleep(d.everyMs);
  }
}
