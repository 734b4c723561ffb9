// The batched writer between the hub and the store: the hub hands over every classified message and
// never waits on the database. Messages and their 1-minute bucket increments are buffered and written
// as one batch every `flushMs` or `maxDocs` documents, whichever comes first.
//
// Failure policy:
// - a batch whose write throws goes whole to the DiskSpool, and so does every later batch while the
//   spool is not empty: nothing overtakes a spooled batch, so the store sees batches in record order;
// - every `retryMs` the spool is replayed oldest first; a batch is acked only after both writes
//   succeeded, so it may be written twice (a write that landed but whose answer was lost), which the
//   store makes harmless: message ids are `_id`s and bucket increments are keyed by batch id;
// - the spool is bounded (`maxBytes`). When it is full, new batches are rejected and counted in
//   `dropped` (messages); `overflow` is true until the spool takes a batch again, each episode logs one
//   error and calls `onOverflow` once. Dropping beats blocking: the hub's live fan-out must not stall
//   behind a dead database, and memory must stay bounded.
// Bucket counts are not decremented by `remove`: moderation hides a message, it does not rewrite stats.
import { ulid } from 'ulid';
import type { Logger } from '../observability/log.js';
import { BUCKET_MS, type BucketIncrement, type BucketStore, type MessageStore, type StoredMessage } from './ports.js';
import type { DiskSpool, Removal, WriteBatch } from './spool.js';

export interface StoreWriterOptions {
  messages: MessageStore;
  buckets: BucketStore;
  spool: DiskSpool;
  /** Longest time a recorded message waits in memory before its batch is written. Default 250. */
  flushMs?: number;
  /** Buffered documents (messages and removed ids) that trigger a flush at once. Default 500. */
  maxDocs?: number;
  /** Pause between spool replay attempts while the store fails. Default 1000. */
  retryMs?: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Called once at the start of each overflow episode (the spool is full and batches are dropped). */
  onOverflow?: (info: { dropped: number; spooledBytes: number }) => void;
}

export interface StoreWriterState {
  /** Documents recorded but not yet written or spooled. */
  pending: number;
  spooledBatches: number;
  spooledBytes: number;
  /** Messages lost to a full (or failing) spool since start. */
  dropped: number;
  /** False from a failed store write until the next successful one. */
  storeHealthy: boolean;
  overflow: boolean;
  /** The last store (or spool) error; null once the store is healthy again. */
  lastError: string | null;
}

/** Upper bounds of the batch-size histogram; the last bucket takes everything above. */
const SIZE_BOUNDS = [1, 10, 50, 100, 250, 500, 1000, Infinity] as const;

export interface BatchSizeStats {
  /** Batches written to the store (replays included), and their message counts. */
  count: number;
  last: number;
  max: number;
  mean: number;
  /** Batches per size bucket: `count` is how many had at most `le` messages (and more than the previous `le`). */
  histogram: Array<{ le: number; count: number }>;
}

const docsOf = (batch: WriteBatch): number => batch.messages.length + (batch.removals ?? []).reduce((n, r) => n + r.ids.length, 0);

export class StoreWriter {
  /** Messages written to the store. */
  written = 0;
  /** Batches written to the store. */
  batches = 0;

  private readonly messages: MessageStore;
  private readonly buckets: BucketStore;
  private readonly spool: DiskSpool;
  private readonly flushMs: number;
  private readonly maxDocs: number;
  private readonly retryMs: number;
  private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  private readonly onOverflow: StoreWriterOptions['onOverflow'];

  private buffer: StoredMessage[] = [];
  private increments = new Map<string, BucketIncrement>();
  private removals: Removal[] = [];
  private bufferedDocs = 0;
  /** Documents of batches taken from the buffer but not yet written or spooled. */
  private queuedDocs = 0;

  private dropped = 0;
  private storeHealthy = true;
  private overflow = false;
  private lastError: string | null = null;
  private sizes = { sum: 0, last: 0, max: 0, counts: SIZE_BOUNDS.map(() => 0) };

  private flushTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** A replay step is queued or its timer set: at most one replay loop runs, however often batches fail. */
  private replayScheduled = false;
  private closed = false;
  /** Commits and replay steps run one at a time, in order: what keeps batches ordered. */
  private chain: Promise<void> = Promise.resolve();

  constructor(options: StoreWriterOptions) {
    this.messages = options.messages;
    this.buckets = options.buckets;
    this.spool = options.spool;
    this.flushMs = options.flushMs ?? 250;
    this.maxDocs = options.maxDocs ?? 500;
    this.retryMs = options.retryMs ?? 1000;
    this.log = options.log;
    this.onOverflow = options.onOverflow;
    // A spool left by a previous process is replayed before anything new reaches the store.
    if (this.spool.size > 0) this.scheduleReplay(0);
  }

  /** Buffers a message and counts it into its channel's 1-minute bucket. */
  record(message: StoredMessage): void {
    this.assertOpen();
    this.buffer.push(message);
    const start = Math.floor(message.ts / BUCKET_MS) * BUCKET_MS;
    const key = `${message.channel}|${start}`;
    let inc = this.increments.get(key);
    if (!inc) this.increments.set(key, (inc = { channel: message.channel, start, counts: {}, polaritySum: 0 }));
    inc.counts[message.label] = (inc.counts[message.label] ?? 0) + 1;
    inc.polaritySum += message.polarity;
    this.added(1);
  }

  /** Buffers a moderation removal; it is applied after the inserts recorded before it. */
  remove(channel: string, ids: readonly string[]): void {
    this.assertOpen();
    if (ids.length === 0) return;
    this.removals.push({ channel, ids: [...ids] });
    this.added(ids.length);
  }

