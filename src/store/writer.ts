// The batched writer between the hub and the store: the hub hands over every classified message and
// never waits on the database. Messages and their 1-minute bucket increments are buffered and written
// as one batch every `flushMs` or `maxDocs` documents, whichever comes first.
//
// Failure policy:
// - a batch whose write throws goes whole to the DiskSpool, and so does every later batch while the
//   spool is not empty: nothing overtakes a spooled batch, so the store sees batches in record order;
// - every `retryMs` the spool is replayed oldest first; a batch is acked only after its writes
//   succeeded, so it may be written twice (a write that landed but whose answer was lost), which the
//   store makes harmless: message ids are `_id`s and bucket increments are keyed by batch id (its
//   writer stream and seq, see parseBatchId);
// - a slow store must not cost memory: once the batches queued behind the write under way pass
//   `maxQueuedDocs` documents, they are spilled to the spool, the one under way first (whatever its
//   outcome, the spool holds it in its place; if it lands after all its replay is skipped), and later
//   batches follow them there until the queue is idle again;
// - a batch the store refuses for good (PermanentWriteError: a document it will never take) is not
//   retried: it goes to the spool's dead-letter file, counted in `deadLettered`, with one error log
//   line, and the batches behind it go on. The rest of such a batch (other messages, its counts) is
//   still written first: one bad document does not cost its neighbours;
// - the spool is bounded (`maxBytes`). When it is full, new batches are rejected and counted in
//   `dropped` (messages); `overflow` is true until the spool takes a batch again, each episode logs one
//   error and calls `onOverflow` once. Dropping beats blocking: the hub's live fan-out must not stall
//   behind a dead database, and memory must stay bounded.
// Bucket counts are not decremented by `remove`: moderation hides a message, it does not rewrite stats.
import { ulid } from '../ids.js';
import type { Logger } from '../observability/log.js';
import { PermanentWriteError } from '../errors.js';
import { BUCKET_MS, type BucketIncrement, type BucketStore, type MessageStore } from './stores.js';
import { type StoredMessage } from '../vocabulary.js';
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
  /**
   * Documents that may wait in memory behind a write under way before they are spilled to the spool.
   * Default 10 x maxDocs.
   */
  maxQueuedDocs?: number;
  /** How long close() waits for a write under way before spooling what is left. Default 5000. */
  closeWaitMs?: number;
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
  /** Batches the store refused for good, set aside in the dead-letter file, since start. */
  deadLettered: number;
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
  private readonly maxQueuedDocs: number;
  private readonly closeWaitMs: number;
  private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  private readonly onOverflow: StoreWriterOptions['onOverflow'];
  /** This writer's batch stream: batch ids are `<stream>:<seq>`, seq counting up in commit order. */
  private readonly stream = ulid();
  private seq = 0;

  private buffer: StoredMessage[] = [];
  private increments = new Map<string, BucketIncrement>();
  private removals: Removal[] = [];
  private bufferedDocs = 0;
  /** Batches taken from the buffer that wait for their turn on the chain, oldest first. */
  private waiting: WriteBatch[] = [];
  /** The batch whose turn is under way (until its direct write settles or it is handed to the spool). */
  private current: WriteBatch | null = null;
  /** Documents of batches in `waiting` or under way, not yet written or spooled. */
  private queuedDocs = 0;
  private readonly released = new WeakSet<WriteBatch>();
  /** Batches a spill appended to the spool ahead of their turn. */
  private readonly spilledEarly = new WeakSet<WriteBatch>();
  /** Ids of spilled batches whose direct write landed after all: their replay is skipped. */
  private readonly landed = new Set<string>();
  /** True from a spill until the chain is idle: meanwhile new batches go straight to the spool, behind the spilled ones. */
  private spilling = false;
  /** Spill appends; a turn waits for them before it looks at the spool's size. */
  private spills: Promise<void> = Promise.resolve();
  /** Tasks queued or running on the chain. */
  private tasks = 0;

  private dropped = 0;
  private deadLettered = 0;
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
    this.maxQueuedDocs = options.maxQueuedDocs ?? 10 * this.maxDocs;
    this.closeWaitMs = options.closeWaitMs ?? 5000;
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
    if (this.bufferedDocs === 0) return this.settled();
    this.seq += 1;
    const batch: WriteBatch = { id: `${this.stream}:${this.seq}`, messages: this.buffer, increments: [...this.increments.values()] };
    if (this.removals.length > 0) batch.removals = this.removals;
    this.buffer = [];
    this.increments = new Map();
    this.removals = [];
    this.bufferedDocs = 0;
    this.queuedDocs += docsOf(batch);
    if (this.spilling) return this.spill([batch]);
    this.waiting.push(batch);
    if (this.tasks > 0 && this.queuedDocs > this.maxQueuedDocs) return this.spill([]);
    return this.enqueue(() => this.commitNext());
  }

  state(): StoreWriterState {
    return {
      pending: this.bufferedDocs + this.queuedDocs,
      spooledBatches: this.spool.size,
      spooledBytes: this.spool.bytes,
      dropped: this.dropped,
      deadLettered: this.deadLettered,
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
   * empty), then fsyncs and closes the spool. Replaying the spool is left to the next process. A write
   * still under way after `closeWaitMs` is not waited for: it and everything behind it are spooled.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.flush().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.closeWaitMs))),
    ]);
    clearTimeout(timer);
    if (!done) {
      this.log.warn(
        { waitedMs: this.closeWaitMs, pending: this.state().pending },
        'store writer: a store write is still under way at close; spooling the rest',
      );
      await this.spill([]);
    }
    await this.spills;
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

  /** Resolves once the chain and every spill append issued so far are done. */
  private async settled(): Promise<void> {
    await this.chain;
    await this.spills;
  }

  /**
   * Moves the batch under way (unless it is being appended already), every waiting batch and `extra` to
   * the spool, in that order, without waiting for the chain. Appends are queued in call order at once,
   * so they land behind anything spooled before and ahead of anything spooled later.
   */
  private spill(extra: WriteBatch[]): Promise<void> {
    const batches = [...(this.current ? [this.current] : []), ...this.waiting, ...extra];
    this.current = null;
    this.waiting = [];
    if (!this.spilling)
      this.log.warn({ batches: batches.length }, 'store writer: the store is slow; spooling batches instead of queueing them');
    this.spilling = true;
    const appends = batches.map((batch) => {
      this.spilledEarly.add(batch);
      this.release(batch);
      return this.toSpool(batch);
    });
    this.spills = Promise.all([this.spills, ...appends]).then(() => undefined);
    return this.spills;
  }

  /** Counts a batch out of `pending`, once, however it left. */
  private release(batch: WriteBatch): void {
    if (this.released.has(batch)) return;
    this.released.add(batch);
    this.queuedDocs -= docsOf(batch);
  }

  /** The oldest waiting batch's turn (none left when a spill took them). */
  private async commitNext(): Promise<void> {
    const batch = this.waiting.shift();
    if (!batch) return;
    this.current = batch;
    try {
      await this.spills; // spill appends still under way mean a spool that is not empty
      if (this.spilledEarly.has(batch)) return;
      if (this.spool.size === 0) {
        let error: unknown = null;
        try {
          await this.write(batch);
        } catch (err) {
          error = err ?? new Error('store write failed');
        }
        this.current = null;
        if (this.spilledEarly.has(batch)) {
          // Spilled while under way: the spool holds it in its place; skip its replay if it landed.
          if (error === null) this.landed.add(batch.id);
          else if (!(error instanceof PermanentWriteError)) this.failed(error);
          return;
        }
        if (error === null) return;
        if (error instanceof PermanentWriteError) {
          await this.setAside(batch, error);
          return;
        }
        this.failed(error);
      }
      this.current = null; // an append like any other from here: a spill must not add it twice
      await this.toSpool(batch);
    } finally {
      if (this.current === batch) this.current = null;
      this.release(batch);
    }
  }

  /** `closed` as read after an await: close() may have run meanwhile, which TypeScript's narrowing does not see. */
  private isClosed(): boolean {
    return this.closed;
  }

  /** Replays the oldest spooled batch; the next step queues behind batches committed meanwhile. */
  private async replayStep(): Promise<void> {
    this.replayScheduled = false;
    if (this.closed) return;
    const batch = await this.spool.peek();
    if (batch === null) return;
    if (!this.landed.delete(batch.id)) {
      try {
        await this.write(batch);
      } catch (err) {
        if (!(err instanceof PermanentWriteError)) {
          this.failed(err);
          this.scheduleReplay(this.retryMs);
          return;
        }
        await this.deadLetter(batch, err);
      }
    }
    // Closed meanwhile: the spool is left as it is, and the next process replays this batch (harmlessly).
    if (this.isClosed()) return;
    await this.spool.ack();
    if (this.spool.size === 0) {
      this.log.info({ written: this.written }, 'store writer: spool drained; writing directly again');
      this.endOverflow();
    } else this.scheduleReplay(0);
  }

  /**
   * Inserts, bucket increments, removals. A part the store refuses for good does not stop the parts
   * after it; the refusal is thrown once they are done. Any other failure is thrown at once.
   */
  private async write(batch: WriteBatch): Promise<void> {
    // Assigned inside part(), which TypeScript's narrowing does not follow.
    let refused = null as PermanentWriteError | null;
    const part = async (op: () => Promise<void>): Promise<void> => {
      try {
        await op();
      } catch (err) {
        if (!(err instanceof PermanentWriteError)) throw err;
        refused ??= err;
      }
    };
    if (batch.messages.length > 0) await part(() => this.messages.insertMany(batch.messages));
    if (batch.increments.length > 0) await part(() => this.buckets.apply(batch.id, batch.increments));
    for (const r of batch.removals ?? []) await part(() => this.messages.remove(r.channel, r.ids));
    if (!this.storeHealthy) this.log.info('store writer: store writes succeed again');
    this.storeHealthy = true;
    if (refused !== null) {
      this.lastError = errorText(refused);
      throw refused;
    }
    this.lastError = null;
    this.written += batch.messages.length;
    this.batches += 1;
    const n = batch.messages.length;
    this.sizes.sum += n;
    this.sizes.last = n;
    this.sizes.max = Math.max(this.sizes.max, n);
    this.sizes.counts[SIZE_BOUNDS.findIndex((le) => n <= le)]! += 1;
  }

  /** A batch refused for good on its first write: to the dead-letter file, or (disk failing) the spool. */
  private async setAside(batch: WriteBatch, err: PermanentWriteError): Promise<void> {
    try {
      await this.deadLetter(batch, err);
    } catch (spoolErr) {
      this.lastError = `spool: ${errorText(spoolErr)}`;
      await this.toSpool(batch);
    }
  }

  /** Throws only when the dead-letter file cannot be written (the batch then stays where it is). */
  private async deadLetter(batch: WriteBatch, err: PermanentWriteError): Promise<void> {
    const kept = await this.spool.deadLetter(batch, errorText(err));
    this.deadLettered += 1;
    if (!kept) this.dropped += batch.messages.length;
    const info = { batch: batch.id, messages: batch.messages.length, err: errorText(err) };
    if (kept) this.log.error(info, 'store writer: the store refuses a batch for good; moved it to the dead-letter file');
    else this.log.error(info, 'store writer: the store refuses a batch for good and the dead-letter file is full; dropped it');
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
    this.log.error(
      { ...info, spooledBatches: this.spool.size, lastError: this.lastError },
      'store writer: spool full; dropping new batches until it drains',
    );
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
    this.tasks += 1;
    this.chain = this.chain
      .then(task)
      .catch((err: unknown) => {
        // Only the spool's own file operations get here (a failed ack, peek read or dead-letter write): retry later.
        this.lastError = `spool: ${errorText(err)}`;
        this.log.error({ err: errorText(err) }, 'store writer: spool operation failed');
        this.scheduleReplay(this.retryMs);
      })
      .finally(() => {
        // The queue caught up: batches go through it again (behind any spill appends, see commitNext).
        if (--this.tasks === 0) this.spilling = false;
      });
    return this.chain;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store writer is closed');
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
