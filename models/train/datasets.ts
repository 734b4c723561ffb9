// Reads the public labelled sets in ../shared/datasets and maps each to negative/neutral/positive.
// Which sets train the shipped weights is decided here (licenses: see MODEL_CARD.md).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

export const LABELS = ['negative', 'neutral', 'positive'] as const;
export type Label = 0 | 1 | 2;

export type Split = 'train' | 'dev' | 'twitch' | 'unlabelled' | 'chat-test' | 'weak' | 'chat';

export interface Example {
  text: string;
  /** -1 for unlabelled text (language-model pretraining only). */
  label: Label | -1;
  source: string;
  split: Split;
}

const LABEL_BY_NAME: Record<string, Label> = { negative: 0, neutral: 1, positive: 2 };

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n');
}

/** SemEval's TSVs carry literal \uXXXX escapes and HTML entities. */
function cleanTweet(text: string): string {
  return text
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

const SEMEVAL_FILES = [
  'twitter-2013dev-A.tsv',
  'twitter-2013test-A.tsv',
  'twitter-2013train-A.tsv',
  'twitter-2014sarcasm-A.tsv',
  'twitter-2014test-A.tsv',
  'twitter-2015test-A.tsv',
  'twitter-2015train-A.tsv',
  'twitter-2016dev-A.tsv',
  'twitter-2016devtest-A.tsv',
  'twitter-2016test-A.tsv',
  'twitter-2016train-A.tsv',
];

export function semeval(root: string): Example[] {
  const dir = join(root, 'semeval2017-task4a');
  // TweetEval validation tweets are the dev set: every copy of them stays out of training.
  const heldOut = new Set(
    lines(join(dir, 'ids_overlapping_tweeteval_val.tsv'))
      .slice(1)
      .map((l) => l.split('\t')[1]?.trim()),
  );
  const out: Example[] = [];
  for (const file of SEMEVAL_FILES) {
    for (const line of lines(join(dir, file))) {
      const [id, label, text] = line.split('\t');
      if (!id || !label || text === undefined || heldOut.has(id.trim())) continue;
      const l = LABEL_BY_NAME[label.trim()];
      if (l === undefined) continue;
      out.push({ text: cleanTweet(text), label: l, source: 'semeval2017', split: 'train' });
    }
  }
  return out;
}

export function tweetevalVal(root: string): Example[] {
  const dir = join(root, 'tweeteval-sentiment-val');
  const texts = lines(join(dir, 'val_text.txt'));
  const labels = lines(join(dir, 'val_labels.txt'));
  const out: Example[] = [];
  labels.forEach((l, i) => {
    if (l.trim() === '') return;
    out.push({ text: (texts[i] ?? '').trim(), label: Number(l) as Label, source: 'tweeteval-val', split: 'dev' });
  });
  return out;
}

export function tweetSentimentExtraction(root: string): Example[] {
  const dir = join(root, 'tweet-sentiment-extraction');
  const out: Example[] = [];
  for (const file of ['train_10fold.csv', 'test.csv']) {
    const rows = parse<Record<string, string>>(readFileSync(join(dir, file)), { columns: true, skip_empty_lines: true });
    for (const row of rows) {
      const l = LABEL_BY_NAME[(row.sentiment ?? '').trim()];
      const text = (row.text ?? '').replace(/`/g, "'").trim();
      if (l !== undefined && text !== '') out.push({ text, label: l, source: 'tweet-sentiment-extraction', split: 'train' });
    }
  }
  return out;
}

/** GoEmotions' sentiment grouping; ambiguous and multi-label comments are skipped. */
export function goEmotions(root: string): Example[] {
  const dir = join(root, 'goemotions', 'group');
  const names = lines(join(dir, 'labels.txt')).map((l) => l.trim());
  const out: Example[] = [];
  for (const file of ['train.tsv', 'dev.tsv', 'test.tsv']) {
    for (const line of lines(join(dir, file))) {
      const [text, ids] = line.split('\t');
      if (!text || !ids || ids.includes(',')) continue;
      const l = LABEL_BY_NAME[names[Number(ids)] ?? ''];
      if (l !== undefined) out.push({ text: text.trim(), label: l, source: 'goemotions', split: 'train' });
    }
  }
  return out;
}

/** Student-labelled Twitch chat: no license, so evaluation only (never trains the shipped weights). */
export function twitchJasonMates(root: string): Example[] {
  const rows = parse<Record<string, string>>(readFileSync(join(root, 'twitch-jasonmates', 'Twitch_Sentiment_Labels.csv')), {
    columns: true,
    skip_empty_lines: true,
  });
  const out: Example[] = [];
  for (const row of rows) {
    const l = LABEL_BY_NAME[(row.sentiment ?? '').trim().toLowerCase()];
    const text = (row.message ?? '').trim();
    if (l !== undefined && text !== '') out.push({ text, label: l, source: 'twitch-jasonmates', split: 'twitch' });
  }
  return out;
}

/** Sentiment140's emoticon-labelled tweets, used as unlabelled text for masked-language pretraining. */
export function sentiment140(root: string): Example[] {
  const dir = join(root, 'sentiment140-100k');
  return ['positive.txt', 'negative.txt'].flatMap((file) =>
    lines(join(dir, file))
      .map((t) => t.trim())
      .filter((t) => t !== '')
      .map((text): Example => ({ text, label: -1, source: 'sentiment140', split: 'unlabelled' })),
  );
}

/**
 * Raw Twitch chat lines (no labels; see its PROVENANCE.md): masked-language pretraining and weak labels
 * derived from the text. One entry per distinct line over all sources, in a stable order.
 */
export function twitchChat(root: string): Example[] {
  const dir = join(root, 'twitch-chat-unlabeled');
  const seen = new Set<string>();
  const out: Example[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.tsv'))
    .sort()) {
    for (const line of lines(join(dir, file))) {
      const text = (line.split('\t')[0] ?? '').trim();
      if (text === '' || seen.has(text)) continue;
      seen.add(text);
      out.push({ text, label: -1, source: 'twitch-chat', split: 'unlabelled' });
    }
  }
  return out;
}

/**
 * Emoji Sentiment Ranking (Kralj Novak et al. 2015): emoji with a clear polarity over enough tweets,
 * as +1/-1. Only polarities derived from it are used (weak labels), never its rows.
 */
export function emojiPolarity(root: string, minOccurrences = 50, minScore = 0.3): Map<string, 1 | -1> {
  const rows = parse<Record<string, string>>(readFileSync(join(root, 'emoji-sentiment-ranking', 'Emoji_Sentiment_Data_v1.0.csv')), {
    columns: true,
    skip_empty_lines: true,
  });
  const out = new Map<string, 1 | -1>();
  for (const row of rows) {
    const n = Number(row.Occurrences);
    const score = (Number(row.Positive) - Number(row.Negative)) / n;
    if (!row.Emoji || !(n >= minOccurrences) || Math.abs(score) < minScore) continue;
    out.set(row.Emoji, score > 0 ? 1 : -1);
  }
  return out;
}

/**
 * The distinct JasonMates chat messages split into a dev half (choices may look at it) and a test half
 * (reported, never tuned on) by a hash of the text: the same halves in training, evaluation and tests.
 */
export function splitChatEval(root: string): { dev: Example[]; test: Example[] } {
  const seen = new Set<string>();
  const dev: Example[] = [];
  const test: Example[] = [];
  for (const e of twitchJasonMates(root)) {
    if (seen.has(e.text)) continue;
    seen.add(e.text);
    let h = 0x811c9dc5;
    for (let i = 0; i < e.text.length; i++) h = Math.imul(h ^ e.text.charCodeAt(i), 0x01000193);
    ((h >>> 0) % 2 === 0 ? dev : test).push(e);
  }
  return { dev, test };
}

/** The hand-checked chat lines of test/fixtures/chat-sanity.tsv (text, tab, label name), as labelled examples. */
export function chatSanity(file: string): Example[] {
  return lines(file)
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [text = '', name = ''] = l.split('\t');
      return { text, label: LABELS.indexOf(name as (typeof LABELS)[number]) as Example['label'], source: 'chat-sanity', split: 'twitch' };
    });
}
