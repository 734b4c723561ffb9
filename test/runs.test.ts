// planRuns: how a batch is cut into graph runs. Every row once, in length order within a run, never more
// padded tokens than one run, and the cheapest cut by its own cost model (checked against brute force).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRuns, RUN_COST_TOKENS } from '../src/sentiment/runs.js';

const cost = (lengths: readonly number[], runs: number[][], runCost: number) =>
  runs.reduce((sum, run) => sum + run.length * Math.max(...run.map((r) => lengths[r] as number)) + runCost, 0);

/** Every way to cut the length-sorted rows into consecutive runs (small inputs only). */
function bruteForce(lengths: readonly number[], runCost: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let best = Infinity;
  for (let mask = 0; mask < 1 << Math.max(0, sorted.length - 1); mask++) {
    let total = 0;
    let start = 0;
    for (let i = 1; i <= sorted.length; i++) {
      if (i === sorted.length || (mask & (1 << (i - 1))) !== 0) {
        total += (i - start) * (sorted[i - 1] as number) + runCost;
        start = i;
      }
    }
    best = Math.min(best, total);
  }
  return best;
}

describe('planRuns', () => {
  it('covers every row once, each run in length order, at the cost model minimum', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 128 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 300 }),
        (lengths, runCost) => {
          const runs = planRuns(lengths, runCost);
          expect(runs.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
          for (const run of runs)
            for (let k = 1; k < run.length; k++)
              expect(lengths[run[k] as number]).toBeGreaterThanOrEqual(lengths[run[k - 1] as number] as number);
          expect(cost(lengths, runs, runCost)).toBe(bruteForce(lengths, runCost));
          expect(cost(lengths, runs, runCost)).toBeLessThanOrEqual(cost(lengths, [lengths.map((_, i) => i)], runCost));
        },
      ),
    );
  });

  it('splits one long chat line from many short ones, keeps similar lengths together, and never splits when runs are free of padding', () => {
    const lengths = [...Array.from({ length: 63 }, () => 6), 128];
    const runs = planRuns(lengths);
    expect(runs).toHaveLength(2);
    expect(runs[1]).toEqual([63]);
    expect(planRuns(Array.from({ length: 64 }, () => 20))).toHaveLength(1);
    expect(planRuns(lengths, Infinity)).toHaveLength(1);
    expect(planRuns([])).toEqual([]);
    expect(RUN_COST_TOKENS).toBeGreaterThan(0);
  });
});
