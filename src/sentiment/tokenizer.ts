// Batch tokenization for the inference threads. Three implementations of one contract (ids and attention mask,
// padded to the batch's longest item, cut to maxLength exactly as transformers.js cuts: the first maxLength ids):
// - `bpe`: byte-level BPE written here with a per-word memo (src/sentiment/byte-bpe.ts), for the RoBERTa/GPT-2
//   family (the bundled model's): about 8x less CPU per text than the Rust binding (npm run bench:tokenizer);
// - `native`: the Hugging Face Rust tokenizers (npm `@anush008/tokenizers`, prebuilt binaries, no install
//   script), for the other tokenizer.json shapes, about 2x faster than transformers.js;
// - `js`: transformers.js, which reads every Hugging Face tokenizer folder and defines the ids models expect.
// `auto` takes the first of bpe, native, js that handles the folder and gives transformers.js's ids on a
// probe set; a refusal, a mismatch or a missing binary moves on with the reason, never to different ids.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { Tokenizer as RustTokenizer } from '@anush008/tokenizers';
import { ByteBpe } from './byte-bpe.js';
import { ModelError, type ModelInfo } from './model.js';

// Models are read from local folders only; the registry (not the tokenizer) owns downloads.
env.allowRemoteModels = false;
// Parallelism comes from the inference threads (threads x processes = cores), not from the native tokenizer's
// own thread pool inside one batch. Set on the main thread, where the process environment is real.
process.env.TOKENIZERS_PARALLELISM ??= 'false';

export type TokenizerKind = 'bpe' | 'native' | 'js';
export type TokenizerPreference = 'auto' | TokenizerKind;

export interface EncodedBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  /** [rows, width] */
  dims: [number, number];
}

/** Real tokens per row (the mask is a prefix of ones: padding is on the right). */
export function rowLengths(batch: EncodedBatch): number[] {
  const [rows, width] = batch.dims;
  return Array.from({ length: rows }, (_, r) => {
    let n = 0;
    while (n < width && batch.mask[r * width + n] === 1n) n++;
    return n;
  });
}

/** The given rows, in that order, padded to their own longest: each row's prefix, pads included, is copied. */
export function selectRows(batch: EncodedBatch, rows: readonly number[], lengths: readonly number[]): EncodedBatch {
  const from = batch.dims[1];
  const width = Math.max(1, ...rows.map((r) => lengths[r] as number));
  const ids = new BigInt64Array(rows.length * width);
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((r, k) => {
    ids.set(batch.ids.subarray(r * from, r * from + width), k * width);
    mask.set(batch.mask.subarray(r * from, r * from + width), k * width);
  });
  return { ids, mask, dims: [rows.length, width] };
}

export interface BatchTokenizer {
  readonly kind: TokenizerKind;
  encode(texts: readonly string[]): Promise<EncodedBatch>;
}

interface Int64Tensor {
  data: BigInt64Array;
  dims: number[];
}

class JsBatchTokenizer implements BatchTokenizer {
  readonly kind = 'js';
  constructor(
    readonly tokenizer: PreTrainedTokenizer,
    private readonly maxLength: number,
  ) {}

