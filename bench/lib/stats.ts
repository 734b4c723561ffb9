// Small numeric helpers the benches measure with.

/** Nearest-rank percentile of an ascending-sorted array (0 when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

/** `x` to `digits` decimals, as a number (for results files). */
export const round = (x: number, digits: number): number => Number(x.toFixed(digits));

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
