// Step 1 of `npm run model:train`: builds the training corpus with the production tokenizer and
// featurizer (so training sees exactly what serving computes), reduces the BPE vocabulary to what the
// corpus uses, and writes binary arrays for models/train/train.py plus the tokenizer/featurizer files
// of the model folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { ngramCounts, normalizeForFeatures, type FeaturizerSpec } from '../../src/sentiment/featurizer.js';
import {
  goEmotions, semeval, sentiment140, tweetevalVal, tweetSentimentExtraction, twitchJasonMates, type Example,
} from './datasets.js';

env.allowRemoteModels = false;

interface Args {
  data: string;
  baseTokenizer: string;
  out: string;
  work: string;
  minCount: number;
  maxTokens: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string, fallback: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  return {
    data: resolve(get('--data', '../shared/datasets')),
    baseTokenizer: resolve(get('--base-tokenizer', '../shared/models/tokenizers/twitter-roberta-base-sentiment-latest')),
    out: resolve(get('--out', 'models/chatpulse-mini')),
    work: resolve(get('--work', 'models/train/.work')),
    minCount: Number(get('--min-count', '4')),
    maxTokens: Number(get('--max-tokens', '128')),
  };
}

export const FEATURIZER: FeaturizerSpec = { buckets: 1 << 18, wordNgrams: [1, 2], charNgrams: [2, 5], maxFeatures: 512 };

const dedupKey = (text: string) => normalizeForFeatures(text).replace(/\s+/g, ' ').trim();

/** Drops training texts that also occur in an evaluation set, and training texts whose copies disagree. */
function dedupe(train: Example[], evalKeys: Set<string>): Example[] {
  const byKey = new Map<string, Example | null>();
  for (const ex of train) {
    const key = dedupKey(ex.text);
    if (key === '' || evalKeys.has(key)) continue;
    const seen = byKey.get(key);
    if (seen === undefined) byKey.set(key, ex);
    else if (seen !== null && seen.label !== ex.label) byKey.set(key, null);
  }
  return [...byKey.values()].filter((e): e is Example => e !== null);
}

interface TokenizerJson {
  added_tokens: Array<{ id: number; content: string }>;
  model: { vocab: Record<string, number>; merges: Array<[string, string] | string> };
  [key: string]: unknown;
}

/** Keeps tokens used at least minCount times, every single-byte symbol and specials, closed under merges. */
function reduceVocabulary(full: TokenizerJson, counts: Map<number, number>, minCount: number): TokenizerJson {
  const idToToken = new Map(Object.entries(full.model.vocab).map(([t, id]) => [id, t]));
  const merges = full.model.merges.map((m) => (typeof m === 'string' ? (m.split(' ') as [string, string]) : m));
  const partsOf = new Map(merges.map(([a, b]) => [a + b, [a, b] as const]));
  const specials = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];
  const keep = new Set<string>(specials);
  for (const token of Object.keys(full.model.vocab)) if ([...token].length === 1) keep.add(token);
  const visit = (token: string) => {
    if (keep.has(token) && [...token].length > 1 && !specials.includes(token)) return;
    keep.add(token);
    const parts = partsOf.get(token);
    if (parts) parts.forEach((p) => visit(p));
  };
  for (const [id, n] of counts) if (n >= minCount) visit(idToToken.get(id) as string);
  // Specials keep RoBERTa's ids 0-3 (the post-processor refers to them), <mask> follows, then the rest by old id.
  const ordered = [...keep].filter((t) => !specials.includes(t)).sort((a, b) => (full.model.vocab[a] ?? 0) - (full.model.vocab[b] ?? 0));
  const vocab: Record<string, number> = {};
  [...specials, ...ordered].forEach((t, i) => (vocab[t] = i));
  return {
    ...full,
    added_tokens: full.added_tokens.map((t) => ({ ...t, id: vocab[t.content] as number })),
    model: { ...full.model, vocab, merges: merges.filter(([a, b]) => keep.has(a) && keep.has(b) && keep.has(a + b)) },
  };
}

