// Classification metrics shared by the evaluation step and the model test.

export interface Metrics {
  macro_recall: number;
  accuracy: number;
  f1: Record<string, number>;
  n: number;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

export function classificationMetrics(pred: readonly number[], gold: readonly number[], labels: readonly string[]): Metrics {
  const k = labels.length;
  const recall: number[] = [];
  const f1: Record<string, number> = {};
  for (let c = 0; c < k; c++) {
    let tp = 0,
      fp = 0,
      fn = 0;
    pred.forEach((p, i) => {
      if (p === c && gold[i] === c) tp++;
      else if (p === c) fp++;
      else if (gold[i] === c) fn++;
    });
    recall.push(tp + fn === 0 ? 0 : tp / (tp + fn));
    f1[labels[c] as string] = round(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  const correct = pred.filter((p, i) => p === gold[i]).length;
  return { macro_recall: round(recall.reduce((a, b) => a + b, 0) / k), accuracy: round(correct / pred.length), f1, n: pred.length };
}
