// The dynamic micro-batcher: collects texts until a batch is full (items or padded tokens) or the oldest
// has waited maxWaitMs, classifies identical texts once, answers repeats from an LRU cache, and refuses
// work past a bounded queue instead of growing without limit. When no batch is running at all, waiting
// gains nothing (there is no work in progress for company to arrive during), so the queue goes at once.
//
// Admission is bounded by time as well as by count: the queue bound alone let a saturated server hold
// thousands of texts (seconds of work), so every call it admitted was answered too late to matter. A call
// whose expected wait (the work ahead of it plus its own, over the measured service rate) passes the
// admission deadline is refused with a Retry-After of when the backlog would let it in.
import { LRUCache } from 'lru-cache';
import { draining, overloaded, type AppError } from '../errors.js';

export interface BatcherOptions {
  /** Most texts in one batch. */
  maxItems: number;
  /** Most padded tokens in one batch (items x longest item): bounds one inference call's cost. */
  maxTokens: number;
  /** Longest a queued text waits for company before its batch goes anyway. */
  maxWaitMs: number;
  /** Most unique texts waiting; past it submit() rejects with 503 overloaded. */
  maxQueue: number;
  /** Batches running at once (the pool's threads: more would only queue inside Piscina). */
  maxInFlight: number;
  /** Result cache entries (0 disables the cache). */
  cacheSize: number;
  /** Token count estimate for a text, used for the token budget and for grouping by length. */
  estimateTokens: (text: string) => number;
  /** Told of every finished batch: its size, how long its oldest text waited, how long it ran (metrics). */
  onBatch?: (size: number, waitMs: number, runMs: number) => void;
  /**
   * Longest expected wait (ms) a call may be admitted with; past it submit() rejects with 503 overloaded.
   * Absent: only the queue bound applies. A call with nothing ahead of it is always admitted.
   */
  admissionDeadlineMs?: number;
  /**
   * What one text costs one runner slot (ms) until batches have been measured. Pessimistic is safe: it
   * admits less at first, and the work it admits is measured within a few batches.
   */
  priorItemMs?: number;
}

/** Classifies a batch; the result array is aligned with the input. */
export type BatchRunner<R> = (texts: string[]) => Promise<R[]>;

export interface BatcherStats {
  queued: number;
  inFlightBatches: number;
  batches: number;
  items: number;
  cacheHits: number;
  cacheMisses: number;
  cacheHitRatio: number;
  dedupHits: number;
  /** Texts refused, by either bound. */
  shed: number;
  /** Of those, texts refused because their expected wait passed the admission deadline. */
  shedLate: number;
  /** Calls refused by precheck(), before their texts were counted (so not in `shed`). */
  shedEarly: number;
  lastBatchSize: number;
  /** Texts in batches that are running. */
  runningItems: number;
  /** Estimated texts per second through all runner slots together. */
  serviceRate: number;
  /** How long a one-text call submitted now is expected to wait (ms). */
  expectedWaitMs: number;
}

/** Used until the first batches are measured: ms a text costs one slot (the bundled model's, on a laptop core). */
export const DEFAULT_PRIOR_ITEM_MS = 3;
/**
 * How much one full batch moves the estimate; a smaller batch moves it in proportion. Low, because one
 * batch says little: the first of each new shape is slow (onnxruntime plans it), and neighbours on the
 * same cores make run times jump from one batch to the next.
 */
const RATE_SMOOTHING = 0.2;

interface Pending<R> {
  text: string;
  tokens: number;
  enqueuedAt: number;
  waiters: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }>;
}

export class MicroBatcher<R extends object> {
  private readonly queue: Pending<R>[] = [];
  /** Texts queued or running, so a repeat joins the existing work instead of adding more. */
  private readonly inflight = new Map<string, Pending<R>>();
  private readonly cache: LRUCache<string, R> | null;
  private running = 0;
  private runningItems = 0;
  private timer: NodeJS.Timeout | null = null;
  private counters = {
    batches: 0,
    items: 0,
    cacheHits: 0,
    cacheMisses: 0,
    dedupHits: 0,
    shed: 0,
    shedLate: 0,
    shedEarly: 0,
    lastBatchSize: 0,
  };
  /** Smoothed cost of one text on one runner slot (ms): the service rate is maxInFlight / itemMs. */
  private itemMs: number;
  private closing = false;
  private drained: (() => void) | null = null;

  constructor(
    private readonly run: BatchRunner<R>,
    private readonly options: BatcherOptions,
  ) {
    this.cache = options.cacheSize > 0 ? new LRUCache<string, R>({ max: options.cacheSize }) : null;
    this.itemMs = options.priorItemMs ?? DEFAULT_PRIOR_ITEM_MS;
  }

