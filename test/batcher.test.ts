// The micro-batcher's policy, driven with fake timers and a runner that records every batch it is given.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MicroBatcher, type BatcherOptions } from '../src/sentiment/batcher.js';
import { AppError } from '../src/errors.js';

interface Echo {
  text: string;
}

function harness(overrides: Partial<BatcherOptions> = {}) {
  const batches: string[][] = [];
  const gates: Array<() => void> = [];
  let hold = false;
  let freeBusy: (() => void) | null = null;
  const runner = (texts: string[]) => {
    if (texts[0] === 'busy') {
      // Occupies one runner slot until released, so the batching rules (which only wait while work is
      // running) come into play.
      return new Promise<Echo[]>((resolve) => (freeBusy = () => resolve(texts.map((text) => ({ text })))));
    }
    batches.push(texts);
    const answer = texts.map((text) => ({ text }));
    if (!hold) return Promise.resolve(answer);
    return new Promise<Echo[]>((resolve) => gates.push(() => resolve(answer)));
  };
  const batcher = new MicroBatcher<Echo>(runner, {
    maxItems: 4,
    maxTokens: 1000,
    maxWaitMs: 10,
    maxQueue: 8,
    maxInFlight: 1,
    cacheSize: 100,
    estimateTokens: (t) => t.length,
    ...overrides,
  });
  return {
    batcher,
    batches,
    occupy: () => void batcher.submit(['busy']),
    free: () => freeBusy?.(),
    holdRunner: () => void (hold = true),
    release: async () => {
      hold = false;
      while (gates.length) gates.shift()!();
      await vi.advanceTimersByTimeAsync(0);
    },
  };
}

