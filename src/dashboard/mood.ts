// What the dashboard and the OBS overlay share: the mood word for a window, the shares of each label, emote
// tokens in a message, and moments read defensively from frames and the moments route.

/** A window's mood, as a word a streamer reads at a glance. */
export interface MoodWord {
  key: 'hyped' | 'happy' | 'mixed' | 'salty' | 'quiet';
  word: string;
  emoji: string;
}

const WORDS: Record<MoodWord['key'], MoodWord> = {
  hyped: { key: 'hyped', word: 'Hyped', emoji: '🔥' },
  happy: { key: 'happy', word: 'Happy', emoji: '🙂' },
  mixed: { key: 'mixed', word: 'Mixed', emoji: '😐' },
  salty: { key: 'salty', word: 'Salty', emoji: '😠' },
  quiet: { key: 'quiet', word: 'Quiet', emoji: '💤' },
};

/**
 * The word for a window's mean polarity (-1..1). No messages, or a null score (a quiet window), is `quiet`:
 * never neutral. Hyped needs both a strong score and a share of positive messages that dominates.
 */
export function moodWord(score: number | null, total: number): MoodWord {
  if (score === null || !Number.isFinite(score) || total <= 0) return WORDS.quiet;
  if (score >= 0.45) return WORDS.hyped;
  if (score >= 0.15) return WORDS.happy;
  if (score > -0.15) return WORDS.mixed;
  return WORDS.salty;
}

export interface Shares {
  total: number;
  /** Percentages (0-100, rounded, summing to 100 when total > 0). */
  positive: number;
  neutral: number;
  negative: number;
}

/** Shares of positive / neutral / negative in a window's counts (other labels count as neutral). */
export function sharesOf(counts: Readonly<Record<string, number>> | undefined): Shares {
  let positive = 0;
  let negative = 0;
  let other = 0;
  for (const [label, n] of Object.entries(counts ?? {})) {
    if (typeof n !== 'number' || !(n > 0)) continue;
    const l = label.toLowerCase();
    if (l === 'positive' || l === 'pos') positive += n;
    else if (l === 'negative' || l === 'neg') negative += n;
    else other += n;
  }
  const total = positive + negative + other;
  if (total === 0) return { total: 0, positive: 0, neutral: 0, negative: 0 };
  const p = Math.round((positive / total) * 100);
  const n = Math.round((negative / total) * 100);
  return { total, positive: p, negative: n, neutral: Math.max(0, 100 - p - n) };
}

/** Marks a mood widget with its mood and shares (`data-*`: what styles key on and the browser tests read). */
export function markMood(target: HTMLElement, mood: string, shares: Shares): void {
  target.dataset.mood = mood;
  target.dataset.positive = String(shares.positive);
  target.dataset.neutral = String(shares.neutral);
  target.dataset.negative = String(shares.negative);
  target.dataset.total = String(shares.total);
}

/** A score as `+0.42` / `−0.10` (a real minus sign), or `–` for none. */
export function formatScore(score: number | null): string {
  if (score === null || !Number.isFinite(score)) return '–';
  const abs = Math.abs(score).toFixed(2);
  return score > 0.004 ? `+${abs}` : score < -0.004 ? `−${abs}` : abs;
}

/** Twitch, BTTV and FFZ emotes chat uses everywhere, for messages that carry no emote positions. */
const KNOWN_EMOTES = new Set(
  (
    'PogChamp Pog POGGERS PogU Kappa KappaPride Keepo LUL LULW OMEGALUL KEKW Kreygasm ResidentSleeper NotLikeThis ' +
    'BibleThump 4Head Jebaited SeemsGood VoHiYo HeyGuys CoolCat DansGame SwiftRage TriHard WutFace BabyRage ' +
    'FailFish Sadge PepeHands monkaS monkaW PauseChamp widepeepoHappy peepoHappy FeelsGoodMan FeelsBadMan ' +
    'FeelsStrongMan catJAM EZ Clap GG copium Copium OhMyDog PJSalt CoolStoryBob TwitchUnity HypeHands'
  ).split(' '),
);
const EMOJI = /\p{Extended_Pictographic}/u;

/** Emote names in a message: from its `emotes` positions when it has them, else known emote tokens and emoji. */
export function emotesIn(text: string, emotes?: ReadonlyArray<{ name?: unknown; start?: unknown; end?: unknown }>): string[] {
  if (emotes !== undefined && emotes.length > 0) {
    return emotes
      .map((e) =>
        typeof e.name === 'string' && e.name !== ''
          ? e.name
          : typeof e.start === 'number' && typeof e.end === 'number'
            ? text.slice(e.start, e.end + 1)
            : '',
      )
      .filter((n) => n !== '');
  }
  const found: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (KNOWN_EMOTES.has(token)) found.push(token);
    else for (const ch of token) if (EMOJI.test(ch)) found.push(ch);
  }
  return found;
}

/** A hype or tilt moment: a burst of chat with a strong swing against the channel's own baseline. */
export interface Moment {
  kind: 'hype' | 'tilt';
  score: number;
  /** Epoch ms. */
  ts: number;
  sample: string[];
}

/** A moment from a `moment` frame or a moments route item; null when it is not one. */
export function momentOf(raw: unknown): Moment | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const kind = r.kind === 'hype' || r.kind === 'tilt' ? r.kind : null;
  const ts = typeof r.ts === 'number' ? r.ts : typeof r.ts === 'string' ? Date.parse(r.ts) : NaN;
  if (kind === null || !Number.isFinite(ts)) return null;
  const score = typeof r.score === 'number' && Number.isFinite(r.score) ? r.score : 0;
  const sample = Array.isArray(r.sample) ? r.sample.filter((s): s is string => typeof s === 'string').slice(0, 5) : [];
  return { kind, score, ts, sample };
}

export const MOMENT_TEXT: Record<Moment['kind'], { word: string; emoji: string }> = {
  hype: { word: 'Hype', emoji: '🔥' },
  tilt: { word: 'Tilt', emoji: '😡' },
};

/** `14:05:09`, in the viewer's time zone. */
export function clock(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
