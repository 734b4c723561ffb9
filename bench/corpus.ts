// Chat-like texts for the benchmarks: real Twitch chat lines or the TweetEval sentiment validation tweets
// when ../shared has them, else generated Twitch-style chat lines, so the bench runs anywhere.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { resolve } from 'node:path';
import { repoRoot } from './lib/machine.js';

export interface Corpus {
  source: string;
  texts: readonly string[];
}

const TWEETEVAL = '../shared/datasets/tweeteval-sentiment-val/val_text.txt';
const TWITCH = '../shared/datasets/twitch-jasonmates/Twitch_Sentiment_Labels.csv';

export type CorpusKind = 'twitch' | 'tweets' | 'generated';

export function loadCorpus(kind: CorpusKind = 'tweets'): Corpus {
  const twitchFile = resolve(repoRoot, TWITCH);
  if (kind === 'twitch' && existsSync(twitchFile)) {
    const rows = parse<{ message?: string }>(readFileSync(twitchFile), { columns: true, skip_empty_lines: true });
    const texts = [...new Set(rows.map((r) => (r.message ?? '').trim()).filter((t) => t !== ''))];
    if (texts.length > 0) return { source: `Twitch chat lines (${texts.length}, twitch-jasonmates)`, texts };
  }
  const file = resolve(repoRoot, TWEETEVAL);
  if (kind !== 'generated' && existsSync(file)) {
    // One tweet per line (PROVENANCE.md); some lines end in a space, which the engine normalizes anyway.
    const texts = readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (texts.length > 0) return { source: `TweetEval sentiment val (${texts.length} tweets)`, texts };
  }
  return { source: 'generated chat lines (2000)', texts: generatedChat(2000) };
}

const EMOTES = ['LUL', 'PogChamp', 'KEKW', 'OMEGALUL', 'Kappa', 'monkaS', 'PepeHands', 'Pog', 'BibleThump', 'ResidentSleeper'];
const EMOJI = ['😂', '🔥', '❤️', '😭', '👀', '💀', '🙏', '😡', '🎉', '🤡'];
const PHRASES = [
  'that play was insane',
  'gg wp',
  'this streamer is so bad',
  'no way he missed that',
  'best stream ever',
  'chat is wild today',
  'why is the audio so loud',
  'lets goooo',
  'I love this game',
  'worst ending of all time',
  'can we get a replay',
  'first time here, hi everyone',
  'bro is throwing',
  'clip it',
  'so boring today',
  'huge W',
  'massive L',
  'he is actually cracked',
  'lag again?',
  'thanks for the raid',
];
const USERS = ['@ninja', '@mod_sarah', '@xQc', '@chat', '@streamer'];

/** Deterministic (a small LCG), so two runs classify the same lines. */
export function generatedChat(count: number): string[] {
  let seed = 42;
  const pick = <T>(items: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return items[seed % items.length] as T;
  };
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const parts = [pick(PHRASES)];
    if (seed % 3 === 0) parts.unshift(pick(USERS));
    if (seed % 2 === 0) parts.push(pick(EMOTES));
    if (seed % 5 < 2) parts.push(pick(EMOJI).repeat(1 + (seed % 3)));
    if (seed % 7 === 0) parts.push('sooooo goooood');
    if (seed % 11 === 0) parts.push(`${pick(EMOTES)} ${pick(EMOTES)} ${pick(EMOTES)}`);
    lines.push(parts.join(' '));
  }
  return lines;
}

/**
 * The i-th text made unique by a counter suffix, so neither the engine's cache nor its dedup of identical
 * in-flight texts hides any inference work.
 */
export function uniqueText(corpus: Corpus, i: number): string {
  return `${corpus.texts[i % corpus.texts.length] as string} #${i}`;
}
