// The bundled model on obvious chat: ~50 hand-checked lines (test/fixtures/chat-sanity.tsv) that any viewer
// would label the same way, served through the engine as `npm start` serves them. A regression on plain chat
// (emote-only lines, W/L, hype in capitals) fails here even when the tweet benchmark holds.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatSanity, LABELS } from '../models/train/datasets.js';
import { DEFAULT_MODEL } from '../src/config.js';
import { BUNDLED_MODELS_DIR } from '../src/paths.js';
import { SentimentEngine } from '../src/sentiment/engine.js';
import { ROOT } from './helpers.js';

const cases = chatSanity(join(ROOT, 'test', 'fixtures', 'chat-sanity.tsv')).map((e) => ({
  text: e.text,
  label: e.label === -1 ? `no label on ${JSON.stringify(e.text)}` : LABELS[e.label],
}));

/** Share of the suite the model must get right, overall and within each label. */
const PASS_OVERALL = 0.9;
const PASS_PER_LABEL = 0.8;

describe('chat sanity suite (bundled model)', () => {
  let engine: SentimentEngine;

  beforeAll(async () => {
    engine = await SentimentEngine.start({
      modelDir: join(BUNDLED_MODELS_DIR, DEFAULT_MODEL),
      maxLength: 128,
      threads: 1,
      intraOpNumThreads: 1,
      batchMaxItems: 64,
      batchMaxTokens: 8192,
      batchMaxWaitMs: 2,
      queueMax: 1000,
      cacheSize: 0,
    });
  });
  afterAll(async () => engine.close());

  it('has about fifty hand-checked lines covering every label', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
    for (const label of engine.info.labels) expect(cases.filter((c) => c.label === label).length).toBeGreaterThanOrEqual(10);
    for (const c of cases) expect(engine.info.labels).toContain(c.label);
  });

  it(`labels at least ${PASS_OVERALL * 100}% of them as a viewer would, and ${PASS_PER_LABEL * 100}% of each label`, async () => {
    const results = await engine.classifyMany(cases.map((c) => c.text));
    const scored = cases.map((c, i) => ({ ...c, got: results[i]!.label }));
    const report = scored
      .filter((c) => c.got !== c.label)
      .map((c) => `  ${JSON.stringify(c.text)}: expected ${c.label}, got ${c.got}`)
      .join('\n');
    const share = (xs: typeof scored) => xs.filter((c) => c.got === c.label).length / xs.length;
    expect(share(scored), `missed:\n${report}`).toBeGreaterThanOrEqual(PASS_OVERALL);
    for (const label of engine.info.labels) {
      expect(share(scored.filter((c) => c.label === label)), `${label}; missed:\n${report}`).toBeGreaterThanOrEqual(PASS_PER_LABEL);
    }
  });

  it("classifies the README's example as positive", async () => {
    expect((await engine.classify('that clutch was insane PogChamp')).label).toBe('positive');
  });
});
