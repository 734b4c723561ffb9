// A byte-level BPE encoder (the GPT-2/RoBERTa family: ByteLevel pre-tokenizer, BPE model, RobertaProcessing),
// written here because its cost per chat message is mostly the same few hundred words again and again: each
// pre-token's ids are remembered, so a text costs one regex split and a map lookup per word. Both libraries
// re-encode every text through generic pipelines (transformers.js about 190 µs per tweet, the Rust binding
// about 100 µs of CPU, mostly per-call and per-object work); `npm run bench:tokenizer` measures all three.
// It follows transformers.js (which defines the ids, see tokenizer.ts) step by step: added tokens split out
// first (longest match, lstrip/rstrip), the same pre-token regex, UTF-8 bytes mapped to the byte alphabet,
// merges by rank (leftmost first among equal ranks), pieces outside the vocabulary dropped or mapped to
// the unknown token. A tokenizer.json of any other shape is not handled here (`fromFolder` says why).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The GPT-2 byte alphabet: printable Latin-1 bytes stand for themselves, the rest for code points from 256. */
const BYTE_CHARS: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
})();

/** GPT-2's pre-token pattern, exactly as transformers.js's ByteLevel pre-tokenizer writes it. */
const PRE_TOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Remembered pre-tokens: enough for a chat's working vocabulary; cleared (not evicted one by one) when full. */
const MEMO_LIMIT = 50_000;
/** Longer pre-tokens (runs of spaces, pasted blobs) are encoded each time rather than remembered. */
const MEMO_MAX_CHARS = 64;

interface AddedToken {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
}

export class ByteBpe {
  private readonly vocab: Map<string, number>;
  /** Merge ranks, keyed `left + '\n' + right` (the byte alphabet has no '\n', so a key is unambiguous). */
  private readonly ranks: Map<string, number>;
  private readonly added: Map<string, AddedToken>;
  /** Added tokens, longest first: the alternation then takes the longest at each position, as a trie would. */
  private readonly addedPattern: RegExp | null;
  private readonly memo = new Map<string, readonly number[]>();
  private readonly encoder = new TextEncoder();