describe('MicroBatcher', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('dispatches at once when no batch is running: waiting would only add latency', async () => {
    const { batcher, batches } = harness();
    const out = batcher.submit(['lonely']);
    expect(batches).toEqual([['lonely']]);
    expect((await out)[0]!.text).toBe('lonely');
  });

  it('flushes as soon as a batch reaches max items, without waiting', async () => {
    const { batcher, batches, occupy } = harness({ maxInFlight: 2 });
    occupy();
    void batcher.submit(['a', 'b', 'c']);
    expect(batches).toHaveLength(0); // a batch is running and this one is not full: it waits for company
    const out = batcher.submit(['d']);
    expect(batches).toEqual([['a', 'b', 'c', 'd']]);
    expect((await out).map((r) => r.text)).toEqual(['d']);
  });

  it('flushes when the padded token budget is reached', async () => {
    const { batcher, batches, occupy } = harness({ maxTokens: 20, maxInFlight: 2 });
    occupy();
    void batcher.submit(['x'.repeat(10)]);
    expect(batches).toHaveLength(0); // 1 x 10 tokens: under budget, waits
    void batcher.submit(['y'.repeat(10)]);
    expect(batches).toEqual([['x'.repeat(10), 'y'.repeat(10)]]); // 2 x 10 = 20: due now
  });

  it('splits by token budget: a batch never exceeds it', async () => {
    const { batcher, batches, occupy } = harness({ maxTokens: 20, maxItems: 10, maxInFlight: 2 });
    occupy();
    await Promise.all([batcher.submit(['a'.repeat(8), 'b'.repeat(8), 'c'.repeat(8)]), vi.advanceTimersByTimeAsync(50)]);
    for (const b of batches) expect(b.length * Math.max(...b.map((t) => t.length))).toBeLessThanOrEqual(20);
    expect(batches.flat().sort()).toEqual(['a'.repeat(8), 'b'.repeat(8), 'c'.repeat(8)]);
    expect(batches.length).toBeGreaterThan(1);
  });

  it('flushes a partial batch once the oldest item has waited max_wait_ms', async () => {
    const { batcher, batches, occupy } = harness({ maxInFlight: 2 });
    occupy();
    const out = batcher.submit(['a']);
    await vi.advanceTimersByTimeAsync(5);
    void batcher.submit(['b']);
    await vi.advanceTimersByTimeAsync(4);
    expect(batches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1); // 10 ms after 'a'
    expect(batches).toEqual([['a', 'b']]);
    expect((await out)[0]!.text).toBe('a');
  });

  it('waits for a free runner: batches grow while the pool is busy', async () => {
    const { batcher, batches, occupy, free } = harness({ maxInFlight: 1, maxItems: 100 });
    occupy();
    const outs = ['a', 'b', 'c'].map((t) => batcher.submit([t]));
    await vi.advanceTimersByTimeAsync(50); // well past max_wait_ms, but no slot is free
    expect(batches).toHaveLength(0);
    free();
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect((await Promise.all(outs)).map((r) => r[0]!.text)).toEqual(['a', 'b', 'c']);
  });

  it('classifies identical texts in flight once and gives every caller its result', async () => {
    const { batcher, batches } = harness({ cacheSize: 0 });
    const first = batcher.submit(['same', 'other']);
    const second = batcher.submit(['same']);
    const third = batcher.submit(['other', 'same', 'same']);
    await vi.advanceTimersByTimeAsync(10);
    expect(batches).toEqual([['same', 'other']]);
    expect((await first).map((r) => r.text)).toEqual(['same', 'other']);
    expect((await second).map((r) => r.text)).toEqual(['same']);
    expect((await third).map((r) => r.text)).toEqual(['other', 'same', 'same']);
    expect(batcher.stats().dedupHits).toBe(4);
  });

  it('answers repeats from the cache and reports the hit ratio', async () => {
    const { batcher, batches } = harness();
    await Promise.all([batcher.submit(['gg', 'wp']), vi.advanceTimersByTimeAsync(10)]);
    const again = await batcher.submit(['gg', 'wp', 'gg']);
    expect(again.map((r) => r.text)).toEqual(['gg', 'wp', 'gg']);
    expect(batches).toHaveLength(1);
    expect(batcher.stats().cacheHitRatio).toBeCloseTo(3 / 5);
  });

  it('orders results across many concurrent callers with a larger queue', async () => {
    const { batcher, batches } = harness({ maxItems: 3, maxQueue: 1000 });
    const inputs = Array.from({ length: 20 }, (_, c) => Array.from({ length: 5 }, (_, i) => `c${c}-${i}${'!'.repeat((c + i) % 4)}`));
    const outs = inputs.map((texts) => batcher.submit(texts));
    await vi.advanceTimersByTimeAsync(500);
    const results = await Promise.all(outs);
    results.forEach((r, c) => expect(r.map((e) => e.text)).toEqual(inputs[c]));
    expect(batches.every((b) => b.length <= 3)).toBe(true);
  });

  it('sheds load at the queue bound with 503 overloaded and Retry-After, enqueuing nothing of the refused call', async () => {
    const { batcher, batches, holdRunner, release } = harness({ maxQueue: 8 });
    holdRunner();
    const running = batcher.submit(['r1', 'r2', 'r3', 'r4']); // dispatched, occupies the only slot
    const queued = batcher.submit(['q1', 'q2', 'q3', 'q4', 'q5', 'q6']); // 6 of 8 queue places
    const refused = batcher.submit(['n1', 'n2', 'n3']); // 6 + 3 > 8: refused whole
    await expect(refused).rejects.toBeInstanceOf(AppError);
    await refused.catch((err: unknown) => {
      if (!(err instanceof AppError)) throw err;
      expect(err.status).toBe(503);
      expect(err.code).toBe('overloaded');
      expect(err.headers['Retry-After']).toBe('1');
    });
    expect(batcher.stats().shed).toBe(3);
    // A repeat of queued work joins it instead of needing queue room.
    const joined = batcher.submit(['q1']);
    await release();
    await vi.advanceTimersByTimeAsync(20);
    await release();
    expect((await running).length).toBe(4);
    expect((await queued).map((r) => r.text)).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'q6']);
    expect((await joined)[0]!.text).toBe('q1');
    expect(batches.flat()).not.toContain('n1');
    // With the queue drained, new work is accepted again.
    const later = batcher.submit(['n1']);
    await vi.advanceTimersByTimeAsync(20);
    await release();
    expect((await later)[0]!.text).toBe('n1');
  });

  it('fails only the callers of a failed batch, and does not cache failures', async () => {
    let fail = true;
    const batcher = new MicroBatcher<Echo>(
      async (texts) => {
        if (fail) throw new Error('inference failed');
        return texts.map((text) => ({ text }));
      },
      { maxItems: 2, maxTokens: 1000, maxWaitMs: 1, maxQueue: 10, maxInFlight: 1, cacheSize: 10, estimateTokens: () => 1 },
    );
    await expect(batcher.submit(['a', 'b'])).rejects.toThrow('inference failed');
    fail = false;
    const ok = batcher.submit(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect((await ok)[0]!.text).toBe('a');
  });
});

