// One model instance: a batch tokenizer (native or transformers.js, see tokenizer.ts) plus an onnxruntime-node
// session. Piscina workers hold one each; tests and the baseline benchmark use it directly.
import * as ort from 'onnxruntime-node';
import { ChatText } from './chat-text.js';
import { featurize } from './featurizer.js';
import { ModelError, type ModelInfo } from './model.js';
import { planRuns, RUN_COST_TOKENS } from './runs.js';
import { loadTokenizer, rowLengths, selectRows, type BatchTokenizer, type EncodedBatch, type TokenizerPreference } from './tokenizer.js';

/** One graph run of a prepared batch: which of the batch's texts it holds, in order, and its inputs. */
export interface PreparedRun {
  rows: number[];
  feeds: Record<string, ort.Tensor>;
}

export interface RuntimeOptions {
  /** ORT intra-op threads for this session; kept explicit so processes x threads never exceed the cores. */
  intraOpNumThreads: number;
  /** Which tokenizer (default auto: native where it gives transformers.js's ids on the probe set). */
  tokenizer?: TokenizerPreference;
  /** planRuns' cost of one graph run in padded tokens (default RUN_COST_TOKENS); Infinity: one run per batch. */
  runCostTokens?: number;
}

const SUPPORTED_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids', 'ngram_ids', 'ngram_weights']);

export class ModelRuntime {
  private readonly chat: ChatText | null;

  private constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: BatchTokenizer,
    /** Why this tokenizer was chosen (see loadTokenizer). */
    readonly tokenizerReason: string,
    private readonly session: ort.InferenceSession,
    private readonly outputName: string,
    private readonly runCostTokens: number,
  ) {
    this.chat = info.chat ? new ChatText(info.chat) : null;
  }

  static async load(info: ModelInfo, options: RuntimeOptions): Promise<ModelRuntime> {
    const { tokenizer, reason } = await loadTokenizer(info, options.tokenizer);
    const runCostTokens = options.runCostTokens ?? RUN_COST_TOKENS;
    const session = await ort.InferenceSession.create(info.onnxFile, {
      intraOpNumThreads: options.intraOpNumThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    }).catch((err: unknown) => {
      throw new ModelError(`cannot load ${info.onnxFile}: ${messageOf(err)}`);
    });
    const unknown = session.inputNames.filter((name) => !SUPPORTED_INPUTS.has(name));
    if (unknown.length > 0) throw new ModelError(`${info.onnxFile} declares inputs this runtime cannot feed: ${unknown.join(', ')}`);
    const wantsNgrams = session.inputNames.includes('ngram_ids');
    if (wantsNgrams && !info.featurizer) throw new ModelError(`${info.onnxFile} takes ngram_ids but ${info.dir} has no featurizer.json`);
    const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
    if (outputName === undefined) throw new ModelError(`${info.onnxFile} has no outputs`);
    return new ModelRuntime(info, tokenizer, reason, session, outputName, runCostTokens);
  }

  get tokenizerKind(): BatchTokenizer['kind'] {
    return this.tokenizer.kind;
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /**
   * Tokenizes a batch padded to its own longest item, truncated to maxLength: exactly the graph's inputs.
   * A chat model's texts are chat-normalized first, for the tokenizer and the n-grams alike.
   */
  async encode(rawTexts: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const texts = this.normalize(rawTexts);
    return this.feeds(await this.tokenizer.encode(texts), texts);
  }

  /**
   * A batch as the graph runs it: tokenized once, rows grouped by length into runs (planRuns) so that a long
   * text does not pad every short one; each run's feeds ready. classify() is prepare() then runPrepared().
   */
  async prepare(rawTexts: readonly string[]): Promise<PreparedRun[]> {
    const texts = this.normalize(rawTexts);
    const batch = await this.tokenizer.encode(texts);
    const lengths = rowLengths(batch);
    return planRuns(lengths, this.runCostTokens).map((rows) => ({
      rows,
      feeds: this.feeds(
        selectRows(batch, rows, lengths),
        rows.map((r) => texts[r] as string),
      ),
    }));
  }

  /** Probabilities of prepared runs, row-major [texts x labels] in the texts' original order. */
  async runPrepared(runs: readonly PreparedRun[]): Promise<Float32Array> {
    const width = this.info.labels.length;
    const out = new Float32Array(runs.reduce((n, run) => n + run.rows.length, 0) * width);
    for (const run of runs) {
      const { data, rows } = await this.logits(run.feeds);
      const probs = softmaxRows(data, rows, width);
      run.rows.forEach((r, k) => out.set(probs.subarray(k * width, (k + 1) * width), r * width));
    }
    return out;
  }

  private normalize(texts: readonly string[]): readonly string[] {
    const chat = this.chat;
    return chat ? texts.map((t) => chat.normalize(t)) : texts;
  }

  private feeds({ ids, mask, dims }: EncodedBatch, texts: readonly string[]): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    if (this.info.featurizer && this.session.inputNames.includes('ngram_ids')) {
      const ngrams = featurize(texts, this.info.featurizer);
      feeds.ngram_ids = new ort.Tensor('int64', ngrams.ids, [ngrams.rows, ngrams.width]);
      feeds.ngram_weights = new ort.Tensor('float32', ngrams.weights, [ngrams.rows, ngrams.width]);
    }
    for (const name of this.session.inputNames) {
      if (name === 'input_ids') feeds[name] = new ort.Tensor('int64', ids, dims);
      else if (name === 'attention_mask') feeds[name] = new ort.Tensor('int64', mask, dims);
      // One sequence per row: every token is of type 0.
      else if (name === 'token_type_ids') feeds[name] = new ort.Tensor('int64', new BigInt64Array(ids.length), dims);
      else if (name === 'position_ids') feeds[name] = new ort.Tensor('int64', positionIds(dims), dims);
    }
    return feeds;
  }

  async logits(feeds: Record<string, ort.Tensor>): Promise<{ data: Float32Array; rows: number }> {
    const out = await this.session.run(feeds);
    const tensor = out[this.outputName];
    if (!tensor || tensor.type !== 'float32') throw new ModelError(`output ${this.outputName} is not float32`);
    const width = this.info.labels.length;
    const data = tensor.data as Float32Array;
    if (tensor.dims.length !== 2 || tensor.dims[1] !== width) {
      throw new ModelError(`output ${this.outputName} has shape [${tensor.dims.join(', ')}], expected [batch, ${width}]`);
    }
    return { data, rows: Number(tensor.dims[0]) };
  }

  /** Probabilities, row-major [texts.length x labels]. */
  async classify(texts: readonly string[]): Promise<Float32Array> {
    if (texts.length === 0) return new Float32Array(0);
    return this.runPrepared(await this.prepare(texts));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function positionIds(dims: readonly number[]): BigInt64Array {
  const [rows = 0, cols = 0] = dims;
  const out = new BigInt64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = BigInt(c);
  return out;
}

/** Numerically stable softmax per row, accumulated in float64. */
export function softmaxRows(logits: Float32Array, rows: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let max = -Infinity;
    for (let i = 0; i < width; i++) max = Math.max(max, logits[base + i] as number);
    let sum = 0;
    for (let i = 0; i < width; i++) sum += Math.exp((logits[base + i] as number) - max);
    for (let i = 0; i < width; i++) out[base + i] = Math.exp((logits[base + i] as number) - max) / sum;
  }
  return out;
}
