// Engine throughput and latency (npm run bench:engine [-- --duration 8 --concurrency 512 --model DIR
// --corpus twitch|tweets|generated]).
// Baseline, measured in the same run: what a typical project ships, a transformers.js pipeline called once
// per message on the main thread, awaited in sequence. Against it, the SentimentEngine (Piscina threads +
// micro-batching) at several thread counts and batch settings, driven with many messages in flight,
// because sequential awaits would never let a batch form.
import { env, pipeline } from '@huggingface/transformers';
import { SentimentEngine, type EngineConfig } from '../src/sentiment/engine.js';
import { readModelInfo } from '../src/sentiment/model.js';
import { ModelRuntime } from '../src/sentiment/runtime.js';
import type { TokenizerPreference } from '../src/sentiment/tokenizer.js';
import { DEFAULT_MODEL } from '../src/config.js';
import { loadCorpus, uniqueText, type CorpusKind } from './corpus.js';
import { computeCeiling } from './lib/ceiling.js';
import { parseFlags, positive } from './lib/flags.js';
import { loadAvgNow, machine, machineLine, resolveModelDir } from './lib/machine.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';
import { percentile } from './lib/stats.js';

const flags = parseFlags(['duration', 'concurrency', 'model', 'corpus']);
const corpusKind = flags.corpus ?? 'tweets';
if (!['twitch', 'tweets', 'generated'].includes(corpusKind)) throw new Error('--corpus must be twitch, tweets or generated');
const durationS = positive('duration', flags.duration, 8);
const concurrency = Math.round(positive('concurrency', flags.concurrency, 512));
// JIT, thread start and ORT's first runs are not what a long-running server sees: untimed warm-up first.
const warmS = Math.min(1, durationS / 4);
const modelDir = resolveModelDir(flags.model);
const corpus = loadCorpus(corpusKind as CorpusKind);
const info = readModelInfo(modelDir, 128);
const host = machine();

/** Every measured text is unique across the whole run (see uniqueText). */
let counter = 0;
const nextUnique = (): string => uniqueText(corpus, counter++);
let cycle = 0;
const nextRepeated = (): string => corpus.texts[cycle++ % corpus.texts.length] as string;

interface Load {
  msgsPerS: number;
  p50: number;
  p95: number;
  p99: number;
  completed: number;
}

/**
 * Closed loop: `clients` independent senders each keep one message in flight, so `clients` messages are
 * outstanding at all times. Throughput counts completions inside the measured window; latency (submit to
 * result) is taken for every message submitted inside it. `onWindow` marks the window's start and end.
 */
