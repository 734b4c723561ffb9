// The batcher's answers are placed by each text's index in the call, whatever mix of cache hits, joins of
// in-flight work and fresh misses the call holds; and the engine's cache key (normalizeText) folds NFC and
// NFD spellings of one text into one inference. Driven by a deterministic runner: no model is needed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MicroBatcher } from '../src/sentiment/batcher.js';
import { normalizeText } from '../src/sentiment/engine.js';

/** Derived from the text alone, so a result at the wrong index is told apart from the right one. */
interface Tagged {
  of: string;
  len: number;
}

const tag = (text: string): Tagged => ({ of: text, len: text.length });

function harness() {
  const batches: string[][] = [];
  const gates: Array<() => void> = [];
  let hold = false;
  const batcher = new MicroBatcher<Tagged>(
    (texts) => {
      batches.push([...texts]);
      const answer = texts.map(tag);
      if (!hold) return Promise.resolve(answer);
      return new Promise<Tagged[]>((resolve) => gates.push(() => resolve(answer)));
    },
    { maxItems: 16, maxTokens: 10_000, maxWaitMs: 5, maxQueue: 100, maxInFlight: 1, cacheSize: 100, estimateTokens: (t) => t.length },
  );
  /** Submits and lets every due batch run, so the call settles. */
  const settle = async (texts: readonly string[]): Promise<Tagged[]> => {
    const out = batcher.submit(texts);
    await vi.advanceTimersByTimeAsync(20);
    return out;
  };
  return {
    batcher,
    batches,
    settle,
    holdRunner: () => void (hold = true),
    release: async () => {
      hold = false;
      while (gates.length) gates.shift()!();
      await vi.advanceTimersByTimeAsync(20);
    },
  };
}

describe('MicroBatcher: results by index with cache hits and misses in one call', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('a cached text first, an uncached one second: each answered at its own index', async () => {
    const { batcher, batches, settle } = harness();
    await settle(['gg']);
    expect(await settle(['gg', 'wp'])).toEqual([tag('gg'), tag('wp')]);
    expect(batches).toEqual([['gg'], ['wp']]); // the hit never reached the runner
    expect(batcher.stats().cacheHits).toBe(1);
  });

  it('an uncached text first, a cached one second', async () => {
    const { batches, settle } = harness();
    await settle(['gg']);
    expect(await settle(['ez', 'gg'])).toEqual([tag('ez'), tag('gg')]);
    expect(batches).toEqual([['gg'], ['ez']]);
  });

  it('interleaved hits and misses, with duplicates of each in the same call', async () => {
    const { batcher, batches, settle } = harness();
    await settle(['gg', 'pog']);
    const texts = ['wp', 'gg', 'wp', 'kekw', 'gg', 'pog', 'kekw', 'lul'];
    expect(await settle(texts)).toEqual(texts.map(tag));
    // Each new text classified once, in first-seen order; the repeats and hits cost nothing.
    expect(batches).toEqual([
      ['gg', 'pog'],
      ['wp', 'kekw', 'lul'],
    ]);
    expect(batcher.stats().dedupHits).toBe(2);
    // And now all of them are hits, still in the caller's order.
    const reversed = [...texts].reverse();
    expect(await settle(reversed)).toEqual(reversed.map(tag));
    expect(batches).toHaveLength(2);
  });

  it('a call mixing a hit, a join of a text another call has running, and a fresh miss', async () => {
    const { batcher, batches, settle, holdRunner, release } = harness();
    await settle(['gg']);
    holdRunner();
    const first = batcher.submit(['slow']); // dispatched at once, then held
    const mixed = batcher.submit(['fresh', 'slow', 'gg', 'slow', 'fresh']);
    await release(); // 'slow' answers; 'fresh', queued behind it for the only slot, goes next
    expect(await first).toEqual([tag('slow')]);
    expect(await mixed).toEqual([tag('fresh'), tag('slow'), tag('gg'), tag('slow'), tag('fresh')]);
    expect(batches).toEqual([['gg'], ['slow'], ['fresh']]);
  });
});

describe('the cache key: NFC and NFD spellings are one text', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  // Escapes, not literal accents: an editor that normalizes the source file cannot make the two spellings equal.
  const NFC = 'caf\u00e9 gg';
  const NFD = 'cafe\u0301 gg';

  it('the two spellings differ as strings, and the key is the composed one', () => {
    expect(NFC).not.toBe(NFD);
    expect(normalizeText(NFD)).toBe(NFC);
    expect(normalizeText(NFC)).toBe(NFC);
    expect(normalizeText('A\u030angstr\u00f6m')).toBe('\u00c5ngstr\u00f6m');
  });

  it('classifies the text once across calls: the second spelling is a cache hit', async () => {
    const { batcher, batches, settle } = harness();
    // As the engine's classifyMany submits: every text through normalizeText first.
    expect(await settle([NFC].map(normalizeText))).toEqual([tag(NFC)]);
    expect(await settle([NFD].map(normalizeText))).toEqual([tag(NFC)]);
    expect(batches).toEqual([[NFC]]);
    expect(batcher.stats().cacheHits).toBe(1);
  });

  it('classifies the text once within one call: both spellings share one inference', async () => {
    const { batches, settle } = harness();
    expect(await settle([NFD, 'wp', NFC].map(normalizeText))).toEqual([tag(NFC), tag('wp'), tag(NFC)]);
    expect(batches).toEqual([[NFC, 'wp']]);
  });
});