  constructor(
    vocab: Record<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    added: readonly AddedToken[],
    private readonly unkId: number | null,
    readonly clsId: number,
    readonly sepId: number,
  ) {
    this.vocab = new Map(Object.entries(vocab));
    this.ranks = new Map(merges.map(([a, b], rank) => [`${a}\n${b}`, rank]));
    this.added = new Map(added.map((t) => [t.content, t]));
    // transformers.js gives an added token's id precedence over the vocabulary's for the same string.
    for (const t of added) this.vocab.set(t.content, t.id);
    const contents = added
      .map((t) => t.content)
      .filter((c) => c !== '')
      .sort((a, b) => b.length - a.length);
    this.addedPattern =
      contents.length === 0 ? null : new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  /**
   * The folder's encoder, or the reason its tokenizer is not one this class reproduces (then another
   * implementation serves it). Only the shapes checked here are handled; everything else is refused.
   */
  static fromFolder(dir: string): ByteBpe | string {
    let json: unknown;
    let config: unknown = {};
    try {
      json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    } catch (err) {
      return `no readable tokenizer.json (${err instanceof Error ? err.message : String(err)})`;
    }
    try {
      config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    } catch {
      // transformers.js reads tokenizer_config.json when present; without one its defaults hold.
    }
    const t = record(json);
    const pre = record(t.pre_tokenizer);
    const model = record(t.model);
    const post = record(t.post_processor);
    const cfg = record(config);
    if (t.normalizer !== null && t.normalizer !== undefined) return 'the tokenizer has a normalizer';
    if (pre.type !== 'ByteLevel' || pre.add_prefix_space === true || pre.use_regex === false)
      return 'the pre-tokenizer is not byte-level without a prefix space';
    if (model.type !== 'BPE') return 'the model is not BPE';
    if ((model.dropout ?? null) !== null || model.byte_fallback === true || model.ignore_merges === true || model.fuse_unk === true)
      return 'the BPE model uses dropout, byte fallback, ignore_merges or fuse_unk';
    if ((model.continuing_subword_prefix ?? '') !== '' || (model.end_of_word_suffix ?? '') !== '' || model.continuing_subword_suffix)
      return 'the BPE model uses subword prefixes or suffixes';
    if (cfg.remove_space === true || cfg.do_lowercase_and_remove_accent === true) return 'tokenizer_config.json changes the text first';
    if (post.type !== 'RobertaProcessing') return 'the post-processor is not RobertaProcessing';
    const cls = post.cls;
    const sep = post.sep;
    if (!Array.isArray(cls) || !Array.isArray(sep) || typeof cls[1] !== 'number' || typeof sep[1] !== 'number')
      return 'the post-processor has no cls/sep ids';
    const vocab = record(model.vocab);
    if (!Object.values(vocab).every((v) => typeof v === 'number')) return 'the vocabulary is not string -> id';
    const rawMerges = Array.isArray(model.merges) ? (model.merges as unknown[]) : [];
    const merges: Array<[string, string]> = [];
    for (const m of rawMerges) {
      const pair = typeof m === 'string' ? m.split(' ', 2) : m;
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
        return 'a merge is not a pair of strings';
      merges.push([pair[0], pair[1]]);
    }
    const added: AddedToken[] = [];
    for (const a of Array.isArray(t.added_tokens) ? (t.added_tokens as unknown[]) : []) {
      const r = record(a);
      if (typeof r.content !== 'string' || typeof r.id !== 'number') return 'an added token has no content or id';
      // Without a normalizer every added token is matched on the raw text (transformers.js's unnormalized splitter).
      if (r.single_word === true) return 'an added token is single-word';
      added.push({ content: r.content, id: r.id, lstrip: r.lstrip === true, rstrip: r.rstrip === true });
    }
    const unk = typeof model.unk_token === 'string' ? (vocab[model.unk_token] as number | undefined) : undefined;
    if (typeof model.unk_token === 'string' && unk === undefined) return 'the unknown token is not in the vocabulary';
    return new ByteBpe(vocab as Record<string, number>, merges, added, unk ?? null, cls[1], sep[1]);
  }

  /** The ids of one text: `<s>`, its tokens, `</s>` (no truncation: the caller cuts). */
  encode(text: string): number[] {
    const ids = [this.clsId];
    if (this.addedPattern === null) this.encodeSection(text, ids);
    else {
      for (const section of this.sections(text)) {
        const token = this.added.get(section);
        if (token !== undefined) ids.push(token.id);
        else this.encodeSection(section, ids);
      }
    }
    ids.push(this.sepId);
    return ids;
  }

  /** The text cut around added tokens, with their lstrip/rstrip applied to the neighbouring sections. */
  private sections(text: string): string[] {
    const pattern = this.addedPattern as RegExp;
    pattern.lastIndex = 0;
    const out: string[] = [];
    let start = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      if (m.index > start) out.push(text.slice(start, m.index));
      out.push(m[0]);
      start = m.index + m[0].length;
    }
    if (start < text.length) out.push(text.slice(start));
    out.forEach((section, i) => {
      const token = this.added.get(section);
      if (token === undefined) return;
      if (token.lstrip && i > 0) out[i - 1] = (out[i - 1] as string).trimEnd();
      if (token.rstrip && i < out.length - 1) out[i + 1] = (out[i + 1] as string).trimStart();
    });
    return out.filter((s) => s !== '');
  }

  private encodeSection(text: string, into: number[]): void {
    PRE_TOKEN.lastIndex = 0;
    for (let m = PRE_TOKEN.exec(text); m !== null; m = PRE_TOKEN.exec(text)) {
      const piece = m[0];
      let ids = this.memo.get(piece);
      if (ids === undefined) {
        ids = this.bpe(piece);
        if (piece.length <= MEMO_MAX_CHARS) {
          if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
          this.memo.set(piece, ids);
        }
      }
      for (const id of ids) into.push(id);
    }
  }

  /** One pre-token's ids: its UTF-8 bytes in the byte alphabet, merged pair by pair in rank order. */
  private bpe(piece: string): number[] {
    const parts = Array.from(this.encoder.encode(piece), (b) => BYTE_CHARS[b] as string);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(`${parts[i]}\n${parts[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, `${parts[best]}${parts[best + 1]}`);
    }
    const ids: number[] = [];
    for (const p of parts) {
      const id = this.vocab.get(p) ?? this.unkId;
      if (id !== null) ids.push(id);
    }
    return ids;
  }
}

function record(x: unknown): Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}