async function drive(
  classify: (text: string) => Promise<unknown>,
  nextText: () => string,
  clients: number,
  onWindow: (edge: 'start' | 'end') => void = () => {},
): Promise<Load> {
  const start = performance.now();
  const windowStart = start + warmS * 1000;
  const windowEnd = windowStart + durationS * 1000;
  const startTimer = setTimeout(() => onWindow('start'), warmS * 1000);
  const latencies: number[] = [];
  let completed = 0;
  const client = async () => {
    for (;;) {
      const sent = performance.now();
      if (sent >= windowEnd) return;
      await classify(nextText());
      const done = performance.now();
      if (sent >= windowStart) latencies.push(done - sent);
      if (done >= windowStart && done < windowEnd) completed++;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  clearTimeout(startTimer);
  onWindow('end');
  latencies.sort((a, b) => a - b);
  return {
    msgsPerS: completed / durationS,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    completed,
  };
}

interface Row extends Load {
  name: string;
  threads: number | null;
  batchMaxItems: number | null;
  batchMaxWaitMs: number | null;
  cacheSize: number | null;
  concurrency: number;
  avgBatch: number | null;
  ratio: number;
}

/**
 * (a) What a typical project ships: transformers.js `pipeline('sentiment-analysis')` called per message on
 * the main thread, on the same ONNX file the engine picks (int8 when the folder has one). transformers.js cannot load a model with extra inputs (the bundled hybrid takes n-gram
 * features), so for such a model the same naive pattern runs on our own ModelRuntime instead: one message
 * at a time, on the main thread, no pool, no batching.
 */
async function baseline(when: string): Promise<Row> {
  if (info.featurizer) {
    progress(
      `baseline (${when}): ModelRuntime on the main thread, one message at a time, ${durationS}s (transformers.js cannot run this model)`,
    );
    const runtime = await ModelRuntime.load(info, { intraOpNumThreads: 1 });
    const load = await drive((text) => runtime.classify([text]), nextUnique, 1);
    await runtime.close();
    progress(`  ${fmt(load.msgsPerS, 0)} msgs/s, p50 ${fmt(load.p50, 2)} ms, p99 ${fmt(load.p99, 2)} ms`);
    return {
      name: 'baseline: one runtime call per message, sequential',
      threads: null,
      batchMaxItems: null,
      batchMaxWaitMs: null,
      cacheSize: null,
      concurrency: 1,
      avgBatch: 1,
      ratio: 1,
      ...load,
    };
  }
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  progress(`baseline (${when}): transformers.js pipeline, one message at a time, ${durationS}s`);
  const pipe = await pipeline('sentiment-analysis', modelDir, { local_files_only: true, dtype: info.quantized ? 'q8' : 'fp32' });
  const load = await drive((text) => pipe(text), nextUnique, 1);
  await pipe.dispose();
  progress(`  ${fmt(load.msgsPerS, 0)} msgs/s, p50 ${fmt(load.p50, 2)} ms, p99 ${fmt(load.p99, 2)} ms`);
  return {
    name: 'baseline: pipeline() per message, sequential',
    threads: null,
    batchMaxItems: null,
    batchMaxWaitMs: null,
    cacheSize: null,
    concurrency: 1,
    avgBatch: 1,
    ratio: 1,
    ...load,
  };
}

interface Setting {
  threads: number;
  batchMaxItems: number;
  batchMaxWaitMs: number;
  /** Default auto (bpe or native where it matches transformers.js); js and native for the comparison rows. */
  tokenizer?: TokenizerPreference;
  /** Default: the engine's length-grouped runs; Infinity for the one-run-per-batch comparison row. */
  runCostTokens?: number;
}

// (b) batchMaxItems 1 is "threads, no batching"; the others show what batching adds and what waiting buys.
const SETTINGS: Setting[] = [
  { threads: 1, batchMaxItems: 1, batchMaxWaitMs: 0 },
  { threads: 1, batchMaxItems: 16, batchMaxWaitMs: 2 },
  { threads: 1, batchMaxItems: 64, batchMaxWaitMs: 2 },
  { threads: 2, batchMaxItems: 1, batchMaxWaitMs: 0 },
  { threads: 2, batchMaxItems: 16, batchMaxWaitMs: 2 },
  { threads: 2, batchMaxItems: 64, batchMaxWaitMs: 0 },
  { threads: 2, batchMaxItems: 64, batchMaxWaitMs: 2 },
  { threads: 2, batchMaxItems: 64, batchMaxWaitMs: 5 },
];

const tokenizerUsed: Partial<Record<TokenizerPreference, string>> = {};

async function engineRow(name: string, s: Setting, cacheSize: number, clients: number, nextText: () => string): Promise<Row> {
  const config: EngineConfig = {
    modelDir,
    maxLength: 128,
    threads: s.threads,
    intraOpNumThreads: 1,
    batchMaxItems: s.batchMaxItems,
    batchMaxTokens: 8192,
    batchMaxWaitMs: s.batchMaxWaitMs,
    queueMax: Math.max(8192, clients * 2),
    cacheSize,
    tokenizer: s.tokenizer ?? 'auto',
    ...(s.runCostTokens === undefined ? {} : { runCostTokens: s.runCostTokens }),
  };
  progress(
    `${name}: threads ${s.threads}, batchMaxItems ${s.batchMaxItems}, batchMaxWaitMs ${s.batchMaxWaitMs}, cache ${cacheSize}, ${clients} in flight`,
  );
  const engine = await SentimentEngine.start(config);
  tokenizerUsed[s.tokenizer ?? 'auto'] = engine.tokenizer.reason;
  // Batch counters over the measured window only.
  let atStart = engine.stats();
  let atEnd = atStart;
  const load = await drive(
    (text) => engine.classify(text),
    nextText,
    clients,
    (edge) => {
      if (edge === 'start') atStart = engine.stats();
      else atEnd = engine.stats();
    },
  );
  await engine.close();
  const batches = atEnd.batches - atStart.batches;
  const avgBatch = batches === 0 ? null : (atEnd.items - atStart.items) / batches;
  progress(
    `  ${fmt(load.msgsPerS, 0)} msgs/s, p50 ${fmt(load.p50, 2)} ms, p99 ${fmt(load.p99, 2)} ms, avg batch ${fmt(avgBatch ?? NaN, 1)}`,
  );
  return { name, ...s, cacheSize, concurrency: clients, avgBatch, ratio: NaN, ...load };
}

progress(`machine: ${machineLine(host)}`);
progress(`model: ${modelDir} (${info.quantized ? 'int8' : 'fp32'}); corpus: ${corpus.source}`);
const firstBase = await baseline('first');
const rows: Row[] = [];
for (const s of SETTINGS) rows.push(await engineRow('engine', s, 0, concurrency, nextUnique));
const best = rows.reduce((a, b) => (b.msgsPerS > a.msgsPerS ? b : a));
const bestSetting: Setting = {
  threads: best.threads ?? 1,
  batchMaxItems: best.batchMaxItems ?? 1,
  batchMaxWaitMs: best.batchMaxWaitMs ?? 0,
};
// One message at a time: what a lone chat message pays, including the batch wait it sits out alone
// (hence the same config again with no wait).
rows.push(await engineRow('engine, light load (best config)', bestSetting, 0, 1, nextUnique));
if (bestSetting.batchMaxWaitMs > 0)
  rows.push(await engineRow('engine, light load (best config, no wait)', { ...bestSetting, batchMaxWaitMs: 0 }, 0, 1, nextUnique));
// The same best config with transformers.js tokenizing, and (where auto picked ChatPulse's byte-level BPE) with
// the Rust tokenizer: what the tokenizer auto picked is worth, in this run.
rows.push(
  await engineRow('engine, transformers.js tokenizer (best config)', { ...bestSetting, tokenizer: 'js' }, 0, concurrency, nextUnique),
);
if (tokenizerUsed.auto?.startsWith('byte-level BPE'))
  rows.push(await engineRow('engine, native tokenizer (best config)', { ...bestSetting, tokenizer: 'native' }, 0, concurrency, nextUnique));
// ...and with each batch run as one padded graph call: what grouping rows by length is worth.
rows.push(
  await engineRow('engine, one graph run per batch (best config)', { ...bestSetting, runCostTokens: Infinity }, 0, concurrency, nextUnique),
);
// Repeated texts with the cache on: the path popular emote spam takes.
rows.push(await engineRow('engine, cache hits (best config)', bestSetting, 50_000, concurrency, nextRepeated));
// The compute ceiling at the best config's threads and batch size: the graph alone on pre-encoded batches.
progress(`compute ceiling: ONNX graph alone, ${bestSetting.threads} thread(s), batches of ${bestSetting.batchMaxItems}, pre-encoded`);
const ceilingTexts = 64 * bestSetting.batchMaxItems;
const ceiling = await computeCeiling(
  { modelDir, maxLength: 128, batchSize: bestSetting.batchMaxItems, warmMs: warmS * 1000, durationMs: durationS * 1000 },
  bestSetting.threads,
  (thread, count) => Array.from({ length: count }, (_, i) => uniqueText(corpus, 1e9 + thread * count + i)),
  ceilingTexts,
);
progress(`  ${fmt(ceiling.msgsPerS, 0)} msgs/s; encoding (tokenizer + featurizer) ${fmt(ceiling.encodeMsPerText * 1000, 0)} µs/text`);
rows.push({
  name: 'compute ceiling: ONNX graph alone, pre-encoded batches',
  ...bestSetting,
  cacheSize: null,
  concurrency: bestSetting.threads,
  avgBatch: bestSetting.batchMaxItems,
  ratio: NaN,
  msgsPerS: ceiling.msgsPerS,
  p50: NaN,
  p95: NaN,
  p99: NaN,
  completed: Math.round(ceiling.msgsPerS * durationS),
});
const shareOfCeiling = best.msgsPerS / ceiling.msgsPerS;
// The baseline again at the end; the faster of the two is the one compared against, so a neighbour's
// load during one baseline run cannot flatter the ratios.
const lastBase = await baseline('again');
const base = lastBase.msgsPerS > firstBase.msgsPerS ? lastBase : firstBase;
base.name += firstBase === base ? ' (first run)' : ' (second run)';
rows.unshift(base);
for (const r of rows) r.ratio = r.msgsPerS / base.msgsPerS;
const loadAvgEnd = loadAvgNow();

const bestRatio = best.ratio;
const target = {
  engineThroughputVsBaseline: { target: '>= 5x', measured: Number(bestRatio.toFixed(2)), met: bestRatio >= 5 },
  // The bundled model's own target (issue: at least 3,000 chat messages/s on a 2-core machine).
  engineMessagesPerS: { target: '>= 3000', measured: Math.round(best.msgsPerS), met: best.msgsPerS >= 3000 },
  engineShareOfCeiling: { target: '>= 0.90', measured: Number(shareOfCeiling.toFixed(3)), met: shareOfCeiling >= 0.9 },
};
const table = markdownTable(
  ['run', 'threads', 'batch items', 'wait ms', 'in flight', 'msgs/s', 'p50 ms', 'p95 ms', 'p99 ms', 'avg batch', 'x baseline'],
  rows.map((r) => [
    r.name,
    r.threads === null ? '-' : String(r.threads),
    r.batchMaxItems === null ? '-' : String(r.batchMaxItems),
    r.batchMaxWaitMs === null ? '-' : String(r.batchMaxWaitMs),
    String(r.concurrency),
    fmt(r.msgsPerS, 0),
    fmt(r.p50, 2),
    fmt(r.p95, 2),
    fmt(r.p99, 2),
    r.avgBatch === null ? '-' : fmt(r.avgBatch, 1),
    `${fmt(r.ratio, 2)}x`,
  ]),
);
const markdown = [
  '# Engine benchmark',
  '',
  `Machine: ${machineLine(host)}`,
  `Model: \`${info.name}\` (${info.quantized ? 'int8' : 'fp32'}), corpus: ${corpus.source}, ${durationS}s per row after ${warmS}s warm-up.`,
  'Every text is unique (counter suffix) and the cache is off except in the cache-hits row; latency is per message, submit to result.',
  '',
  table,
  '',
  `Target: best engine throughput >= 5x baseline: ${fmt(bestRatio, 2)}x, ${target.engineThroughputVsBaseline.met ? 'met' : 'NOT met'}.`,
  `Best engine throughput: ${fmt(best.msgsPerS, 0)} msgs/s (bundled-model target on 2 cores: >= 3,000 chat messages/s: ${target.engineMessagesPerS.met ? 'met' : 'NOT met'}).`,
  `Compute ceiling (the graph alone at ${bestSetting.threads} thread(s), batches of ${bestSetting.batchMaxItems}, encoded beforehand): ${fmt(ceiling.msgsPerS, 0)} msgs/s; the best engine row reaches ${fmt(shareOfCeiling * 100, 1)}% of it (target >= 90%: ${target.engineShareOfCeiling.met ? 'met' : 'NOT met'}). Encoding alone (tokenizer + featurizer, one thread) costs ${fmt(ceiling.encodeMsPerText * 1000, 0)} µs per text.`,
  `Tokenizer in the engine rows: ${tokenizerUsed.auto ?? '?'}.`,
  `Baseline runs: ${fmt(firstBase.msgsPerS, 0)} and ${fmt(lastBase.msgsPerS, 0)} msgs/s (the faster is the 1.00x row); load avg at end ${loadAvgEnd}.`,
].join('\n');
// One results file per model and corpus: the bundled model on tweets is `engine`; others add their names.
const resultsName = ['engine', info.name === DEFAULT_MODEL ? '' : info.name, corpusKind === 'tweets' ? '' : corpusKind]
  .filter((p) => p !== '')
  .join('-');
publishResults(
  resultsName,
  {
    name: 'engine',
    machine: host,
    loadAvgEnd,
    baselines: [firstBase.msgsPerS, lastBase.msgsPerS],
    model: { dir: modelDir, name: info.name, quantized: info.quantized },
    corpus: corpus.source,
    durationS,
    warmS,
    concurrency,
    rows,
    ceiling,
    tokenizer: tokenizerUsed,
    target,
  },
  markdown,
);
