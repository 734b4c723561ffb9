// Tokenizer cost per text: transformers.js (the baseline, what the engine used before) against the native Hugging
// Face tokenizer and ChatPulse's byte-level BPE (first pass with its per-word memo empty, then warm), on the
// same batches of the same texts, in one thread, in the same run; and whether their ids and masks are identical
// on every batch (the engine only uses one where they are: src/sentiment/tokenizer.ts).
// Then the rest of a batch's preparation on the same texts: chat normalization (cold and with its word memo
// warm), the n-gram featurizer, and the padded tokens per real token of one graph run per batch against the
// length-grouped runs the runtime makes (src/sentiment/runs.ts).
// Run: npm run bench:tokenizer [-- --model DIR --corpus tweets|twitch|generated --batch 64 --rounds 3]
import { ChatText } from '../src/sentiment/chat-text.js';
import { readModelInfo } from '../src/sentiment/model.js';
import { featurize } from '../src/sentiment/featurizer.js';
import { planRuns } from '../src/sentiment/runs.js';
import { loadTokenizer, rowLengths, type BatchTokenizer } from '../src/sentiment/tokenizer.js';
import { loadCorpus, type CorpusKind } from './corpus.js';
import { int, parseFlags } from './lib/flags.js';
import { machine, machineLine, resolveModelDir } from './lib/machine.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';

const flags = parseFlags(['model', 'corpus', 'batch', 'rounds']);
const corpusKind = (flags.corpus ?? 'tweets') as CorpusKind;
const batchSize = int('batch', flags.batch, 64);
const rounds = int('rounds', flags.rounds, 3);
const modelDir = resolveModelDir(flags.model);
const info = readModelInfo(modelDir, 128);
const corpus = loadCorpus(corpusKind);
const host = machine();
const chat = info.chat ? new ChatText(info.chat) : null;
// What the runtime hands the tokenizer: chat-normalized text for a chat model.
const texts = chat ? corpus.texts.map((t) => chat.normalize(t)) : corpus.texts;
const batches: string[][] = [];
for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize));

const js = (await loadTokenizer(info, 'js')).tokenizer;
const native = (await loadTokenizer(info, 'native')).tokenizer;
// A model folder bpe does not handle (WordPiece, SentencePiece...) gets no bpe rows.
const bpeFor = async (): Promise<BatchTokenizer | null> => (await loadTokenizer(info, 'bpe').catch(() => null))?.tokenizer ?? null;
const bpe = await bpeFor();

async function identicalBatches(t: BatchTokenizer | null): Promise<number | null> {
  if (t === null) return null;
  let n = 0;
  for (const b of batches) {
    const [x, y] = [await js.encode(b), await t.encode(b)];
    const same =
      x.dims.join() === y.dims.join() &&
      Buffer.from(x.ids.buffer).equals(Buffer.from(y.ids.buffer)) &&
      Buffer.from(x.mask.buffer).equals(Buffer.from(y.mask.buffer));
    if (same) n++;
  }
  return n;
}

interface Cost {
  usPerText: number;
  /** Process CPU (every thread, the native library's own included) per text: hidden parallelism shows here. */
  cpuUsPerText: number;
}

/** Per text over every batch once; the best of `passes` passes (a neighbour's load only ever slows a pass). */
async function cost(t: BatchTokenizer, passes = rounds): Promise<Cost> {
  let best: Cost = { usPerText: Infinity, cpuUsPerText: Infinity };
  for (let r = 0; r < passes; r++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (const b of batches) await t.encode(b);
    const used = process.cpuUsage(cpu);
    const pass = { usPerText: ((performance.now() - start) * 1000) / texts.length, cpuUsPerText: (used.user + used.system) / texts.length };
    if (pass.usPerText < best.usPerText) best = pass;
  }
  return best;
}

progress(`machine: ${machineLine(host)}`);
// Alternating order, so neither always runs on a warmer machine. bpe's first pass is a fresh instance's
// (memo empty, as after a start); its warm figure is the best of the passes after that one.
const jsFirst = await cost(js);
const nativeCost = await cost(native);
const bpeCold = bpe === null ? null : await cost(bpe, 1);
const bpeWarm = bpe === null ? null : await cost(bpe);
const jsSecond = await cost(js);
const jsCost = jsSecond.usPerText < jsFirst.usPerText ? jsSecond : jsFirst;
const jsUs = jsCost.usPerText;
const nativeUs = nativeCost.usPerText;
const identical = { native: await identicalBatches(native), bpe: await identicalBatches(await bpeFor()) };
const rows = [
  { name: 'baseline: transformers.js tokenizer', ...jsCost },
  { name: 'native: Hugging Face tokenizers (@anush008/tokenizers)', ...nativeCost },
  ...(bpeCold && bpeWarm
    ? [
        { name: "bpe: ChatPulse's byte-level BPE, first pass (per-word memo empty)", ...bpeCold },
        { name: "bpe: ChatPulse's byte-level BPE, memo warm (best pass)", ...bpeWarm },
      ]
    : []),
];
/** Best µs per text of `rounds` passes of fn over every batch. */
function bestUs(fn: (batch: readonly string[]) => unknown, over: readonly (readonly string[])[] = batches): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (const b of over) fn(b);
    best = Math.min(best, ((performance.now() - start) * 1000) / texts.length);
  }
  return best;
}

