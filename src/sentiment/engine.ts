// The sentiment engine: normalizes texts, micro-batches them onto the inference pool and maps
// probabilities to labelled results.
import { MicroBatcher, type BatcherStats } from './batcher.js';
import { ChatText, type EmoteRange } from './chat-text.js';
import { readModelInfo, type ModelInfo } from './model.js';
import { InferencePool } from './pool.js';
import { loadTokenizer, type TokenizerKind, type TokenizerPreference } from './tokenizer.js';

export interface SentimentResult {
  readonly label: string;
  readonly score: number;
  readonly scores: Readonly<Record<string, number>>;
}

export interface EngineConfig {
  modelDir: string;
  maxLength: number;
  threads: number;
  intraOpNumThreads: number;
  batchMaxItems: number;
  batchMaxTokens: number;
  batchMaxWaitMs: number;
  queueMax: number;
  cacheSize: number;
  /** auto (default): the native tokenizer where it gives transformers.js's ids for this model; js: always transformers.js. */
  tokenizer?: TokenizerPreference;
  /** How a batch is cut into graph runs by length (RuntimeOptions.runCostTokens); absent: the default. */
  runCostTokens?: number;
  /** See BatcherOptions.admissionDeadlineMs (absent: only queueMax bounds admission). */
  admissionDeadlineMs?: number;
  /** See BatcherOptions.onBatch. */
  onBatch?: (size: number, waitMs: number, runMs: number) => void;
}

export interface EngineStats extends BatcherStats {
  threads: number;
}

/** Whitespace runs collapse and Unicode is NFC: "gg  wp" and "gg wp" are one cache entry and one inference. */
export function normalizeText(text: string): string {
  return text.normalize('NFC').trim().replace(/\s+/gu, ' ');
}

/**
 * Tokens for batching decisions without running the tokenizer on the event loop: subword tokenizers give
 * roughly one token per word piece of about four characters, plus the two special tokens.
 */
export function estimateTokens(text: string, maxLength: number): number {
  return Math.min(maxLength, 2 + Math.ceil(text.length / 4));
}

export class SentimentEngine {
  private readonly batcher: MicroBatcher<SentimentResult>;
  private readonly chat: ChatText | null;
  private loaded = false;

  private constructor(
    readonly info: ModelInfo,
    /** The inference threads' tokenizer and why it was chosen. */
    readonly tokenizer: { kind: TokenizerKind; reason: string },
    private readonly pool: InferencePool,
    config: EngineConfig,
    priorItemMs: number,
  ) {
    this.chat = info.chat ? new ChatText(info.chat) : null;
    this.batcher = new MicroBatcher((texts) => this.infer(texts), {
      maxItems: config.batchMaxItems,
      maxTokens: config.batchMaxTokens,
      maxWaitMs: config.batchMaxWaitMs,
      maxQueue: config.queueMax,
      maxInFlight: config.threads,
      cacheSize: config.cacheSize,
      estimateTokens: (t) => estimateTokens(t, info.maxLength),
      priorItemMs,
      ...(config.onBatch === undefined ? {} : { onBatch: config.onBatch }),
      ...(config.admissionDeadlineMs === undefined ? {} : { admissionDeadlineMs: config.admissionDeadlineMs }),
    });
  }

  /** Validates the model folder on this thread (clear errors early), starts the pool and loads every thread. */
  static async start(config: EngineConfig): Promise<SentimentEngine> {
    const info = readModelInfo(config.modelDir, config.maxLength);
    // Chosen here once, so every thread uses the same one and the reason can be logged.
    const choice = await loadTokenizer(info, config.tokenizer);
    const tokenizer = { kind: choice.tokenizer.kind, reason: choice.reason };
    const pool = new InferencePool({
      info,
      threads: config.threads,
      intraOpNumThreads: config.intraOpNumThreads,
      tokenizer: tokenizer.kind,
      ...(config.runCostTokens === undefined ? {} : { runCostTokens: config.runCostTokens }),
    });
    let priorItemMs: number;
    try {
      await pool.warmUp();
      priorItemMs = await calibrate(pool, config.threads, Math.min(config.batchMaxItems, 32));
    } catch (err) {
      await pool.close();
      throw err;
    }
    const engine = new SentimentEngine(info, tokenizer, pool, config, priorItemMs);
    engine.loaded = true;
    return engine;
  }

  get ready(): boolean {
    return this.loaded;
  }

  /**
   * `emotes`: where the platform says the text has emotes (Twitch's `emotes` tag). A chat model reads them as
   * emotes even behind a channel prefix; other models ignore them.
   */
  classify(text: string, emotes: readonly EmoteRange[] = []): Promise<SentimentResult> {
    const withEmotes = this.chat && emotes.length > 0 ? this.chat.applyEmotes(text, emotes) : text;
    return this.batcher.submit([normalizeText(withEmotes)]).then((r) => r[0] as SentimentResult);
  }

  classifyMany(texts: readonly string[]): Promise<SentimentResult[]> {
    return this.batcher.submit(texts.map(normalizeText));
  }

  /** Throws (503 overloaded or draining) when even a one-text call would be refused now. See MicroBatcher.precheck. */
  admit(): void {
    this.batcher.precheck();
  }

  stats(): EngineStats {
    return { ...this.batcher.stats(), threads: this.pool.threads };
  }

  private async infer(texts: string[]): Promise<SentimentResult[]> {
    const probs = await this.pool.run(texts);
    return toResults(probs, this.info.labels, texts.length);
  }

  /**
   * Refuses new work (503 draining), answers everything already admitted, then stops the threads: closing
   * the pool under queued work would fail those callers. Past `timeoutMs` queued texts are refused with
   * 503 instead; batches already running always finish.
   */
  async close(timeoutMs?: number): Promise<void> {
    this.loaded = false;
    await this.batcher.close(timeoutMs);
    await this.pool.close();
  }
}

/**
 * The admission estimate's starting point, measured rather than guessed (models and machines differ by
 * orders of magnitude): what one text costs one thread in a batch of `size` short chat lines, timed on
 * every thread at once after an untimed first run of that shape (onnxruntime plans a new shape slowly).
 */
async function calibrate(pool: InferencePool, threads: number, size: number): Promise<number> {
  const texts = Array.from({ length: size }, (_, i) => `calibrating the engine before traffic, line ${i} gg wp`);
  const everyThread = () => Promise.all(Array.from({ length: threads }, () => pool.run(texts)));
  await everyThread();
  const started = performance.now();
  await everyThread();
  return Math.max(0.001, (performance.now() - started) / size);
}

export function toResults(probs: Float32Array, labels: readonly string[], rows: number): SentimentResult[] {
  const width = labels.length;
  const out = new Array<SentimentResult>(rows);
  for (let r = 0; r < rows; r++) {
    const scores: Record<string, number> = {};
    let best = 0;
    for (let i = 0; i < width; i++) {
      const p = probs[r * width + i] as number;
      scores[labels[i] as string] = p;
      if (p > (probs[r * width + best] as number)) best = i;
    }
    out[r] = Object.freeze({ label: labels[best] as string, score: probs[r * width + best] as number, scores: Object.freeze(scores) });
  }
  return out;
}