function writeI32(path: string, values: number[] | Int32Array): void {
  writeFileSync(path, Buffer.from(Int32Array.from(values).buffer));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.work, { recursive: true });
  mkdirSync(args.out, { recursive: true });

  const dev = tweetevalVal(args.data);
  const twitchAll = twitchJasonMates(args.data);
  const twitchSeen = new Set<string>();
  const twitch = twitchAll.filter((e) => !twitchSeen.has(e.text) && twitchSeen.add(e.text));
  const evalKeys = new Set([...dev, ...twitch].map((e) => dedupKey(e.text)));
  const rawTrain = [...semeval(args.data), ...tweetSentimentExtraction(args.data), ...goEmotions(args.data)];
  const train = dedupe(rawTrain, evalKeys);
  const trainKeys = new Set(train.map((e) => dedupKey(e.text)));
  const unlabelled = dedupe(sentiment140(args.data), new Set([...evalKeys, ...trainKeys]));
  const all = [...train, ...dev, ...twitch, ...unlabelled];
  const bySource = (xs: Example[]) => xs.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.source]: (acc[e.source] ?? 0) + 1 }), {});
  console.log(`train ${train.length} (from ${rawTrain.length}) ${JSON.stringify(bySource(train))}`);
  console.log(`dev ${dev.length}, twitch ${twitch.length} (from ${twitchAll.length}), unlabelled ${unlabelled.length}`);

  // Vocabulary: count the full tokenizer's pieces over training and pretraining text only.
  const full = await AutoTokenizer.from_pretrained(args.baseTokenizer, { local_files_only: true });
  const counts = new Map<number, number>();
  for (const ex of [...train, ...unlabelled]) {
    for (const id of full.encode(ex.text, { add_special_tokens: false })) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const fullJson = JSON.parse(readFileSync(join(args.baseTokenizer, 'tokenizer.json'), 'utf8')) as TokenizerJson;
  const reduced = reduceVocabulary(fullJson, counts, args.minCount);
  const vocabSize = Object.keys(reduced.model.vocab).length;
  console.log(`vocabulary ${vocabSize} of ${Object.keys(fullJson.model.vocab).length} (pieces used >= ${args.minCount} times)`);
  writeFileSync(join(args.out, 'tokenizer.json'), JSON.stringify(reduced));
  const tokConfig = JSON.parse(readFileSync(join(args.baseTokenizer, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  tokConfig.model_max_length = args.maxTokens;
  tokConfig.added_tokens_decoder = Object.fromEntries(
    Object.entries(tokConfig.added_tokens_decoder as Record<string, { content: string }>).map(([, v]) => [String(reduced.model.vocab[v.content]), v]),
  );
  writeFileSync(join(args.out, 'tokenizer_config.json'), JSON.stringify(tokConfig, null, 2));
  writeFileSync(join(args.out, 'special_tokens_map.json'), readFileSync(join(args.baseTokenizer, 'special_tokens_map.json')));
  writeFileSync(join(args.out, 'featurizer.json'), JSON.stringify(FEATURIZER, null, 2));

  // Token ids with the reduced tokenizer, loaded from the model folder exactly as the server loads it.
  const tokenizer = await AutoTokenizer.from_pretrained(args.out, { local_files_only: true });
  const tokOffsets = [0];
  const tokIds: number[] = [];
  let mismatches = 0;
  for (const [i, ex] of all.entries()) {
    const ids = tokenizer.encode(ex.text, { add_special_tokens: true }).slice(0, args.maxTokens);
    if (ids[ids.length - 1] !== 2) ids[ids.length - 1] = 2; // truncated: keep </s> last, as the tokenizer's truncation does
    tokIds.push(...ids);
    tokOffsets.push(tokIds.length);
    if (i < 2000 && tokenizer.decode(tokenizer.encode(ex.text, { add_special_tokens: false })) !== full.decode(full.encode(ex.text, { add_special_tokens: false }))) mismatches++;
  }
  console.log(`tokens ${tokIds.length}; round-trip mismatches in the first 2000 texts: ${mismatches}`);

  // Hashed n-grams (labelled rows only) and idf over the training rows.
  const labelled = [...train, ...dev, ...twitch];
  const ngOffsets = [0];
  const ngIds: number[] = [];
  const ngTf: number[] = [];
  const df = new Float64Array(FEATURIZER.buckets);
  for (const [i, ex] of labelled.entries()) {
    const entries = [...ngramCounts(ex.text, FEATURIZER)];
    if (entries.length > FEATURIZER.maxFeatures) {
      entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      entries.length = FEATURIZER.maxFeatures;
    }
    for (const [bucket, count] of entries) {
      ngIds.push(bucket);
      ngTf.push(1 + Math.log(count));
      if (i < train.length) df[bucket] = (df[bucket] as number) + 1;
    }
    ngOffsets.push(ngIds.length);
  }
  // scikit-learn's smooth idf: ln((1 + n) / (1 + df)) + 1.
  const idf = Float32Array.from(df, (d) => Math.log((1 + train.length) / (1 + d)) + 1);

  const splitCode = { train: 0, dev: 1, twitch: 2, unlabelled: 3 } as const;
  const sources = [...new Set(all.map((e) => e.source))];
  writeI32(join(args.work, 'tokens.offsets.i32'), tokOffsets);
  writeI32(join(args.work, 'tokens.ids.i32'), tokIds);
  writeI32(join(args.work, 'ngrams.offsets.i32'), ngOffsets);
  writeI32(join(args.work, 'ngrams.ids.i32'), ngIds);
  writeFileSync(join(args.work, 'ngrams.tf.f32'), Buffer.from(Float32Array.from(ngTf).buffer));
  writeFileSync(join(args.work, 'idf.f32'), Buffer.from(idf.buffer));
  writeFileSync(join(args.work, 'labels.i8'), Buffer.from(Int8Array.from(all, (e) => e.label).buffer));
  writeFileSync(join(args.work, 'splits.i8'), Buffer.from(Int8Array.from(all, (e) => splitCode[e.split]).buffer));
  writeFileSync(join(args.work, 'sources.i8'), Buffer.from(Int8Array.from(all, (e) => sources.indexOf(e.source)).buffer));
  writeFileSync(join(args.work, 'texts.json'), JSON.stringify(labelled.map((e) => e.text)));
  writeFileSync(
    join(args.work, 'meta.json'),
    JSON.stringify({ vocabSize, buckets: FEATURIZER.buckets, maxTokens: args.maxTokens, sources, counts: { train: train.length, dev: dev.length, twitch: twitch.length, unlabelled: unlabelled.length }, trainBySource: bySource(train) }, null, 2),
  );
  console.log(`wrote ${args.work} and the tokenizer/featurizer files of ${args.out}`);
}

await main();