  /** Writes (or spools) what is buffered; resolves once that and everything queued before it is done. */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.bufferedDocs === 0) return this.chain;
    const batch: WriteBatch = { id: ulid(), messages: this.buffer, increments: [...this.increments.values()] };
    if (this.removals.length > 0) batch.removals = this.removals;
    this.buffer = [];
    this.increments = new Map();
    this.removals = [];
    this.queuedDocs += this.bufferedDocs;
    this.bufferedDocs = 0;
    return this.enqueue(() => this.commit(batch));
  }

  state(): StoreWriterState {
    return {
      pending: this.bufferedDocs + this.queuedDocs,
      spooledBatches: this.spool.size,
      spooledBytes: this.spool.bytes,
      dropped: this.dropped,
      storeHealthy: this.storeHealthy,
      overflow: this.overflow,
      lastError: this.lastError,
    };
  }

  get batchSizes(): BatchSizeStats {
    const { sum, last, max, counts } = this.sizes;
    return {
      count: this.batches,
      last,
      max,
      mean: this.batches === 0 ? 0 : sum / this.batches,
      histogram: SIZE_BOUNDS.map((le, i) => ({ le, count: counts[i]! })),
    };
  }

  /**
   * Flushes what is pending with one write attempt (to the spool if that fails or the spool is not
   * empty), then fsyncs and closes the spool. Replaying the spool is left to the next process.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.flush();
    await this.chain;
    await this.spool.close();
  }

  private added(docs: number): void {
    this.bufferedDocs += docs;
    if (this.bufferedDocs >= this.maxDocs) void this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flush(), this.flushMs);
      this.flushTimer.unref();
    }
  }

  private async commit(batch: WriteBatch): Promise<void> {
    const docs = docsOf(batch);
    try {
      if (this.spool.size === 0) {
        try {
          await this.write(batch);
          return;
        } catch (err) {
          this.failed(err);
        }
      }
      await this.toSpool(batch);
    } finally {
      this.queuedDocs -= docs;
    }
  }

  /** Replays the oldest spooled batch; the next step queues behind batches committed meanwhile. */
  private async replayStep(): Promise<void> {
    this.replayScheduled = false;
    if (this.closed) return;
    let batch: WriteBatch | null;
    try {
      batch = await this.spool.peek();
      if (batch === null) return;
      await this.write(batch);
    } catch (err) {
      this.failed(err);
      this.scheduleReplay(this.retryMs);
      return;
    }
    await this.spool.ack();
    if (this.spool.size === 0) {
      this.log.info({ written: this.written }, 'store writer: spool drained; writing directly again');
      this.endOverflow();
    } else this.scheduleReplay(0);
  }

  private async write(batch: WriteBatch): Promise<void> {
    if (batch.messages.length > 0) await this.messages.insertMany(batch.messages);
    if (batch.increments.length > 0) await this.buckets.apply(batch.id, batch.increments);
    for (const r of batch.removals ?? []) await this.messages.remove(r.channel, r.ids);
    if (!this.storeHealthy) this.log.info('store writer: store writes succeed again');
    this.storeHealthy = true;
    this.lastError = null;
    this.written += batch.messages.length;
    this.batches += 1;
    const n = batch.messages.length;
    this.sizes.sum += n;
    this.sizes.last = n;
    this.sizes.max = Math.max(this.sizes.max, n);
    this.sizes.counts[SIZE_BOUNDS.findIndex((le) => n <= le)]! += 1;
  }

  private async toSpool(batch: WriteBatch): Promise<void> {
    let accepted: boolean;
    try {
      accepted = await this.spool.append(batch);
    } catch (err) {
      this.lastError = `spool: ${errorText(err)}`;
      accepted = false;
    }
    if (accepted) {
      this.endOverflow();
      this.scheduleReplay(this.retryMs);
      return;
    }
    this.dropped += batch.messages.length;
    if (this.overflow) return;
    this.overflow = true;
    const info = { dropped: this.dropped, spooledBytes: this.spool.bytes };
    this.log.error({ ...info, spooledBatches: this.spool.size, lastError: this.lastError }, 'store writer: spool full; dropping new batches until it drains');
    try {
      this.onOverflow?.(info);
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'store writer: onOverflow callback threw');
    }
  }

  private endOverflow(): void {
    if (!this.overflow) return;
    this.overflow = false;
    this.log.info({ dropped: this.dropped }, 'store writer: spool accepts batches again');
  }

  private failed(err: unknown): void {
    if (this.storeHealthy) this.log.warn({ err: errorText(err) }, 'store writer: store write failed; spooling batches to disk');
    this.storeHealthy = false;
    this.lastError = errorText(err);
  }

  /** 0 queues the next step at once, behind what is already queued, so new commits interleave with a drain. */
  private scheduleReplay(delayMs: number): void {
    if (this.replayScheduled || this.closed) return;
    this.replayScheduled = true;
    if (delayMs === 0) {
      void this.enqueue(() => this.replayStep());
      return;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.enqueue(() => this.replayStep());
    }, delayMs);
    this.retryTimer.unref();
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(task).catch((err: unknown) => {
      // Only the spool's own file operations get here (a failed ack or peek read): retry later.
      this.lastError = `spool: ${errorText(err)}`;
      this.log.error({ err: errorText(err) }, 'store writer: spool operation failed');
      this.scheduleReplay(this.retryMs);
    });
    return this.chain;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store writer is closed');
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
