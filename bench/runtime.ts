// One inference thread's work per text: ModelRuntime.classify (chat normalization, tokenizer, featurizer, graph runs,
// softmax) on the corpus in batches, on this thread, as a Piscina worker runs it; with the runtime's
// length-grouped graph runs and, as the baseline in the same run, one padded run per batch. With --profile, the
// CPU profile of this process is the thread's breakdown (docs/benchmarks.md, "Where the time goes").
// `--run-costs 16,256` adds a row per other planRuns cost (how RUN_COST_TOKENS was chosen).
// Run: npm run bench:runtime [-- --model DIR --corpus tweets|twitch|generated --batch 64 --passes 4 --run-costs 16,256 --profile]
import { readModelInfo } from '../src/sentiment/model.js';
import { RUN_COST_TOKENS } from '../src/sentiment/runs.js';
import { ModelRuntime } from '../src/sentiment/runtime.js';
import { loadCorpus, type CorpusKind } from './corpus.js';
import { int, parseFlags, positiveList } from './lib/flags.js';
import { machine, machineLine, resolveModelDir } from './lib/machine.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';

const flags = parseFlags(['model', 'corpus', 'batch', 'passes', 'run-costs']);
const otherCosts = flags['run-costs'] === undefined ? [] : positiveList('run-costs', flags['run-costs']);
const corpusKind = (flags.corpus ?? 'tweets') as CorpusKind;
const batchSize = int('batch', flags.batch, 64);
const passes = int('passes', flags.passes, 4);
const info = readModelInfo(resolveModelDir(flags.model), 128);
const corpus = loadCorpus(corpusKind);
const host = machine();

/** The best pass's µs per text; each pass suffixes the texts so that no cache anywhere can answer a repeat. */
async function usPerText(runtime: ModelRuntime): Promise<number> {
  let best = Infinity;
  for (let p = 0; p < passes; p++) {
    const texts = corpus.texts.map((t) => `${t} ${p}`);
    const start = performance.now();
    for (let i = 0; i < texts.length; i += batchSize) await runtime.classify(texts.slice(i, i + batchSize));
    best = Math.min(best, ((performance.now() - start) * 1000) / texts.length);
  }
  return best;
}

progress(`machine: ${machineLine(host)}`);
const grouped = await ModelRuntime.load(info, { intraOpNumThreads: 1 });
const oneRun = await ModelRuntime.load(info, { intraOpNumThreads: 1, runCostTokens: Infinity });
// Alternating order, so neither always runs on a warmer machine; the faster measurement of the baseline counts.
const baseFirst = await usPerText(oneRun);
const groupedUs = await usPerText(grouped);
const baseUs = Math.min(baseFirst, await usPerText(oneRun));
await grouped.close();
await oneRun.close();
const rows = [
  { name: 'baseline: one padded graph run per batch', usPerText: baseUs },
  { name: `length-grouped graph runs (the runtime default, run cost ${RUN_COST_TOKENS} tokens)`, usPerText: groupedUs },
];
for (const runCostTokens of otherCosts) {
  const runtime = await ModelRuntime.load(info, { intraOpNumThreads: 1, runCostTokens });
  rows.push({ name: `length-grouped graph runs, run cost ${runCostTokens} tokens`, usPerText: await usPerText(runtime) });
  await runtime.close();
}
const markdown = [
  '# One inference thread',
  '',
  `Machine: ${machineLine(host)}`,
  `Model: \`${info.name}\` (${info.quantized ? 'int8' : 'fp32'}), tokenizer ${grouped.tokenizerKind}; corpus: ${corpus.source}; ModelRuntime.classify on batches of ${batchSize}, one thread, best of ${passes} passes.`,
  '',
  markdownTable(
    ['graph runs', 'µs per text', 'x faster than baseline'],
    rows.map((r) => [r.name, fmt(r.usPerText, 0), `${fmt(baseUs / r.usPerText, 2)}x`]),
  ),
].join('\n');
console.log(markdown);
publishResults(
  corpusKind === 'tweets' ? 'runtime' : `runtime-${corpusKind}`,
  { name: 'runtime', machine: host, model: info.name, corpus: corpus.source, batchSize, passes, rows, speedup: baseUs / groupedUs },
  markdown,
);
