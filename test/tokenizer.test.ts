// The byte-level BPE and native tokenizers against transformers.js: the same ids and masks on real tweets and
// chat for every model folder we ship or test with, and a fallback (never other ids) where a folder makes them disagree.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { SentimentEngine } from '../src/sentiment/engine.js';
import { readModelInfo, ModelError } from '../src/sentiment/model.js';
import { loadTokenizer, PROBE_TEXTS } from '../src/sentiment/tokenizer.js';
import { ChatText } from '../src/sentiment/chat-text.js';
import { DISTILBERT, ROBERTA, ROOT } from './helpers.js';

const DATASETS = join(ROOT, '..', 'shared', 'datasets');
const BUNDLED = join(ROOT, 'models', 'chatpulse-mini');

const lines = (file: string, n: number) =>
  readFileSync(join(DATASETS, file), 'utf8')
    .split('\n')
    .slice(0, n)
    .map((l) => l.split('\t')[0] ?? '')
    .filter((l) => l !== '');

const CORPUS = [
  ...lines('tweeteval-sentiment-val/val_text.txt', 2000),
  ...lines('twitch-chat-unlabeled/dekuNukem__Twitch_Chatlogs.tsv', 1500),
  ...lines('twitch-chat-unlabeled/Zirke__twitch_chat.tsv', 1500),
  ...PROBE_TEXTS,
];

describe.each([
  ['the bundled chat model', BUNDLED, 128],
  ['the RoBERTa fixture (byte-level BPE)', ROBERTA, 128],
  ['the bundled model with a short max length', BUNDLED, 12],
])('%s', (_name, dir, maxLength) => {
  it('auto picks bpe; bpe and native give the ids and masks of transformers.js on real tweets and chat', async () => {
    const info = readModelInfo(dir, maxLength);
    const auto = await loadTokenizer(info, 'auto');
    const native = await loadTokenizer(info, 'native');
    const js = await loadTokenizer(info, 'js');
    expect(auto.tokenizer.kind).toBe('bpe');
    expect(auto.reason).toMatch(/^byte-level BPE .*same ids as transformers\.js/);
    expect(native.tokenizer.kind).toBe('native');
    expect(js.tokenizer.kind).toBe('js');
    const chat = info.chat ? new ChatText(info.chat) : null;
    const texts = chat ? CORPUS.map((t) => chat.normalize(t)) : CORPUS;
    // Twice through the bpe one: the second pass is served from its per-word memo.
    for (const [pass, candidate] of [auto.tokenizer, auto.tokenizer, native.tokenizer].entries()) {
      for (let i = 0; i < texts.length; i += 64) {
        const batch = texts.slice(i, i + 64);
        const [a, b] = [await js.tokenizer.encode(batch), await candidate.encode(batch)];
        expect(b.dims, `pass ${pass}`).toEqual(a.dims);
        expect(b.dims[1]).toBeLessThanOrEqual(maxLength);
        expect(Buffer.from(b.ids.buffer).equals(Buffer.from(a.ids.buffer)), `pass ${pass}, batch ${i}`).toBe(true);
        expect(Buffer.from(b.mask.buffer).equals(Buffer.from(a.mask.buffer))).toBe(true);
      }
    }
  });
});