describe('MicroBatcher admission by expected wait', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  const refusal = async (p: Promise<unknown>): Promise<AppError> => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  };

  it('refuses a call whose expected wait passes the deadline, with 503 overloaded and a Retry-After of when it would fit', async () => {
    const { batcher, holdRunner, release } = harness({ maxQueue: 1000, priorItemMs: 1000, admissionDeadlineMs: 2000 });
    holdRunner();
    const running = batcher.submit(['r1']); // 1 text ahead of everything else from now on
    const fits = batcher.submit(['f1']); // (1 ahead + 1) x 1 s = 2 s: within the deadline
    const late = refusal(batcher.submit(['l1', 'l2', 'l3'])); // (2 + 3) x 1 s = 5 s: 3 s too late
    const err = await late;
    expect(err.status).toBe(503);
    expect(err.code).toBe('overloaded');
    expect(err.headers['Retry-After']).toBe('3');
    const stats = batcher.stats();
    expect(stats.shedLate).toBe(3);
    expect(stats.shed).toBe(3);
    expect(stats.queued).toBe(1); // nothing of the refused call was enqueued
    expect(stats.expectedWaitMs).toBe(3000);
    // Repeats of admitted work and cache hits cost nothing and are not refused.
    const joined = batcher.submit(['f1']);
    await release();
    await vi.advanceTimersByTimeAsync(20);
    await release();
    expect((await running)[0]!.text).toBe('r1');
    expect((await fits)[0]!.text).toBe('f1');
    expect((await joined)[0]!.text).toBe('f1');
  });

  it('always admits a call with nothing ahead of it, however long it will take', async () => {
    const { batcher, batches } = harness({ maxQueue: 1000, maxItems: 100, priorItemMs: 1000, admissionDeadlineMs: 10 });
    const out = await Promise.all([batcher.submit(['a', 'b', 'c', 'd', 'e']), vi.advanceTimersByTimeAsync(20)]);
    expect(out[0].map((r) => r.text)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(batches).toEqual([['a', 'b', 'c', 'd', 'e']]);
    expect(batcher.stats().shedLate).toBe(0);
  });

  it('measures the service rate from finished batches: it moves towards their cost, a lone text much less than a full batch', async () => {
    const { batcher, holdRunner, release } = harness({ maxItems: 4, maxQueue: 1000, priorItemMs: 10, admissionDeadlineMs: 50 });
    expect(batcher.stats().serviceRate).toBeCloseTo(100); // the prior: 10 ms a text on one slot
    const runBatch = async (texts: string[], ms: number) => {
      holdRunner();
      const out = batcher.submit(texts);
      await vi.advanceTimersByTimeAsync(ms);
      await release();
      await out;
    };
    await runBatch(['a', 'b', 'c', 'd'], 8); // 2 ms a text
    const afterFull = batcher.stats().serviceRate;
    expect(afterFull).toBeGreaterThan(100);
    await runBatch(['e'], 10); // a lone text's 10 ms is mostly per-batch overhead
    const afterLone = batcher.stats().serviceRate;
    expect(afterLone).toBeLessThan(afterFull);
    expect(afterFull - afterLone).toBeLessThan((afterFull - 100) / 2);
    for (let i = 0; i < 10; i++) await runBatch([`f${i}a`, `f${i}b`, `f${i}c`, `f${i}d`], 8);
    expect(batcher.stats().serviceRate).toBeGreaterThan(300); // converging on 500/s
    // The measured rate decides: 8 texts behind 4 running, at under 3.5 ms each, fit a 50 ms deadline that
    // the 10 ms prior would have refused them.
    holdRunner();
    const ahead = batcher.submit(['w', 'x', 'y', 'z']);
    const admitted = batcher.submit(Array.from({ length: 8 }, (_, i) => `t${i}`));
    await release();
    await vi.advanceTimersByTimeAsync(50);
    expect(await admitted).toHaveLength(8);
    await ahead;
    expect(batcher.stats().shedLate).toBe(0);
  });

  it('precheck refuses, without any work, exactly when a one-text call would be refused', async () => {
    const { batcher, holdRunner, release } = harness({ maxQueue: 1000, priorItemMs: 1000, admissionDeadlineMs: 2000 });
    expect(() => batcher.precheck()).not.toThrow(); // nothing ahead: always admitted
    holdRunner();
    const running = batcher.submit(['r1']);
    expect(() => batcher.precheck()).not.toThrow(); // (1 + 1) x 1 s = 2 s
    const queued = batcher.submit(['q1']);
    let err: unknown = null;
    try {
      batcher.precheck(); // (2 + 1) x 1 s = 3 s
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('overloaded');
    expect((err as AppError).headers['Retry-After']).toBe('1');
    await expect(batcher.submit(['one more'])).rejects.toMatchObject({ code: 'overloaded' });
    expect(batcher.stats().shedEarly).toBe(1);
    await release();
    await vi.advanceTimersByTimeAsync(20);
    await release();
    await Promise.all([running, queued]);
    expect(() => batcher.precheck()).not.toThrow();
  });

  it('without a deadline only the queue bound applies', async () => {
    const { batcher, holdRunner, release } = harness({ maxQueue: 1000, priorItemMs: 1000 });
    holdRunner();
    const outs = [batcher.submit(['a']), batcher.submit(['b', 'c', 'd', 'e', 'f', 'g'])];
    await release();
    await vi.advanceTimersByTimeAsync(20);
    await release();
    expect((await Promise.all(outs)).flat()).toHaveLength(7);
    expect(batcher.stats().shed).toBe(0);
  });
});

