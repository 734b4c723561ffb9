// The bundled model, served through the engine exactly as `npm start` serves it: its TweetEval
// validation macro-recall must match what the model card and metrics.json claim, which catches any
// tokenizer, featurizer or preprocessing drift between training and serving.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../src/config.js';
import { BUNDLED_MODELS_DIR } from '../src/paths.js';
import { SentimentEngine } from '../src/sentiment/engine.js';
import { classificationMetrics } from '../models/train/metrics.js';
import { splitChatEval, tweetevalVal } from '../models/train/datasets.js';
import { ROOT } from './helpers.js';

const dir = join(BUNDLED_MODELS_DIR, DEFAULT_MODEL);
const DATASETS = join(ROOT, '..', 'shared', 'datasets');

interface Claimed {
  tweeteval_val: { macro_recall: number; accuracy: number };
  chat_test: { macro_recall: number; accuracy: number; n: number };
}

describe('bundled model', () => {
  let engine: SentimentEngine;
  const claimed = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Claimed;

  beforeAll(async () => {
    engine = await SentimentEngine.start({
      modelDir: dir,
      maxLength: 128,
      threads: 2,
      intraOpNumThreads: 1,
      batchMaxItems: 64,
      batchMaxTokens: 8192,
      batchMaxWaitMs: 2,
      queueMax: 10_000,
      cacheSize: 0,
    });
  });
  afterAll(async () => engine.close());

  it('is a three-label model with its card, tokenizer and featurizer, within the size budget', () => {
    expect(engine.info.labels).toEqual(['negative', 'neutral', 'positive']);
    expect(engine.info.featurizer).not.toBeNull();
    expect(engine.info.chat?.emotes).toContain('PogChamp');
    for (const f of ['config.json', 'tokenizer.json', 'featurizer.json', 'chat.json', 'MODEL_CARD.md', 'onnx/model.onnx'])
      expect(existsSync(join(dir, f))).toBe(true);
    const onnxBytes = ['onnx/model.onnx', 'onnx/model_quantized.onnx']
      .filter((f) => existsSync(join(dir, f)))
      .reduce((sum, f) => sum + readFileSync(join(dir, f)).length, 0);
    expect(onnxBytes).toBeLessThanOrEqual(30 * 1024 * 1024);
  });

  it('reproduces the TweetEval validation macro-recall of its model card through the engine', async () => {
    const dev = tweetevalVal(DATASETS);
    expect(dev).toHaveLength(2000);
    const results = await engine.classifyMany(dev.map((e) => e.text));
    const pred = results.map((r) => engine.info.labels.indexOf(r.label));
    const measured = classificationMetrics(
      pred,
      dev.map((e) => e.label),
      engine.info.labels,
    );
    expect(Math.abs(measured.macro_recall - claimed.tweeteval_val.macro_recall)).toBeLessThanOrEqual(0.002);
    expect(Math.abs(measured.accuracy - claimed.tweeteval_val.accuracy)).toBeLessThanOrEqual(0.002);
    const card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain(claimed.tweeteval_val.macro_recall.toFixed(3));
  });

  it('reproduces the held-out chat test macro-recall of its model card through the engine', async () => {
    const { test } = splitChatEval(DATASETS);
    expect(test).toHaveLength(claimed.chat_test.n);
    const results = await engine.classifyMany(test.map((e) => e.text));
    const measured = classificationMetrics(
      results.map((r) => engine.info.labels.indexOf(r.label)),
      test.map((e) => e.label),
      engine.info.labels,
    );
    expect(Math.abs(measured.macro_recall - claimed.chat_test.macro_recall)).toBeLessThanOrEqual(0.002);
    expect(readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8')).toContain(claimed.chat_test.macro_recall.toFixed(3));
  });

  it('reads chat: clear positives and negatives land where a viewer would put them', async () => {
    const [pos, neg] = await engine.classifyMany([
      'this stream is amazing, love you all ❤️❤️',
      'worst stream ever, so boring and laggy, i hate this',
    ]);
    expect(pos!.label).toBe('positive');
    expect(neg!.label).toBe('negative');
  });
});
