// Hashed word and character n-grams for models with a linear (TF-IDF logistic regression) branch. The
// same code featurizes the training corpus (models/train/prepare.ts) and live traffic, so training and
// serving cannot drift. A model opts in with `featurizer.json` and graph inputs ngram_ids/ngram_weights.

export interface FeaturizerSpec {
  /** Hash buckets; the graph's idf and weight tables have this many rows. */
  buckets: number;
  /** Inclusive word n-gram orders, e.g. [1, 2]. */
  wordNgrams: [number, number];
  /** Inclusive character n-gram orders inside space-padded words (like scikit-learn's char_wb). */
  charNgrams: [number, number];
  /** Most distinct n-grams kept per text (the most frequent): bounds the input size. */
  maxFeatures: number;
}

const URL_RE = /\b(?:https?:\/\/|www\.)\S+/giu;
const MENTION_RE = /@\w+/gu;
// Letters repeated 3+ times ("soooo", "!!!!!") collapse to 3: elongation is signal, its length is noise.
const ELONGATION_RE = /(.)\1{3,}/gu;
const TOKEN_RE = /[\p{L}\p{N}_']+|[^\p{L}\p{N}_'\s]/gu;

/** Lowercase, URLs and mentions replaced by placeholders, elongations capped. */
export function normalizeForFeatures(text: string): string {
  return text.toLowerCase().replace(URL_RE, ' httpurl ').replace(MENTION_RE, '@user').replace(ELONGATION_RE, '$1$1$1');
}

export function tokenize(text: string): string[] {
  return normalizeForFeatures(text).match(TOKEN_RE) ?? [];
}

const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a over UTF-16 code units: tiny, fast with Math.imul, stable across runs and machines, and it can be
 * continued from a prefix's state, which lets n-grams be hashed without building their strings. */
function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * Bucket -> count of the text's n-grams. Keys are namespaced ("w1:gg", "w2:gg wp", "c: gg") so a word and
 * a character gram never share a key; each key's hash equals FNV-1a of that string (test/featurizer.test.ts
 * checks this against a plain string-building reference).
 */
export function ngramCounts(text: string, spec: FeaturizerSpec): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (hash: number) => {
    const bucket = (hash >>> 0) % spec.buckets;
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  };
  const tokens = tokenize(text);
  const [wMin, wMax] = spec.wordNgrams;
  for (let n = wMin; n <= wMax; n++) {
    const prefix = fnv(FNV_OFFSET, `w${n}:`);
    for (let i = 0; i + n <= tokens.length; i++) {
      let h = fnv(prefix, tokens[i] as string);
      for (let j = 1; j < n; j++) h = fnv(Math.imul(h ^ 0x20, 0x01000193), tokens[i + j] as string);
      add(h);
    }
  }
  const [cMin, cMax] = spec.charNgrams;
  const charPrefix = fnv(FNV_OFFSET, 'c:');
  for (const token of tokens) {
    const chars = Array.from(` ${token} `);
    for (let i = 0; i + cMin <= chars.length; i++) {
      let h = charPrefix;
      for (let n = 1; n <= cMax && i + n <= chars.length; n++) {
        h = fnv(h, chars[i + n - 1] as string);
        if (n >= cMin) add(h);
      }
    }
  }
  return counts;
}

export interface NgramBatch {
  /** [rows x width] bucket ids, padded with 0. */
  ids: BigInt64Array;
  /** [rows x width] sublinear term frequencies 1 + ln(count), padded with 0 (so padding adds nothing). */
  weights: Float32Array;
  rows: number;
  width: number;
}

export function featurize(texts: readonly string[], spec: FeaturizerSpec): NgramBatch {
  const perText = texts.map((t) => {
    const entries = [...ngramCounts(t, spec)];
    if (entries.length > spec.maxFeatures) {
      entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      entries.length = spec.maxFeatures;
    }
    return entries;
  });
  const width = Math.max(1, ...perText.map((e) => e.length));
  const ids = new BigInt64Array(texts.length * width);
  const weights = new Float32Array(texts.length * width);
  perText.forEach((entries, r) => {
    entries.forEach(([bucket, count], i) => {
      ids[r * width + i] = BigInt(bucket);
      weights[r * width + i] = 1 + Math.log(count);
    });
  });
  return { ids, weights, rows: texts.length, width };
}

export function parseFeaturizerSpec(raw: unknown, where: string): FeaturizerSpec {
  const o = (raw ?? {}) as Record<string, unknown>;
  const pair = (v: unknown): v is [number, number] =>
    Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n) && n >= 1) && v[0] <= v[1];
  if (
    !Number.isInteger(o.buckets) ||
    (o.buckets as number) < 2 ||
    !pair(o.wordNgrams) ||
    !pair(o.charNgrams) ||
    !Number.isInteger(o.maxFeatures) ||
    (o.maxFeatures as number) < 1
  ) {
    throw new Error(`${where}: expected {buckets, wordNgrams: [min,max], charNgrams: [min,max], maxFeatures}`);
  }
  return { buckets: o.buckets as number, wordNgrams: o.wordNgrams, charNgrams: o.charNgrams, maxFeatures: o.maxFeatures as number };
}
