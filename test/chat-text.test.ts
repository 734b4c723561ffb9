// Chat normalization shared by training and serving: emotes by name (any casing, elongated, behind a
// channel prefix, wrapped in punctuation), capitals and elongations, and emote positions from a platform.
import { describe, expect, it } from 'vitest';
import { ChatText, parseChatTextSpec } from '../src/sentiment/chat-text.js';

const chat = new ChatText({ emotes: ['PogChamp', 'Pog', 'LUL', 'KEKW', 'Sadge', 'OMEGALUL', 'EZ'] });

describe('ChatText.normalize', () => {
  it('writes known emotes canonically whatever their casing or elongation', () => {
    expect(chat.normalize('pogchamp POGCHAMP Poggg LULLLLL kekwwww')).toBe('PogChamp PogChamp Pog LUL KEKW');
    expect(chat.normalize('OMEGALULLLL')).toBe('OMEGALUL');
  });

  it('finds an emote behind a channel prefix or inside punctuation', () => {
    expect(chat.normalize('sodaLUL xqcPog (Sadge) PogChamp!!!')).toBe('LUL Pog (Sadge) PogChamp!!');
  });

  it('lowercases words written in capitals and collapses elongations, leaving mixed-case words alone', () => {
    expect(chat.normalize('THAT WAS INSANE soooooo good!!!!!')).toBe('that was insane soo good!!');
    expect(chat.normalize('W L I GG Kevin iPhone')).toBe('W L I gg Kevin iPhone');
  });

  it('keeps whitespace and is idempotent', () => {
    const once = chat.normalize(' gg  WP\tpogg ');
    expect(once).toBe(' gg  wp\tPog ');
    expect(chat.normalize(once)).toBe(once);
  });

  it('leaves words that only look like a prefixed emote when the suffix is no emote', () => {
    expect(chat.normalize('hasanHug eBay')).toBe('hasanHug eBay');
  });

  it('gives the same rewrite from its word memo, before and after the memo fills and starts over', () => {
    const fresh = new ChatText(chat.spec);
    const line = 'POGGG that was INSANE KEKWWW (Sadge) soooo hasanLUL ok';
    const first = fresh.normalize(line);
    expect(first).toBe('Pog that was insane KEKW (Sadge) soo LUL ok');
    expect(fresh.normalize(line)).toBe(first);
    // More distinct words than the memo holds, some long enough to bypass it.
    fresh.normalize(Array.from({ length: 60_000 }, (_, i) => `WORD${i}`).join(' '));
    const long = 'abcdefghij'.repeat(4);
    expect(fresh.normalize(`${line} ${long}OOOO`)).toBe(`${first} ${long}OO`);
    expect(fresh.normalize(line)).toBe(first);
  });
});

describe('ChatText.applyEmotes', () => {
  it('reads a reported emote behind any channel prefix, which by name alone is not trusted', () => {
    const text = 'ab12Sadge that hurt';
    expect(chat.normalize(text)).toBe(text);
    expect(chat.applyEmotes(text, [{ start: 0, end: 8 }])).toBe('Sadge that hurt');
  });

  it('keeps unknown emotes and ignores ranges that overlap or fall outside the text', () => {
    const text = 'sodaHype gg LUL';
    expect(
      chat.applyEmotes(text, [
        { start: 0, end: 7 },
        { start: 12, end: 14 },
        { start: 13, end: 14 },
        { start: 10, end: 99 },
      ]),
    ).toBe('sodaHype gg LUL');
    expect(
      chat.applyEmotes(text, [
        { start: -1, end: 2 },
        { start: 1.5, end: 3 },
      ]),
    ).toBe(text);
  });
});

describe('parseChatTextSpec', () => {
  it('accepts a list of emote names and refuses anything else with the file named', () => {
    expect(parseChatTextSpec({ emotes: ['Pog'] }, 'chat.json')).toEqual({ emotes: ['Pog'] });
    for (const bad of [
      null,
      {},
      { emotes: 'Pog' },
      { emotes: [''] },
      { emotes: ['two words'] },
      { emotes: [1] },
      { emotes: ['x'.repeat(65)] },
    ]) {
      expect(() => parseChatTextSpec(bad, 'chat.json')).toThrow(/chat\.json/);
    }
  });
});