  encode(texts: readonly string[]): Promise<EncodedBatch> {
    const out = this.tokenizer([...texts], { padding: true, truncation: true, max_length: this.maxLength }) as unknown as Record<
      string,
      Int64Tensor | undefined
    >;
    const ids = out.input_ids;
    const mask = out.attention_mask;
    if (!ids || !mask) return Promise.reject(new ModelError('the tokenizer returned no input_ids/attention_mask'));
    return Promise.resolve({ ids: ids.data, mask: mask.data, dims: [ids.dims[0] ?? 0, ids.dims[1] ?? 0] });
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Rows of ids as a padded batch: each row cut to its first maxLength ids, padded on the right with padId. */
function toBatch(rows: ReadonlyArray<ArrayLike<number>>, pad: bigint, maxLength: number): EncodedBatch {
  const width = Math.max(1, ...rows.map((r) => Math.min(r.length, maxLength)));
  const ids = new BigInt64Array(rows.length * width).fill(pad);
  const mask = new BigInt64Array(rows.length * width);
  // Ids are non-negative int32s: written as the low word through an Int32Array view (the high word is 0,
  // as the pad's is), no BigInt per token. Little-endian only, like every machine onnxruntime-node ships for.
  const idWords = new Int32Array(ids.buffer);
  const maskWords = new Int32Array(mask.buffer);
  rows.forEach((row, r) => {
    const base = r * width;
    for (let c = 0, n = Math.min(row.length, maxLength); c < n; c++) {
      if (LITTLE_ENDIAN) {
        idWords[2 * (base + c)] = row[c] as number;
        maskWords[2 * (base + c)] = 1;
      } else {
        ids[base + c] = BigInt(row[c] as number);
        mask[base + c] = 1n;
      }
    }
  });
  return { ids, mask, dims: [rows.length, width] };
}

function padOf(padId: number): bigint {
  if (!Number.isInteger(padId) || padId < 0 || padId > 0x7fffffff) throw new Error(`pad token id ${padId} is not an int32`);
  return BigInt(padId);
}

class NativeBatchTokenizer implements BatchTokenizer {
  readonly kind = 'native';
  private readonly pad: bigint;
  constructor(
    private readonly tokenizer: RustTokenizer,
    padId: number,
    private readonly maxLength: number,
  ) {
    this.pad = padOf(padId);
  }

  async encode(texts: readonly string[]): Promise<EncodedBatch> {
    const encodings = await this.tokenizer.encodeBatch([...texts]);
    return toBatch(
      encodings.map((e) => e.getIds()),
      this.pad,
      this.maxLength,
    );
  }
}

class BpeBatchTokenizer implements BatchTokenizer {
  readonly kind = 'bpe';
  private readonly pad: bigint;
  constructor(
    private readonly bpe: ByteBpe,
    padId: number,
    private readonly maxLength: number,
  ) {
    this.pad = padOf(padId);
  }

  encode(texts: readonly string[]): Promise<EncodedBatch> {
    try {
      return Promise.resolve(
        toBatch(
          texts.map((t) => this.bpe.encode(t)),
          this.pad,
          this.maxLength,
        ),
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

/**
 * Texts on which bpe or native must agree with transformers.js before it is used: scripts, emoji and joiners, accents (composed and
 * not), special-token look-alikes, odd whitespace, control characters, lone surrogates, and a text longer than
 * any maxLength so truncation is compared too.
 */
export const PROBE_TEXTS: readonly string[] = [
  '',
  ' ',
  'that clutch was insane PogChamp',
  'I LOVE this stream!!! 😍😍 <3',
  'worst. stream. ever. 😡',
  'gg wp, ez Clap KEKW LUL OMEGALUL',
  'Ünïcödé façade naïve café e\u0301',
  'Привет чат, 你好，こんにちは、안녕하세요 مرحبا',
  // CJK beyond the BMP and extension A: WordPiece's Chinese-character rule differs here (found by fuzzing).
  'A𠀀 𠀀b 㐀字 𪚥 ไทย नमस्ते',
  '𝐀𝐁𝐂 \ue000 \uffff \u00a0nbsp\u3000ideo\u1680ogham soft\u00adhyphen \u{e0041}tag',
  '👨‍👩‍👧 family 🏳️‍🌈 flags 👍🏽 skin',
  '<s> </s> <pad> <mask> <unk> [CLS] [SEP] [PAD] [MASK]',
  '  double  spaces\tand\ttabs\nnew\r\nlines  ',
  'zero\u200bwidth\u200d joiner \ufeff bom',
  'control \u0000\u0001\u001f chars',
  'lone \ud800 surrogate \udfff',
  'https://example.com/a?b=c&d=e #hashtag @mention 1,234.56 $100 50%',
  'ＦＵＬＬ ｗｉｄｔｈ',
  "it's don't I'M you're",
  `${'so long '.repeat(300)}end`,
  'a'.repeat(2000),
];

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function loadJs(info: ModelInfo): Promise<JsBatchTokenizer> {
  const tokenizer = await AutoTokenizer.from_pretrained(info.dir, { local_files_only: true }).catch((err: unknown) => {
    throw new ModelError(`cannot load the tokenizer of ${info.dir}: ${messageOf(err)}`);
  });
  return new JsBatchTokenizer(tokenizer, info.maxLength);
}

// The binding is CommonJS with a platform switch that throws when no prebuilt binary fits this machine.
const requireHere = createRequire(import.meta.url);

function loadNative(info: ModelInfo, padId: unknown): NativeBatchTokenizer {
  if (typeof padId !== 'number') throw new Error('the tokenizer has no pad token');
  const { Tokenizer } = requireHere('@anush008/tokenizers') as typeof import('@anush008/tokenizers');
  const tokenizer = Tokenizer.fromFile(join(info.dir, 'tokenizer.json'));
  // A tokenizer.json may carry its own padding/truncation; the contract above decides both here.
  tokenizer.disablePadding();
  tokenizer.disableTruncation();
  return new NativeBatchTokenizer(tokenizer, padId, info.maxLength);
}

function loadBpe(info: ModelInfo, padId: unknown): BpeBatchTokenizer {
  if (typeof padId !== 'number') throw new Error('the tokenizer has no pad token');
  const bpe = ByteBpe.fromFolder(info.dir);
  if (typeof bpe === 'string') throw new Error(bpe);
  return new BpeBatchTokenizer(bpe, padId, info.maxLength);
}

function sameBatch(a: EncodedBatch, b: EncodedBatch): boolean {
  if (a.dims[0] !== b.dims[0] || a.dims[1] !== b.dims[1]) return false;
  for (let i = 0; i < a.ids.length; i++) if (a.ids[i] !== b.ids[i] || a.mask[i] !== b.mask[i]) return false;
  return true;
}

export interface TokenizerChoice {
  tokenizer: BatchTokenizer;
  /** Why this one: what `auto` found, or that it was asked for. */
  reason: string;
}

const DESCRIBED: Record<Exclude<TokenizerKind, 'js'>, string> = {
  bpe: "byte-level BPE (ChatPulse's, per-word memo)",
  native: 'native (Hugging Face tokenizers)',
};

/** Why `candidate` may not stand in for transformers.js on this folder, or null when it gives the same ids. */
async function probe(js: JsBatchTokenizer, candidate: BatchTokenizer): Promise<string | null> {
  // One text at a time first, so that a difference is reported with the text that shows it.
  for (const texts of [...PROBE_TEXTS.map((t) => [t]), PROBE_TEXTS]) {
    if (!sameBatch(await js.encode(texts), await candidate.encode(texts)))
      return `its ids differ from transformers.js's on ${JSON.stringify(texts.length === 1 ? texts[0]?.slice(0, 40) : 'the probe batch')}`;
  }
  return null;
}

/**
 * The tokenizer for a model folder. `js` always works where the folder loads; `bpe` and `native` load only
 * where they give transformers.js's ids on PROBE_TEXTS (one text at a time and as one padded batch), and
 * fail otherwise; `auto` takes the first of bpe, native that does, else js, and says why.
 */
export async function loadTokenizer(info: ModelInfo, preference: TokenizerPreference = 'auto'): Promise<TokenizerChoice> {
  const js = await loadJs(info);
  if (preference === 'js') return { tokenizer: js, reason: 'transformers.js, as configured (TOKENIZER=js)' };
  const candidates: Array<Exclude<TokenizerKind, 'js'>> = preference === 'auto' ? ['bpe', 'native'] : [preference];
  const refusals: string[] = [];
  for (const kind of candidates) {
    let why: string | null;
    let candidate: BatchTokenizer | null = null;
    try {
      candidate = kind === 'bpe' ? loadBpe(info, js.tokenizer.pad_token_id) : loadNative(info, js.tokenizer.pad_token_id);
      why = await probe(js, candidate);
    } catch (err) {
      why = `it did not load (${messageOf(err)})`;
    }
    if (candidate !== null && why === null)
      return { tokenizer: candidate, reason: `${DESCRIBED[kind]}: same ids as transformers.js on ${PROBE_TEXTS.length} probe texts` };
    const refusal = `${kind}: ${why ?? 'unusable'}`;
    if (preference !== 'auto') throw new ModelError(`${info.dir}: the ${kind} tokenizer cannot serve this folder (${refusal})`);
    refusals.push(refusal);
  }
  return { tokenizer: js, reason: `transformers.js (${refusals.join('; ')})` };
}
