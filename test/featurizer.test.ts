// The n-gram featurizer: its fast incremental hashing must give exactly the buckets of the plain
// definition (FNV-1a of each namespaced n-gram string), since the bundled model was trained on them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { featurize, ngramCounts, normalizeForFeatures, tokenize, type FeaturizerSpec } from '../src/sentiment/featurizer.js';
import { ROOT } from './helpers.js';

const SPEC: FeaturizerSpec = { buckets: 1 << 18, wordNgrams: [1, 2], charNgrams: [2, 5], maxFeatures: 512 };

function fnvString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The definition, written the slow and obvious way. */
function reference(text: string, spec: FeaturizerSpec): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (key: string) => {
    const b = fnvString(key) % spec.buckets;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  };
  const tokens = tokenize(text);
  for (let n = spec.wordNgrams[0]; n <= spec.wordNgrams[1]; n++) {
    for (let i = 0; i + n <= tokens.length; i++) add(`w${n}:${tokens.slice(i, i + n).join(' ')}`);
  }
  for (const t of tokens) {
    const chars = Array.from(` ${t} `);
    for (let n = spec.charNgrams[0]; n <= spec.charNgrams[1]; n++) {
      for (let i = 0; i + n <= chars.length; i++) add(`c:${chars.slice(i, i + n).join('')}`);
    }
  }
  return counts;
}

const CHAT = [
  'PogChamp PogChamp that was INSANE',
  'soooooo boring zzzz 😴😴😴 @streamer wake up',
  'check this https://clips.twitch.tv/abc LUL',
  "KEKW he's actually trolling 🤣",
  '👨‍👩‍👧 family emoji and ZWJ sequences',
  'ÉLAN élan naïve café',
  '',
];

describe('featurizer', () => {
  it('normalizes chat: case, URLs, mentions, elongations', () => {
    expect(normalizeForFeatures('SOOOOOO good @Ninja https://x.y/z')).toBe('sooo good @user  httpurl ');
    expect(tokenize("gg wp!! he's 😂")).toEqual(['gg', 'wp', '!', '!', "he's", '😂']);
  });

  it('hashes exactly like the string definition, on chat lines and the TweetEval texts', () => {
    const tweets = readFileSync(join(ROOT, '..', 'shared', 'datasets', 'tweeteval-sentiment-val', 'val_text.txt'), 'utf8').split('\n');
    for (const text of [...CHAT, ...tweets]) expect(ngramCounts(text, SPEC)).toEqual(reference(text, SPEC));
  });

  it('pads a batch to its widest row with zero weights and sublinear tf', () => {
    const batch = featurize(['gg gg gg', 'a'], SPEC);
    expect(batch.rows).toBe(2);
    const row1 = Array.from(batch.weights.slice(batch.width, 2 * batch.width));
    expect(row1.filter((w) => w > 0).length).toBe(ngramCounts('a', SPEC).size);
    expect(row1.slice(ngramCounts('a', SPEC).size).every((w) => w === 0)).toBe(true);
    const counts = ngramCounts('gg gg gg', SPEC);
    const w1 = counts.get(fnvString('w1:gg') % SPEC.buckets)!;
    expect(w1).toBe(3);
    const idx = Array.from(batch.ids.slice(0, batch.width)).indexOf(BigInt(fnvString('w1:gg') % SPEC.buckets));
    expect(batch.weights[idx]).toBeCloseTo(1 + Math.log(3), 6);
  });

  it('featurize (the serving path) gives each text the buckets, order and counts of ngramCounts (the training path)', () => {
    const tweets = readFileSync(join(ROOT, '..', 'shared', 'datasets', 'tweeteval-sentiment-val', 'val_text.txt'), 'utf8').split('\n');
    // A long text grows the count table past its first size; a small cap exercises the top-k rule.
    const long = Array.from({ length: 400 }, (_, i) => `word${i} ${String.fromCodePoint(0x1f600 + (i % 50))}`).join(' ');
    for (const spec of [SPEC, { ...SPEC, maxFeatures: 7 }]) {
      const texts = [...CHAT, long, ...tweets.slice(0, 500)];
      const batch = featurize(texts, spec);
      texts.forEach((text, r) => {
        let expected = [...ngramCounts(text, spec)];
        if (expected.length > spec.maxFeatures) expected = expected.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, spec.maxFeatures);
        const ids = Array.from(batch.ids.slice(r * batch.width, r * batch.width + expected.length), Number);
        const weights = Array.from(batch.weights.slice(r * batch.width, (r + 1) * batch.width));
        expect(ids).toEqual(expected.map(([bucket]) => bucket));
        expected.forEach(([, count], i) => expect(weights[i]).toBeCloseTo(1 + Math.log(count), 6));
        expect(weights.slice(expected.length).every((w) => w === 0)).toBe(true);
      });
    }
  });

  it('keeps the most frequent n-grams when a text has more than maxFeatures', () => {
    const small = { ...SPEC, maxFeatures: 5 };
    const batch = featurize(['the the the the cat sat on the mat with a hat'], small);
    expect(batch.width).toBe(5);
    expect(batch.weights[0]).toBeCloseTo(Math.max(...Array.from(batch.weights)), 6);
  });
});