const rawBatches: string[][] = [];
for (let i = 0; i < corpus.texts.length; i += batchSize) rawBatches.push(corpus.texts.slice(i, i + batchSize));
const fresh = info.chat ? new ChatText(info.chat) : null;
const start = performance.now();
if (fresh) for (const b of rawBatches) b.forEach((t) => fresh.normalize(t));
const normalizeColdUs = fresh ? ((performance.now() - start) * 1000) / texts.length : null;
const normalizeWarmUs = fresh ? bestUs((b) => b.forEach((t) => fresh.normalize(t)), rawBatches) : null;
const spec = info.featurizer;
const featurizeUs = spec ? bestUs((b) => featurize(b, spec)) : null;
let realTokens = 0;
let oneRunTokens = 0;
let groupedTokens = 0;
for (const b of batches) {
  const lengths = rowLengths(await native.encode(b));
  realTokens += lengths.reduce((a, n) => a + n, 0);
  oneRunTokens += lengths.length * Math.max(...lengths);
  for (const run of planRuns(lengths)) groupedTokens += run.length * Math.max(...run.map((r) => lengths[r] as number));
}
const padding = { realTokens, oneRunTokens, groupedTokens };

const markdown = [
  '# Tokenizer cost',
  '',
  `Machine: ${machineLine(host)}`,
  `Model: \`${info.name}\` tokenizer, max length ${info.maxLength}; corpus: ${corpus.source}${chat ? ', chat-normalized first' : ''}; batches of ${batchSize} padded to their longest; best of ${rounds} passes each, one thread.`,
  '',
  markdownTable(
    ['tokenizer', 'µs per text', 'CPU µs per text', 'x faster than baseline', 'x less CPU'],
    rows.map((r) => [
      r.name,
      fmt(r.usPerText, 1),
      fmt(r.cpuUsPerText, 1),
      `${fmt(jsUs / r.usPerText, 2)}x`,
      `${fmt(jsCost.cpuUsPerText / r.cpuUsPerText, 2)}x`,
    ]),
  ),
  '',
  `Identical ids and masks to transformers.js: native ${identical.native ?? 'n/a'}, bpe ${identical.bpe ?? 'n/a (this tokenizer is not byte-level BPE)'} of ${batches.length} batches (${texts.length} texts).`,
  '',
  "## The rest of a batch's preparation (same texts, one thread)",
  '',
  markdownTable(
    ['step', 'µs per text'],
    [
      ['chat normalization, first pass (word memo cold)', normalizeColdUs === null ? 'no chat.json' : fmt(normalizeColdUs, 1)],
      ['chat normalization, memo warm (best pass)', normalizeWarmUs === null ? 'no chat.json' : fmt(normalizeWarmUs, 1)],
      ['n-gram featurizer (best pass)', featurizeUs === null ? 'no featurizer.json' : fmt(featurizeUs, 1)],
    ],
  ),
  '',
  `Padded tokens per real token in batches of ${batchSize}: one graph run per batch ${fmt(oneRunTokens / realTokens, 2)}, length-grouped runs ${fmt(groupedTokens / realTokens, 2)} (${fmt(oneRunTokens / groupedTokens, 2)}x fewer).`,
].join('\n');
console.log(markdown);
publishResults(
  resultsName(),
  {
    name: 'tokenizer',
    machine: host,
    model: info.name,
    corpus: corpus.source,
    batchSize,
    rounds,
    rows,
    identicalBatches: identical,
    normalizeColdUs,
    normalizeWarmUs,
    featurizeUs,
    padding,
    batches: batches.length,
    speedup: jsUs / nativeUs,
    bpeSpeedup: bpeWarm ? jsUs / bpeWarm.usPerText : null,
    bpeVsNative: bpeWarm ? nativeUs / bpeWarm.usPerText : null,
  },
  markdown,
);

function resultsName(): string {
  return corpusKind === 'tweets' ? 'tokenizer' : `tokenizer-${corpusKind}`;
}
