// Sentiment over REST (contract "Sentiment"): single, batch, and the model's description.
import { BatchReply, ModelReply, SentimentReply } from '../../contract/index.js';
import type { SentimentEngine, SentimentResult } from '../../sentiment/engine.js';
import { route, type Route } from '../router.js';
import { batchBody, sentimentBody, type Limits } from '../schemas.js';

/** `instance`: the `X-Instance` value, repeated in every body as `predicted_by`. */
export function sentimentRoutes(engine: SentimentEngine, limits: Limits & { maxBodyBytes: number }, instance: string): Route[] {
  const model = engine.info.name;
  const shape = (r: SentimentResult) => ({ label: r.label, score: r.score, scores: r.scores, model });
  return [
    // One text's body: up to 12 bytes a character (an astral character escaped as a \uXXXX\uXXXX pair).
    route({
      method: 'post',
      path: '/api/v1/sentiment',
      auth: 'user',
      rateLimit: 'api',
      tag: 'sentiment',
      summary: 'Classify one text',
      description: `At most ${limits.maxTextLength} characters, not only whitespace. \`scores\` sum to 1; \`label\` is their argmax.`,
      body: sentimentBody(limits),
      response: SentimentReply,
      maxBodyBytes: Math.min(limits.maxBodyBytes, limits.maxTextLength * 12 + 1024),
      admit: () => engine.admit(),
      handler: async ({ body }) => ({ body: { ...shape(await engine.classify(body.text)), predicted_by: instance } }),
    }),
    route({
      method: 'post',
      path: '/api/v1/sentiment/batch',
      auth: 'user',
      rateLimit: 'api',
      tag: 'sentiment',
      summary: 'Classify up to the batch limit of texts, in order',
      description: `1 to ${limits.maxBatchTexts} texts of at most ${limits.maxTextLength} characters each; \`results\` keep their order.`,
      body: batchBody(limits),
      maxBodyBytes: limits.maxBodyBytes,
      response: BatchReply,
      admit: () => engine.admit(),
      handler: async ({ body }) => {
        const results = await engine.classifyMany(body.texts);
        return { body: { results: results.map(shape), model, count: results.length, predicted_by: instance } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/model',
      auth: 'user',
      tag: 'sentiment',
      summary: 'The served model and engine counters',
      response: ModelReply,
      handler: () => {
        const { info } = engine;
        const stats = engine.stats();
        return {
          body: {
            name: info.name,
            labels: info.labels,
            max_length: info.maxLength,
            quantized: info.quantized,
            model_type: info.modelType,
            limits: { max_text_length: limits.maxTextLength, max_batch_texts: limits.maxBatchTexts },
            engine: {
              threads: stats.threads,
              batches: stats.batches,
              items: stats.items,
              queued: stats.queued,
              cache_hit_ratio: stats.cacheHitRatio,
              dedup_hits: stats.dedupHits,
              shed: stats.shed,
            },
          },
        };
      },
    }),
  ];
}