  /**
   * Classifies texts (already normalized: they are the cache keys). All or nothing: if the new work does
   * not fit the queue, nothing is enqueued and the promise rejects with 503 overloaded.
   */
  submit(texts: readonly string[]): Promise<R[]> {
    if (this.closing) return Promise.reject(draining());
    const results = new Array<R | undefined>(texts.length);
    const joins: Array<[index: number, pending: Pending<R>]> = [];
    const fresh = new Map<string, Pending<R>>();
    let hits = 0;
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i] as string;
      const cached = this.cache?.get(text);
      if (cached !== undefined) {
        results[i] = cached;
        hits++;
        continue;
      }
      let pending = this.inflight.get(text) ?? fresh.get(text);
      if (pending) this.counters.dedupHits++;
      else {
        pending = { text, tokens: this.options.estimateTokens(text), enqueuedAt: 0, waiters: [] };
        fresh.set(text, pending);
      }
      joins.push([i, pending]);
    }
    if (this.queue.length + fresh.size > this.options.maxQueue) {
      this.counters.shed += texts.length;
      // When enough of the queue will have gone for this call to fit, at the measured rate.
      const excess = this.queue.length + fresh.size - this.options.maxQueue;
      return Promise.reject(overloaded((excess * this.itemMs) / this.options.maxInFlight / 1000));
    }
    const deadline = this.options.admissionDeadlineMs;
    if (deadline !== undefined && fresh.size > 0 && this.queue.length + this.runningItems > 0) {
      // The call's own texts count up to one round of the pool: past that they are its own processing time,
      // which no amount of waiting shortens (a batch bigger than the deadline would otherwise be admitted
      // only into an idle engine, and its Retry-After could never come true).
      const wait = this.waitMs(Math.min(fresh.size, this.options.maxItems * this.options.maxInFlight));
      if (wait > deadline) {
        this.counters.shed += texts.length;
        this.counters.shedLate += texts.length;
        // When the backlog will have shrunk enough for this call to fit the deadline, at today's rate.
        return Promise.reject(overloaded((wait - deadline) / 1000));
      }
    }
    this.counters.cacheHits += hits;
    this.counters.cacheMisses += texts.length - hits;
    if (joins.length === 0) return Promise.resolve(results as R[]);

    const now = performance.now();
    for (const pending of fresh.values()) {
      pending.enqueuedAt = now;
      this.queue.push(pending);
      this.inflight.set(pending.text, pending);
    }
    const done = Promise.all(
      joins.map(
        ([index, pending]) =>
          new Promise<void>((resolve, reject) => {
            pending.waiters.push({
              resolve: (r) => {
                results[index] = r;
                resolve();
              },
              reject,
            });
          }),
      ),
    ).then(() => results as R[]);
    this.pump();
    return done;
  }

  /**
   * Throws what submit() would for a one-text call, without any of its work: lets a caller refuse before
   * parsing a large request while even the smallest call would be refused.
   */
  precheck(): void {
    if (this.closing) throw draining();
    const deadline = this.options.admissionDeadlineMs;
    let refusal: AppError | null = null;
    if (this.queue.length >= this.options.maxQueue) refusal = overloaded(this.itemMs / this.options.maxInFlight / 1000);
    else if (deadline !== undefined && this.queue.length + this.runningItems > 0 && this.waitMs(1) > deadline) {
      refusal = overloaded((this.waitMs(1) - deadline) / 1000);
    }
    if (refusal === null) return;
    this.counters.shedEarly++;
    throw refusal;
  }

  stats(): BatcherStats {
    const lookups = this.counters.cacheHits + this.counters.cacheMisses;
    return {
      ...this.counters,
      queued: this.queue.length,
      inFlightBatches: this.running,
      runningItems: this.runningItems,
      cacheHitRatio: lookups === 0 ? 0 : this.counters.cacheHits / lookups,
      serviceRate: (this.options.maxInFlight * 1000) / this.itemMs,
      expectedWaitMs: this.waitMs(1),
    };
  }

  /** Expected time (ms) until `own` more texts are answered: everything queued or running goes first. */
  private waitMs(own: number): number {
    return ((this.queue.length + this.runningItems + own) * this.itemMs) / this.options.maxInFlight;
  }

  /**
   * Folds a finished batch into the cost of one text per slot. Weighted by the batch's size: a deep queue
   * (the only time the estimate decides anything) runs full batches, whose per-text cost is lower than a
   * lone text's, so small batches barely move it.
   */
  private measure(size: number, runMs: number): void {
    if (size === 0 || !(runMs > 0)) return;
    const weight = RATE_SMOOTHING * Math.min(1, size / this.options.maxItems);
    this.itemMs += weight * (runMs / size - this.itemMs);
  }

  /** Dispatches every batch that is due while a runner slot is free; otherwise arms a timer for the oldest. */
  private pump(): void {
    while (this.running < this.options.maxInFlight && this.queue.length > 0 && this.isDue()) {
      this.dispatch(this.takeBatch());
    }
    this.arm();
  }

  private isDue(): boolean {
    const { maxItems, maxTokens, maxWaitMs } = this.options;
    if (this.running === 0 || this.closing || this.queue.length >= maxItems) return true;
    let longest = 0;
    for (const p of this.queue) longest = Math.max(longest, p.tokens);
    if (this.queue.length * longest >= maxTokens) return true;
    const oldest = this.queue[0] as Pending<R>;
    return performance.now() - oldest.enqueuedAt >= maxWaitMs;
  }

  private arm(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // A full pool re-pumps when a batch finishes; a timer is only needed while a slot is free.
    if (this.queue.length === 0 || this.running >= this.options.maxInFlight) return;
    const oldest = this.queue[0] as Pending<R>;
    const delay = Math.max(0, this.options.maxWaitMs - (performance.now() - oldest.enqueuedAt));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delay);
  }

  /**
   * The oldest queued text always goes (nothing starves); the rest of the batch is the queued texts closest
   * to it in length, so padding to the batch's longest item wastes little. Only a bounded window of the
   * queue is scanned to keep this O(maxItems).
   */
  private takeBatch(): Pending<R>[] {
    const { maxItems, maxTokens } = this.options;
    if (this.queue.length <= maxItems && this.fitsTokens(this.queue)) return this.queue.splice(0, this.queue.length);
    const anchor = this.queue[0] as Pending<R>;
    const window = this.queue.slice(1, 1 + maxItems * 8);
    window.sort((a, b) => Math.abs(a.tokens - anchor.tokens) - Math.abs(b.tokens - anchor.tokens));
    const batch = [anchor];
    let longest = anchor.tokens;
    for (const candidate of window) {
      if (batch.length >= maxItems) break;
      const nextLongest = Math.max(longest, candidate.tokens);
      if ((batch.length + 1) * nextLongest > maxTokens) continue;
      batch.push(candidate);
      longest = nextLongest;
    }
    const taken = new Set(batch);
    let w = 0;
    for (const p of this.queue) if (!taken.has(p)) this.queue[w++] = p;
    this.queue.length = w;
    return batch;
  }

  private fitsTokens(items: readonly Pending<R>[]): boolean {
    let longest = 0;
    for (const p of items) longest = Math.max(longest, p.tokens);
    return items.length * longest <= this.options.maxTokens;
  }

  private dispatch(batch: Pending<R>[]): void {
    this.running++;
    this.runningItems += batch.length;
    this.counters.batches++;
    this.counters.items += batch.length;
    this.counters.lastBatchSize = batch.length;
    const started = performance.now();
    let oldest = Infinity;
    for (const p of batch) oldest = Math.min(oldest, p.enqueuedAt);
    const settle = () => {
      const runMs = performance.now() - started;
      this.options.onBatch?.(batch.length, Math.max(0, started - oldest), runMs);
      this.running--;
      this.runningItems -= batch.length;
      for (const p of batch) this.inflight.delete(p.text);
      this.pump();
      if (this.closing && this.running === 0 && this.queue.length === 0) this.drained?.();
      return runMs;
    };
    this.run(batch.map((p) => p.text)).then(
      (results) => {
        batch.forEach((p, i) => {
          const result = results[i] as R;
          this.cache?.set(p.text, result);
          for (const w of p.waiters) w.resolve(result);
        });
        this.measure(batch.length, settle());
      },
      (err: unknown) => {
        for (const p of batch) for (const w of p.waiters) w.reject(err);
        settle();
      },
    );
  }

  /**
   * Stops admitting (new calls get 503 draining) and resolves once every admitted text has been answered,
   * so the runner can then be shut without failing anyone. Past `timeoutMs`, what is still queued is
   * refused with 503 draining (a retry goes elsewhere) and the batches already running are waited for.
   */
  async close(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.closing = true;
    if (this.running > 0 || this.queue.length > 0) {
      // Assigned inside the executor, which TypeScript's narrowing does not follow.
      let timer = null as NodeJS.Timeout | null;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        if (Number.isFinite(timeoutMs)) timer = setTimeout(resolve, Math.max(0, timeoutMs));
        // Queued work goes at once: nothing more will arrive to keep it company.
        this.pump();
      });
      if (timer) clearTimeout(timer);
      this.drained = null;
      for (const p of this.queue.splice(0)) {
        this.inflight.delete(p.text);
        for (const w of p.waiters) w.reject(draining());
      }
      if (this.running > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
