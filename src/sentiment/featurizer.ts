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
 * Calls `add` with the hash of each of the text's n-grams, in text order. Keys are namespaced ("w1:gg",
 * "w2:gg wp", "c: gg") so a word and a character gram never share a key; each key's hash equals FNV-1a of
 * that string (test/featurizer.test.ts checks this against a plain string-building reference).
 */
function forEachNgram(text: string, spec: FeaturizerSpec, add: (hash: number) => void): void {
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
}

/** Bucket -> count of the text's n-grams, in first-occurrence order (the training corpus is built from this). */
export function ngramCounts(text: string, spec: FeaturizerSpec): Map<number, number> {
  const counts = new Map<number, number>();
  forEachNgram(text, spec, (hash) => {
    const bucket = (hash >>> 0) % spec.buckets;
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  });
  return counts;
}

/**
 * ngramCounts for the serving path, without a Map per text: an open-addressing table of typed arrays, reused
 * and cleared through its insertion list. Same buckets, counts and order (test/featurizer.test.ts); the Map,
 * the entry arrays and their garbage were half of featurize's time (bench:engine profile).
 */
class CountTable {
  private keys = new Int32Array(1024).fill(-1);
  private counts = new Int32Array(1024);
  /** Slots in first-insertion order; `size` of them are in use. */
  private order = new Int32Array(1024);
  size = 0;

  add(bucket: number): void {
    const mask = this.keys.length - 1;
    let slot = (Math.imul(bucket, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const key = this.keys[slot] as number;
      if (key === bucket) {
        this.counts[slot] = (this.counts[slot] as number) + 1;
        return;
      }
      if (key === -1) break;
      slot = (slot + 1) & mask;
    }
    this.keys[slot] = bucket;
    this.counts[slot] = 1;
    this.order[this.size++] = slot;
    if (this.size * 2 > this.keys.length) this.grow();
  }

  bucketAt(i: number): number {
    return this.keys[this.order[i] as number] as number;
  }

  countAt(i: number): number {
    return this.counts[this.order[i] as number] as number;
  }

  clear(): void {
    for (let i = 0; i < this.size; i++) this.keys[this.order[i] as number] = -1;
    this.size = 0;
  }

  private grow(): void {
    const entries = Array.from({ length: this.size }, (_, i) => [this.bucketAt(i), this.countAt(i)] as const);
    const capacity = this.keys.length * 2;
    this.keys = new Int32Array(capacity).fill(-1);
    this.counts = new Int32Array(capacity);
    this.order = new Int32Array(capacity);
    this.size = 0;
    for (const [bucket, count] of entries) {
      this.add(bucket);
      this.counts[this.order[this.size - 1] as number] = count;
    }
  }
}

export interface NgramBatch {
  /** [rows x width] bucket ids, padded with 0. */
  ids: BigInt64Array;
  /** [rows x width] sublinear term frequencies 1 + ln(count), padded with 0 (so padding adds nothing). */
  weights: Float32Array;
  rows: number;
  width: number;
}

const table = new CountTable();
// Int64 ids are written as their low 32 bits through an Int32Array view (buckets are non-negative int32s and
// the high word stays 0): no BigInt per feature. Only valid on little-endian machines, which is every target.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function featurize(texts: readonly string[], spec: FeaturizerSpec): NgramBatch {
  // Per text: its kept buckets and counts, flat, then the padded tensors once the widest row is known.
  const buckets: number[] = [];
  const counts: number[] = [];
  const ends: number[] = [];
  for (const text of texts) {
    forEachNgram(text, spec, (hash) => table.add((hash >>> 0) % spec.buckets));
    if (table.size > spec.maxFeatures) {
      // Rare (long texts): only then are entry pairs built, to keep the most frequent.
      const entries = Array.from({ length: table.size }, (_, i) => [table.bucketAt(i), table.countAt(i)] as const);
      entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      for (const [bucket, count] of entries.slice(0, spec.maxFeatures)) {
        buckets.push(bucket);
        counts.push(count);
      }
    } else {
      for (let i = 0; i < table.size; i++) {
        buckets.push(table.bucketAt(i));
        counts.push(table.countAt(i));
      }
    }
    table.clear();
    ends.push(buckets.length);
  }
  let width = 1;
  for (let r = 0, start = 0; r < ends.length; start = ends[r++] as number) width = Math.max(width, (ends[r] as number) - start);
  const ids = new BigInt64Array(texts.length * width);
  const low = new Int32Array(ids.buffer);
  const weights = new Float32Array(texts.length * width);
  for (let r = 0, start = 0; r < ends.length; start = ends[r++] as number) {
    for (let i = start, at = r * width; i < (ends[r] as number); i++, at++) {
      if (LITTLE_ENDIAN) low[2 * at] = buckets[i] as number;
      else ids[at] = BigInt(buckets[i] as number);
      weights[at] = 1 + Math.log(counts[i] as number);
    }
  }
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
