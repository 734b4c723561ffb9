// How one batch is cut into graph runs. A batch is padded to its longest text, and one long chat line in 64
// short ones made a run pay for 5.8x its real tokens (Twitch chat; tweets 1.7x; npm run bench:tokenizer). Rows sorted by
// length and cut where a new run is cheaper than the padding it saves spend close to the real tokens; each
// row's logits do not depend on its neighbours (padding is masked), so results keep their order and values.

/**
 * A run's fixed cost (tensor set-up, the native call, the n-gram branch) in padded-token equivalents. Measured
 * with `npm run bench:runtime -- --run-costs 16,128,512` (and `--corpus twitch`): every cost from 16 to 512 gave
 * 1.2-1.3x on tweets and 2.1-3.0x on chat against one run per batch, within this machine's noise of each other;
 * a cost of 0 (a run per distinct length) lost on tweets. 64 sits in the flat middle.
 */
export const RUN_COST_TOKENS = 64;
/** Longest run considered (rows); bounds the planning work to rows x this. */
const MAX_RUN_ROWS = 64;

/**
 * Groups of row indices, each group one graph run, minimising sum(rows x longest) + RUN_COST_TOKENS per run
 * over runs of consecutive rows in length order (an exact dynamic programme, O(rows x MAX_RUN_ROWS)).
 */
export function planRuns(lengths: readonly number[], runCost = RUN_COST_TOKENS): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => (lengths[a] as number) - (lengths[b] as number) || a - b);
  const n = order.length;
  // best[j]: the cheapest cover of the first j rows in order; cut[j]: where its last run starts.
  const best = new Float64Array(n + 1);
  const cut = new Int32Array(n + 1);
  for (let j = 1; j <= n; j++) {
    best[j] = Infinity;
    const width = lengths[order[j - 1] as number] as number;
    for (let i = j - 1; i >= Math.max(0, j - MAX_RUN_ROWS); i--) {
      const cost = (best[i] as number) + width * (j - i) + runCost;
      if (cost < (best[j] as number)) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const runs: number[][] = [];
  for (let j = n; j > 0; j = cut[j] as number) runs.unshift(order.slice(cut[j], j));
  return runs;
}