describe('MicroBatcher close', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('answers every admitted text before it resolves, and refuses new calls with 503 draining', async () => {
    const { batcher, holdRunner, release } = harness({ maxQueue: 100 });
    holdRunner();
    const running = batcher.submit(['r1', 'r2']);
    const queued = batcher.submit(['q1', 'q2', 'q3']);
    let closed = false;
    const closing = batcher.close().then(() => void (closed = true));
    const refused = await batcher.submit(['new']).then(
      () => null,
      (e: unknown) => e as AppError,
    );
    expect(refused?.status).toBe(503);
    expect(refused?.code).toBe('draining');
    expect(refused?.headers['Retry-After']).toBe('1');
    await vi.advanceTimersByTimeAsync(100);
    expect(closed).toBe(false); // the running batch is held: close waits for it and for the queue behind it
    await release();
    await vi.advanceTimersByTimeAsync(0);
    expect((await running).map((r) => r.text)).toEqual(['r1', 'r2']);
    expect((await queued).map((r) => r.text)).toEqual(['q1', 'q2', 'q3']);
    await closing;
    expect(closed).toBe(true);
  });

  it('past its timeout refuses what is still queued with 503 draining, and still waits for running batches', async () => {
    const { batcher, batches, holdRunner, release } = harness({ maxQueue: 100 });
    holdRunner();
    const running = batcher.submit(['r1']);
    const queued = batcher.submit(['q1']).then(
      () => null,
      (e: unknown) => e as AppError,
    );
    let closed = false;
    const closing = batcher.close(50).then(() => void (closed = true));
    await vi.advanceTimersByTimeAsync(50);
    const err = await queued;
    expect(err?.status).toBe(503);
    expect(err?.code).toBe('draining');
    expect(closed).toBe(false);
    await release();
    expect((await running)[0]!.text).toBe('r1');
    await closing;
    expect(batches.flat()).not.toContain('q1');
  });

  it('resolves at once when nothing is queued or running', async () => {
    const { batcher } = harness();
    await batcher.close(0);
    await expect(batcher.submit(['a'])).rejects.toMatchObject({ code: 'draining' });
  });
});
