// The sentiment engine, on the model the config names (bundled, cached or fetched from the hub).
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { BUNDLED_MODELS_DIR } from '../paths.js';
import { defaultCacheDir, resolveModel } from '../registry/index.js';
import { SentimentEngine } from '../sentiment/engine.js';

export async function startEngine(config: Config, metrics: Pick<Metrics, 'observeBatch' | 'read'>): Promise<SentimentEngine> {
  const modelDir = await resolveModel(config.model, {
    bundledDir: BUNDLED_MODELS_DIR,
    cacheDir: config.modelCacheDir ?? defaultCacheDir(),
    endpoint: config.hfEndpoint,
    revision: config.modelRevision,
    ...(config.hfToken === undefined ? {} : { token: config.hfToken }),
  });
  const engine = await SentimentEngine.start({
    onBatch: (size, waitMs, runMs) => metrics.observeBatch(size, waitMs, runMs),
    modelDir,
    maxLength: config.maxLength,
    threads: config.inferenceThreads,
    intraOpNumThreads: config.intraOpThreads,
    tokenizer: config.tokenizer,
    batchMaxItems: config.batchMaxItems,
    batchMaxTokens: config.batchMaxTokens,
    batchMaxWaitMs: config.batchMaxWaitMs,
    queueMax: config.queueMax,
    admissionDeadlineMs: config.admissionDeadlineMs,
    cacheSize: config.cacheSize,
  });
  metrics.read('engine', () => engine.stats());
  return engine;
}
