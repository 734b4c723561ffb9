// Step 1 of `npm run model:train`: builds the training corpus with the production tokenizer and
// featurizer (so training sees exactly what serving computes), reduces the BPE vocabulary to what the
// corpus uses, and writes binary arrays for models/train/train.py plus the tokenizer/featurizer files
// of the model folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { ChatText } from '../../src/sentiment/chat-text.js';
import { ngramCounts, normalizeForFeatures, type FeaturizerSpec } from '../../src/sentiment/featurizer.js';
import {
  emojiPolarity,
  goEmotions,
  semeval,
  sentiment140,
  splitChatEval,
  tweetevalVal,
  tweetSentimentExtraction,
  twitchChat,
  type Example,
} from './datasets.js';
import { CHAT_WORD_POLARITY, chatWordPolarity, EMOTE_NAMES, EMOTE_POLARITY } from './emotes.js';

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
  // Code points are what is counted: a byte-level BPE symbol is one code point, never a grapheme cluster.
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points, by design (see above)
  for (const token of Object.keys(full.model.vocab)) if ([...token].length === 1) keep.add(token);
  const visit = (token: string) => {
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points, by design (see above)
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

/** A growable typed array: the chat corpus has tens of millions of n-gram entries, too many for number[]. */
class Column<T extends Int32Array | Float32Array> {
  length = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  get values(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

const EDGE_RE = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;

/**
 * Distant label of a chat line from its emotes, chat words (`W`, `L`, `gg`) and emoji: positive or negative when every polar one agrees,
 * else none. `stripped` is the line without them (so the words around an emote learn its polarity), or null
 * when too little text is left.
 */
function weakLabel(normalized: string, emoji: Map<string, 1 | -1>): { label: 0 | 2; stripped: string | null } | null {
  let pos = 0;
  let neg = 0;
  const kept: string[] = [];
  for (const token of normalized.split(' ')) {
    const core = token.replace(EDGE_RE, '');
    const p = Object.hasOwn(EMOTE_POLARITY, core) ? (EMOTE_POLARITY[core] as number) : chatWordPolarity(core);
    if (p > 0) pos++;
    else if (p < 0) neg++;
    let rest = '';
    for (const ch of token) {
      const e = emoji.get(ch);
      if (e === 1) pos++;
      else if (e === -1) neg++;
      else if (ch !== '\uFE0F') rest += ch;
    }
    if (p === 0 && rest !== '') kept.push(rest);
  }
  if (pos > 0 === neg > 0) return null;
  const stripped = kept.join(' ').trim();
  return { label: pos > 0 ? 2 : 0, stripped: /\p{L}{2,}/u.test(stripped) ? stripped : null };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.work, { recursive: true });
  mkdirSync(args.out, { recursive: true });
  const chat = new ChatText({ emotes: EMOTE_NAMES });
  const norm = (e: Example): Example => ({ ...e, text: chat.normalize(e.text) });

  const dev = tweetevalVal(args.data).map(norm);
  const twitch = splitChatEval(args.data);
  const chatDev = twitch.dev.map(norm);
  const chatTest = twitch.test.map((e) => ({ ...norm(e), split: 'chat-test' as const }));
  const evalKeys = new Set([...dev, ...chatDev, ...chatTest].map((e) => dedupKey(e.text)));
  const rawTrain = [...semeval(args.data), ...tweetSentimentExtraction(args.data), ...goEmotions(args.data)].map(norm);
  const train = dedupe(rawTrain, evalKeys);
  const trainKeys = new Set(train.map((e) => dedupKey(e.text)));
  const unlabelled = dedupe(sentiment140(args.data).map(norm), new Set([...evalKeys, ...trainKeys]));

  // Chat: every distinct line (pretraining, self-training candidates) and the emote/emoji-labelled ones.
  const chatLines = dedupe(
    twitchChat(args.data).map((e) => ({ ...norm(e), split: 'chat' as const })),
    evalKeys,
  );
  const emoji = emojiPolarity(args.data);
  const weak: Example[] = [];
  for (const line of chatLines) {
    const w = weakLabel(line.text, emoji);
    if (w === null) continue;
    weak.push({ text: line.text, label: w.label, source: 'chat-weak', split: 'weak' });
    if (w.stripped !== null && !evalKeys.has(dedupKey(w.stripped))) {
      weak.push({ text: w.stripped, label: w.label, source: 'chat-weak-stripped', split: 'weak' });
    }
  }
  // Rows with n-grams come first (train.py indexes the n-gram arrays by row).
  const withNgrams = [...train, ...dev, ...chatDev, ...chatTest, ...weak, ...chatLines];
  const all = [...withNgrams, ...unlabelled];
  const bySource = (xs: Example[]) => xs.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.source]: (acc[e.source] ?? 0) + 1 }), {});
  const byLabel = (xs: Example[]) =>
    xs.reduce<Record<string, number>>((acc, e) => ({ ...acc, [String(e.label)]: (acc[String(e.label)] ?? 0) + 1 }), {});
  console.log(`train ${train.length} (from ${rawTrain.length}) ${JSON.stringify(bySource(train))}`);
  console.log(`dev ${dev.length}, chat dev ${chatDev.length}, chat test ${chatTest.length}, unlabelled ${unlabelled.length}`);
  console.log(
    `chat lines ${chatLines.length}; weak rows ${weak.length} ${JSON.stringify(bySource(weak))} by label ${JSON.stringify(byLabel(weak))}`,
  );

  // Vocabulary: count the full tokenizer's pieces over training and pretraining text only.
  const full = await AutoTokenizer.from_pretrained(args.baseTokenizer, { local_files_only: true });
  const counts = new Map<number, number>();
  for (const ex of [...train, ...unlabelled, ...chatLines]) {
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
    Object.entries(tokConfig.added_tokens_decoder as Record<string, { content: string }>).map(([, v]) => [
      String(reduced.model.vocab[v.content]),
      v,
    ]),
  );
  writeFileSync(join(args.out, 'tokenizer_config.json'), JSON.stringify(tokConfig, null, 2));
  writeFileSync(join(args.out, 'special_tokens_map.json'), readFileSync(join(args.baseTokenizer, 'special_tokens_map.json')));
  writeFileSync(join(args.out, 'featurizer.json'), JSON.stringify(FEATURIZER, null, 2));
  writeFileSync(join(args.out, 'chat.json'), JSON.stringify(chat.spec, null, 2));

  // Token ids with the reduced tokenizer, loaded from the model folder exactly as the server loads it.
  const tokenizer = await AutoTokenizer.from_pretrained(args.out, { local_files_only: true });
  const tokOffsets = new Int32Array(all.length + 1);
  const tokIds = new Column(new Int32Array(1 << 20), (n) => new Int32Array(n));
  let mismatches = 0;
  for (const [i, ex] of all.entries()) {
    const ids = tokenizer.encode(ex.text, { add_special_tokens: true }).slice(0, args.maxTokens);
    if (ids[ids.length - 1] !== 2) ids[ids.length - 1] = 2; // truncated: keep </s> last, as the tokenizer's truncation does
    for (const id of ids) tokIds.push(id);
    tokOffsets[i + 1] = tokIds.length;
    if (
      i < 2000 &&
      tokenizer.decode(tokenizer.encode(ex.text, { add_special_tokens: false })) !==
        full.decode(full.encode(ex.text, { add_special_tokens: false }))
    )
      mismatches++;
  }
  console.log(`tokens ${tokIds.length}; round-trip mismatches in the first 2000 texts: ${mismatches}`);

  // Hashed n-grams of every row a classifier may see, and idf over the rows it may train on.
  const ngOffsets = new Int32Array(withNgrams.length + 1);
  const ngIds = new Column(new Int32Array(1 << 22), (n) => new Int32Array(n));
  const ngTf = new Column(new Float32Array(1 << 22), (n) => new Float32Array(n));
  const df = new Float64Array(FEATURIZER.buckets);
  let dfRows = 0;
  for (const [i, ex] of withNgrams.entries()) {
    const entries = [...ngramCounts(ex.text, FEATURIZER)];
    if (entries.length > FEATURIZER.maxFeatures) {
      entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      entries.length = FEATURIZER.maxFeatures;
    }
    const trains = ex.split === 'train' || ex.split === 'weak' || ex.split === 'chat';
    if (trains) dfRows++;
    for (const [bucket, count] of entries) {
      ngIds.push(bucket);
      ngTf.push(1 + Math.log(count));
      if (trains) df[bucket] = (df[bucket] as number) + 1;
    }
    ngOffsets[i + 1] = ngIds.length;
  }
  // scikit-learn's smooth idf: ln((1 + n) / (1 + df)) + 1.
  const idf = Float32Array.from(df, (d) => Math.log((1 + dfRows) / (1 + d)) + 1);

  const splitCode: Record<Example['split'], number> = { train: 0, dev: 1, twitch: 2, unlabelled: 3, 'chat-test': 4, weak: 5, chat: 6 };
  const sources = [...new Set(all.map((e) => e.source))];
  const bin = (name: string, a: Int32Array | Float32Array | Int8Array) =>
    writeFileSync(join(args.work, name), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  bin('tokens.offsets.i32', tokOffsets);
  bin('tokens.ids.i32', tokIds.values);
  bin('ngrams.offsets.i32', ngOffsets);
  bin('ngrams.ids.i32', ngIds.values);
  bin('ngrams.tf.f32', ngTf.values);
  bin('idf.f32', idf);
  bin(
    'labels.i8',
    Int8Array.from(all, (e) => e.label),
  );
  bin(
    'splits.i8',
    Int8Array.from(all, (e) => splitCode[e.split]),
  );
  bin(
    'sources.i8',
    Int8Array.from(all, (e) => sources.indexOf(e.source)),
  );
  writeFileSync(join(args.work, 'texts.json'), JSON.stringify(withNgrams.map((e) => e.text)));
  const counted = {
    train: train.length,
    dev: dev.length,
    chatDev: chatDev.length,
    chatTest: chatTest.length,
    weak: weak.length,
    chat: chatLines.length,
    unlabelled: unlabelled.length,
  };
  writeFileSync(
    join(args.work, 'meta.json'),
    JSON.stringify(
      {
        vocabSize,
        buckets: FEATURIZER.buckets,
        maxTokens: args.maxTokens,
        sources,
        counts: counted,
        trainBySource: bySource(train),
        weakBySource: bySource(weak),
        weakByLabel: byLabel(weak),
        emojiPolarities: emoji.size,
        emotes: EMOTE_NAMES.length,
        chatWords: Object.keys(CHAT_WORD_POLARITY),
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${args.work} and the tokenizer/featurizer/chat files of ${args.out}`);
}

await main();