describe('the DistilBERT fixture (WordPiece, lowercased)', () => {
  it('falls back to transformers.js: bpe does not handle WordPiece, and native splits CJK beyond the BMP differently', async () => {
    const info = readModelInfo(DISTILBERT, 128);
    const choice = await loadTokenizer(info, 'auto');
    expect(choice.tokenizer.kind).toBe('js');
    expect(choice.reason).toMatch(/bpe: it did not load \(the tokenizer has a normalizer\)/);
    expect(choice.reason).toMatch(/native: its ids differ from transformers\.js's on "A𠀀/);
    await expect(loadTokenizer(info, 'native')).rejects.toThrow(ModelError);
    await expect(loadTokenizer(info, 'bpe')).rejects.toThrow(/the bpe tokenizer cannot serve this folder/);
  });
});

describe('a folder on which the two disagree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-tokenizer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // transformers.js honours this tokenizer_config.json switch; the Rust tokenizer reads tokenizer.json only.
  cpSync(ROBERTA, dir, { recursive: true });
  const configPath = join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(configPath, JSON.stringify({ ...config, do_lowercase_and_remove_accent: true }));

  it('auto falls back to transformers.js and says why', async () => {
    const choice = await loadTokenizer(readModelInfo(dir, 128), 'auto');
    expect(choice.tokenizer.kind).toBe('js');
    expect(choice.reason).toMatch(
      /^transformers\.js \(bpe: it did not load \(tokenizer_config\.json changes the text first\); native: its ids differ/,
    );
    const [encoded] = [await choice.tokenizer.encode(['Ünïcödé CAPS'])];
    expect(encoded.dims[0]).toBe(1);
  });

  it('native or bpe, when asked for, refuses to load rather than give other ids', async () => {
    await expect(loadTokenizer(readModelInfo(dir, 128), 'native')).rejects.toThrow(ModelError);
    await expect(loadTokenizer(readModelInfo(dir, 128), 'bpe')).rejects.toThrow(ModelError);
  });
});

describe('the engine and its setting', () => {
  it('TOKENIZER is auto by default, bpe, native or js on request, and anything else is refused by name', () => {
    const base = { JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789' };
    expect(loadConfig(base).tokenizer).toBe('auto');
    expect(loadConfig({ ...base, TOKENIZER: 'JS' }).tokenizer).toBe('js');
    expect(loadConfig({ ...base, TOKENIZER: 'native' }).tokenizer).toBe('native');
    expect(loadConfig({ ...base, TOKENIZER: 'bpe' }).tokenizer).toBe('bpe');
    expect(() => loadConfig({ ...base, TOKENIZER: 'rust' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, TOKENIZER: 'rust' })).toThrow(/TOKENIZER must be one of auto, bpe, native, js/);
  });

  it('serves the bundled model with the bpe tokenizer, giving what transformers.js gives', async () => {
    const config = {
      modelDir: BUNDLED,
      maxLength: 128,
      threads: 1,
      intraOpNumThreads: 1,
      batchMaxItems: 16,
      batchMaxTokens: 8192,
      batchMaxWaitMs: 1,
      queueMax: 1024,
      cacheSize: 0,
    };
    const [native, js] = [await SentimentEngine.start(config), await SentimentEngine.start({ ...config, tokenizer: 'js' })];
    try {
      expect(native.tokenizer.kind).toBe('bpe');
      expect(js.tokenizer.kind).toBe('js');
      expect(js.tokenizer.reason).toMatch(/TOKENIZER=js/);
      const texts = [...CORPUS.slice(1990, 2030), 'that clutch was insane PogChamp', 'worst stream ever'];
      const [a, b] = [await native.classifyMany(texts), await js.classifyMany(texts)];
      a.forEach((r, i) => {
        expect(r.label).toBe(b[i]?.label);
        expect(r.score).toBeCloseTo(b[i]?.score ?? NaN, 5);
      });
    } finally {
      await native.close();
      await js.close();
    }
  });
});

describe.each([
  ['the bundled chat model', BUNDLED],
  ['the RoBERTa fixture', ROBERTA],
  ['the DistilBERT fixture', DISTILBERT],
])('fuzzed text, %s', (_name, dir) => {
  // The probe set is what auto trusts; this checks it on strings nobody listed (it found the CJK case above).
  it('gives, with whichever tokenizer auto picks, the ids and masks of transformers.js on arbitrary strings', async () => {
    const info = readModelInfo(dir, 32);
    const [native, js] = [(await loadTokenizer(info, 'auto')).tokenizer, (await loadTokenizer(info, 'js')).tokenizer];
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc
        .array(
          fc.constantFrom(
            'PogChamp',
            ' ',
            '  ',
            '\n',
            'LUL',
            '😂',
            '<s>',
            '</s>',
            '<mask>',
            ' <mask> ',
            '<pad><s>',
            'ÉLAN',
            'e\u0301',
            '\ud800',
            '!!!',
            'gg',
            "'s",
            "'ll",
          ),
          {
            maxLength: 20,
          },
        )
        .map((a) => a.join('')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 8 }), async (batch) => {
        const [a, b] = [await js.encode(batch), await native.encode(batch)];
        expect(b.dims).toEqual(a.dims);
        expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
        expect(Array.from(b.mask)).toEqual(Array.from(a.mask));
      }),
      { numRuns: 300 },
    );
  });
});
