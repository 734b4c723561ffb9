// Chat-aware text normalization for models trained on live-stream chat. A model opts in with `chat.json`
// (the emote names it knows); the same code rewrites the training corpus (models/train/prepare.ts) and
// live traffic, so training and serving cannot drift. Folders without chat.json see their text unchanged.

export interface ChatTextSpec {
  /** Emote names in their canonical spelling (`PogChamp`, `KEKW`, `Sadge`). */
  emotes: string[];
}

/** One emote occurrence with inclusive UTF-16 offsets, as ingest carries them (Twitch `emotes` tag). */
export interface EmoteRange {
  start: number;
  end: number;
}

// Runs of 3+ of one character collapse to 2: "soooo" and "sooooooo" read the same, "so" stays different.
const ELONGATION_RE = /(\p{L}|\p{N}|[!?.])\1{2,}/gu;
// A channel's sub emote is its lowercase prefix then a capitalised name: `sodaLUL`, `xqcPog`. By name only
// letter prefixes count (`mp3Player` is no emote); a position Twitch reported also allows digits (`hasan2LUL`).
const SUB_EMOTE_RE = /^([a-z]{2,10})([A-Z0-9].*)$/u;
const SPAN_SUB_EMOTE_RE = /^([a-z0-9]+)([A-Z0-9].*)$/u;
const EDGES_RE = /^([^\p{L}\p{N}]*)(.*?)([^\p{L}\p{N}]*)$/u;
const MAX_EMOTES = 10_000;
const MAX_EMOTE_LENGTH = 64;
/** Distinct words remembered per instance before the memo starts over (a few MB at most). */
const MEMO_WORDS = 50_000;
/** Longer words are rewritten every time: a memo of long unique tokens would only churn. */
const MEMO_MAX_LENGTH = 32;

const collapse = (s: string) => s.replace(ELONGATION_RE, '$1$1');
const squeeze = (s: string) => s.toLowerCase().replace(/(.)\1+/gu, '$1');

export class ChatText {
  private readonly byLower = new Map<string, string>();
  private readonly bySqueezed = new Map<string, string>();
  // word -> its rewrite. A word's rewrite depends on the word alone, and chat repeats its words, so this saves
  // most of the regex work (serving's hot path; the training corpus goes through it too). A plain Map cleared
  // when full, not an LRU: cheaper per lookup, and a refill costs one pass over the words in use.
  private readonly memo = new Map<string, string>();

  constructor(readonly spec: ChatTextSpec) {
    for (const name of spec.emotes) {
      this.byLower.set(name.toLowerCase(), name);
      // "Poggg", "LULLLL", "KEKWWW": an elongated emote is still the emote. The first name wins a collision.
      if (!this.bySqueezed.has(squeeze(name))) this.bySqueezed.set(squeeze(name), name);
    }
  }

  /** The canonical emote a chat word stands for, or undefined: any casing, elongated, or behind a channel prefix. */
  emoteOf(word: string, anyPrefix = false): string | undefined {
    if (word.length > MAX_EMOTE_LENGTH) return undefined;
    const direct = this.byLower.get(word.toLowerCase()) ?? this.bySqueezed.get(squeeze(word));
    if (direct !== undefined) return direct;
    const sub = (anyPrefix ? SPAN_SUB_EMOTE_RE : SUB_EMOTE_RE).exec(word);
    return sub ? this.byLower.get((sub[2] as string).toLowerCase()) : undefined;
  }

  /**
   * Known emotes become their canonical name; other words have elongations collapsed and, when written in
   * capitals (hype: "INSANE PLAY"), are lowercased, so that caps and stretched letters do not split one word
   * into rare pieces. Emote casing is identity (`LUL` is an emote, `lul` a word), so emotes keep theirs.
   */
  normalize(text: string): string {
    return text
      .normalize('NFC')
      .split(/(\s+)/u)
      .map((word, i) => (i % 2 === 1 || word === '' ? word : this.word(word)))
      .join('');
  }

  /**
   * Applies emote positions a platform reported (e.g. Twitch's `emotes` tag) before normalize(): a reported
   * emote is looked up behind any channel prefix (`hasan2LUL` is LUL), which by name alone would be a guess.
   * Out-of-range or overlapping ranges are ignored.
   */
  applyEmotes(text: string, ranges: readonly EmoteRange[]): string {
    let out = '';
    let at = 0;
    for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
      if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < at || r.end < r.start || r.end >= text.length) continue;
      const name = text.slice(r.start, r.end + 1);
      out += text.slice(at, r.start) + (this.emoteOf(name, true) ?? name);
      at = r.end + 1;
    }
    return out + text.slice(at);
  }

  private word(word: string): string {
    if (word.length > MEMO_MAX_LENGTH) return this.rewrite(word);
    let out = this.memo.get(word);
    if (out === undefined) {
      if (this.memo.size >= MEMO_WORDS) this.memo.clear();
      out = this.rewrite(word);
      this.memo.set(word, out);
    }
    return out;
  }

  private rewrite(word: string): string {
    // Punctuation around an emote ("PogChamp!", "(Sadge)") does not hide it.
    const [, lead = '', core = '', trail = ''] = (word.length <= 2 * MAX_EMOTE_LENGTH ? EDGES_RE.exec(word) : null) ?? [];
    const emote = core === '' ? undefined : this.emoteOf(core);
    if (emote !== undefined) return collapse(lead) + emote + collapse(trail);
    const collapsed = collapse(word);
    return /\p{Lu}.*\p{Lu}/u.test(collapsed) && !/\p{Ll}/u.test(collapsed) ? collapsed.toLowerCase() : collapsed;
  }
}

export function parseChatTextSpec(raw: unknown, where: string): ChatTextSpec {
  const o = (raw ?? {}) as Record<string, unknown>;
  const emotes = o.emotes;
  if (
    !Array.isArray(emotes) ||
    emotes.length > MAX_EMOTES ||
    !emotes.every((e) => typeof e === 'string' && e !== '' && e.length <= MAX_EMOTE_LENGTH && !/\s/u.test(e))
  ) {
    throw new Error(
      `${where}: expected {emotes: [names without spaces, at most ${MAX_EMOTE_LENGTH} characters]} with at most ${MAX_EMOTES} names`,
    );
  }
  return { emotes: emotes as string[] };
}
