// The model runtime and the engine against direct onnxruntime-node runs on both shared fixtures.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { readModelInfo, ModelError } from '../src/sentiment/model.js';
import { ModelRuntime } from '../src/sentiment/runtime.js';
import { SentimentEngine } from '../src/sentiment/engine.js';
import { DISTILBERT, ROBERTA } from './helpers.js';

const TEXTS = [
  'gg',
  'that play was insane PogChamp PogChamp',
  'LUL',
  'why is the stream lagging so much today, this is unwatchable 😡😡',
  'hiiiiiii chat 😂😂😂 @streamer you are the best',
  'check https://example.com/clip?id=42 KEKW',
  'ok',
];

interface Direct {
  tokenizer: PreTrainedTokenizer;
  session: ort.InferenceSession;
}

/** The reference: one text at a time, no padding, plain onnxruntime-node, float64 softmax. */
async function directProbs(d: Direct, text: string, maxLength: number): Promise<number[]> {
  const enc = d.tokenizer(text, { truncation: true, max_length: maxLength }) as unknown as Record<
    string,
    { data: BigInt64Array; dims: number[] }
  >;
  const ids = enc.input_ids!;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids.data, ids.dims),
    attention_mask: new ort.Tensor('int64', enc.attention_mask!.data, ids.dims),
  };
  const out = await d.session.run(feeds);
  const logits = Array.from(out.logits!.data as Float32Array);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe.each([
  ['BPE 3-label', ROBERTA, ['negative', 'neutral', 'positive']],
  ['WordPiece 2-label', DISTILBERT, ['NEGATIVE', 'POSITIVE']],
])('runtime on the %s fixture', (_name, dir, labels) => {
  let direct: Direct;
  let engine: SentimentEngine;
  let runtime: ModelRuntime;

  beforeAll(async () => {
    const info = readModelInfo(dir, 128);
    direct = {
      tokenizer: await AutoTokenizer.from_pretrained(dir, { local_files_only: true }),
      session: await ort.InferenceSession.create(info.onnxFile),
    };
    runtime = await ModelRuntime.load(info, { intraOpNumThreads: 1 });
    engine = await SentimentEngine.start({
      modelDir: dir,
      maxLength: 128,
      threads: 2,
      intraOpNumThreads: 1,
      batchMaxItems: 4,
      batchMaxTokens: 4096,
      batchMaxWaitMs: 1,
      queueMax: 1000,
      cacheSize: 100,
    });
  });
  afterAll(async () => {
    await engine.close();
    await runtime.close();
    await direct.session.release();
  });

  it('reads labels from id2label in logit order', () => {
    expect(engine.info.labels).toEqual(labels);
  });

  it('gives the same probabilities as a direct onnxruntime run (1e-5), through batching and padding', async () => {
    const results = await engine.classifyMany(TEXTS);
    for (const [i, text] of TEXTS.entries()) {
      const expected = await directProbs(direct, text, 128);
      const got = labels.map((l) => results[i]!.scores[l]!);
      got.forEach((p, k) => expect(Math.abs(p - expected[k]!)).toBeLessThan(1e-5));
      expect(got.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const argmax = expected.indexOf(Math.max(...expected));
      expect(results[i]!.label).toBe(labels[argmax]);
      expect(results[i]!.score).toBeCloseTo(expected[argmax]!, 5);
    }
    expect(engine.stats().batches).toBeGreaterThan(1); // 7 texts, at most 4 per batch
  });

  it('cuts a batch with one long text into length-grouped runs, each text keeping its place and its direct result', async () => {
    const long = `${'this stream is so good and the chat is wild tonight '.repeat(12)}PogChamp`;
    const texts = [...TEXTS, long, ...TEXTS];
    const runs = await runtime.prepare(texts);
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.flatMap((r) => r.rows).sort((a, b) => a - b)).toEqual(texts.map((_, i) => i));
    const longRun = runs.find((r) => r.rows.includes(TEXTS.length))!;
    const shortRun = runs.find((r) => !r.rows.includes(TEXTS.length))!;
    expect(shortRun.feeds.input_ids!.dims[1]).toBeLessThan(longRun.feeds.input_ids!.dims[1]!);
    const probs = await runtime.classify(texts);
    const width = labels.length;
    for (const [i, text] of texts.entries()) {
      const expected = await directProbs(direct, text, 128);
      expected.forEach((p, k) => expect(Math.abs(probs[i * width + k]! - p)).toBeLessThan(1e-5));
    }
  });

  it('gives each item of a mixed-length batch the result it gets alone', async () => {
    const batch = await runtime.classify(TEXTS);
    const width = labels.length;
    for (const [i, text] of TEXTS.entries()) {
      const alone = await runtime.classify([text]);
      for (let k = 0; k < width; k++) expect(Math.abs(batch[i * width + k]! - alone[k]!)).toBeLessThan(1e-5);
    }
  });

  it('truncates to max length: texts that differ only past it classify identically', async () => {
    const short = await ModelRuntime.load(readModelInfo(dir, 12), { intraOpNumThreads: 1 });
    try {
      const prefix = 'this stream is amazing and the chat is so much fun tonight really';
      const feeds = await short.encode([`${prefix} ${'word '.repeat(300)}`]);
      expect(feeds.input_ids!.dims).toEqual([1, 12]);
      const [a, b] = [await short.classify([`${prefix} great`]), await short.classify([`${prefix} terrible awful`])];
      expect(Array.from(a)).toEqual(Array.from(b));
      // ...while the untruncated runtime tells them apart, so the equality above is the truncation's doing.
      const [c, d] = [await runtime.classify([`${prefix} great`]), await runtime.classify([`${prefix} terrible awful`])];
      expect(Array.from(c)).not.toEqual(Array.from(d));
    } finally {
      await short.close();
    }
  });
});

describe('model folder checks', () => {
  it('names what is missing', () => {
    expect(() => readModelInfo('/nonexistent/model', 128)).toThrow(ModelError);
    expect(() => readModelInfo('/nonexistent/model', 128)).toThrow(/MODEL_DIR/);
    expect(() => readModelInfo('/tmp', 128)).toThrow(/config\.json is missing/);
  });
});

describe('chat.json: chat normalization before the tokenizer', () => {
  const ids = async (dir: string, text: string) => {
    const runtime = await ModelRuntime.load(readModelInfo(dir, 128), { intraOpNumThreads: 1 });
    try {
      return Array.from((await runtime.encode([text])).input_ids!.data as BigInt64Array, Number);
    } finally {
      await runtime.close();
    }
  };

  it('normalizes texts of a folder that has one, leaves other folders as they are, and refuses a bad one by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatpulse-chat-'));
    try {
      cpSync(ROBERTA, dir, { recursive: true });
      expect(await ids(dir, 'POGCHAMP')).not.toEqual(await ids(dir, 'PogChamp'));
      writeFileSync(join(dir, 'chat.json'), JSON.stringify({ emotes: ['PogChamp'] }));
      expect(readModelInfo(dir, 128).chat).toEqual({ emotes: ['PogChamp'] });
      expect(await ids(dir, 'POGCHAMP')).toEqual(await ids(dir, 'PogChamp'));
      expect(await ids(dir, 'sooooo GOOD')).toEqual(await ids(dir, 'soo good'));
      writeFileSync(join(dir, 'chat.json'), JSON.stringify({ emotes: 'PogChamp' }));
      expect(() => readModelInfo(dir, 128)).toThrow(/chat\.json is invalid/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
