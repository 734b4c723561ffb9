// A bounded, append-only, on-disk FIFO of write batches: where the StoreWriter parks batches while the
// store is unreachable, so an outage costs disk rather than data or memory.
//
// Layout of the directory:
// - `spool-<seq>.jsonl`: segments, one JSON line per batch, appended to in order; a segment is rotated
//   once it reaches `segmentBytes` and deleted once every batch in it is acked;
// - `spool.offset`: `{ seq, offset }`, where the oldest unacked batch starts. It is rewritten (atomically,
//   by rename) on every ack, so a clean restart never replays an acked batch. It is fsynced only on
//   close: after a machine crash a few acked batches may come back, which is harmless because replays
//   are idempotent (message ids are `_id`s, bucket increments are keyed by batch id).
//
// Durability: appended lines reach the disk on the next fsync, at most `fsyncMs` later (`fsyncMs: 0`
// fsyncs every append), and on close. A crash can tear the last line; `open` skips it with a warning and
// truncates it away, so later appends start on a clean line.
//
// The bound: `maxBytes` caps the bytes of unacked batches. An append that would cross it returns false
// and writes nothing: what to do then (drop, block, shed load) is the caller's policy, not the spool's.
// Disk use can exceed `bytes` by the acked head of the oldest segment (under one segment).
//
// Dead letters: a batch the store refuses for good (PermanentWriteError) is moved to `dead-letter.jsonl` in
// the same directory, one `{ at, error, batch }` line each, fsynced, so that it stops blocking the batches
// behind it and an operator can still inspect, fix and re-import it. The file is capped at `maxBytes` too.
//
// One process per directory: the spool takes no lock.
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../observability/log.js';
import type { BucketIncrement } from './stores.js';
import type { StoredMessage } from '../vocabulary.js';

/** Moderation removals travel with the batch, applied after its inserts so they keep their order. */
export interface Removal {
  channel: string;
  ids: string[];
}

export interface WriteBatch {
  /** `<stream>:<seq>` (see parseBatchId): what makes `BucketStore.apply` idempotent on replay. */
  id: string;
  messages: StoredMessage[];
  increments: BucketIncrement[];
  removals?: Removal[];
}

export interface DiskSpoolOptions {
  /** Cap on unacked bytes; default 256 MiB. */
  maxBytes?: number;
  /** Longest time an appended batch waits for its fsync; 0 fsyncs every append. Default 1000. */
  fsyncMs?: number;
  /** Segment size at which a new segment starts; default 16 MiB. */
  segmentBytes?: number;
  log?: Pick<Logger, 'warn'>;
}

interface Entry {
  seq: number;
  offset: number;
  length: number;
}

interface Position {
  seq: number;
  offset: number;
}

const OFFSET_FILE = 'spool.offset';
export const DEAD_LETTER_FILE = 'dead-letter.jsonl';
const SEGMENT = /^spool-(\d+)\.jsonl$/;
const NEWLINE = 0x0a;

const segmentName = (seq: number): string => `spool-${String(seq).padStart(12, '0')}.jsonl`;

function isBatch(value: unknown): value is WriteBatch {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === 'string' &&
    Array.isArray(v.messages) &&
    Array.isArray(v.increments) &&
    (v.removals === undefined || Array.isArray(v.removals))
  );
}

function parseBatch(line: Buffer): WriteBatch | null {
  try {
    const value: unknown = JSON.parse(line.toString('utf8'));
    return isBatch(value) ? value : null;
  } catch {
    return null;
  }
}

export class DiskSpool {
  private readonly maxBytes: number;
  private readonly fsyncMs: number;
  private readonly segmentBytes: number;
  private readonly log: Pick<Logger, 'warn'> | undefined;
  /** Unacked batches, oldest at `head`; the array is compacted now and then rather than shifted per ack. */
  private entries: Entry[];
  private head = 0;
  private unackedBytes: number;
  /** Segment files on disk, ascending; the last one is the write segment. */
  private segments: number[];
  private writeSeq: number;
  private writeSize: number;
  private fh: FileHandle | null;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private peeked: WriteBatch | null = null;
  private closed = false;
  /** Bytes in the dead-letter file; null until first needed. */
  private deadBytes: number | null = null;
  /** Every file operation runs in turn: appends, acks and fsyncs never interleave. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    options: DiskSpoolOptions,
    state: { entries: Entry[]; segments: number[]; writeSeq: number; writeSize: number; fh: FileHandle },
  ) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.fsyncMs = options.fsyncMs ?? 1000;
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    this.log = options.log;
    this.entries = state.entries;
    this.unackedBytes = state.entries.reduce((sum, e) => sum + e.length, 0);
    this.segments = state.segments;
    this.writeSeq = state.writeSeq;
    this.writeSize = state.writeSize;
    this.fh = state.fh;
  }

  /** Opens (creating it if need be) the spool in `dir`, with every unacked batch a previous process left. */
  static async open(dir: string, options: DiskSpoolOptions = {}): Promise<DiskSpool> {
    await mkdir(dir, { recursive: true });
    const start = await readPosition(dir, options.log);
    const found = (await readdir(dir))
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);

    const entries: Entry[] = [];
    const segments: number[] = [];
    for (const [i, seq] of found.entries()) {
      const path = join(dir, segmentName(seq));
      if (seq < start.seq) {
        await rm(path, { force: true });
        continue;
      }
      const buf = await readFile(path);
      let pos = seq === start.seq ? Math.min(start.offset, buf.length) : 0;
      const before = entries.length;
      for (let nl = buf.indexOf(NEWLINE, pos); nl !== -1; pos = nl + 1, nl = buf.indexOf(NEWLINE, pos)) {
        if (parseBatch(buf.subarray(pos, nl))) entries.push({ seq, offset: pos, length: nl + 1 - pos });
        else options.log?.warn({ segment: path, offset: pos }, 'spool: skipping an unreadable batch');
      }
      const last = i === found.length - 1;
      if (pos < buf.length) {
        options.log?.warn(
          { segment: path, offset: pos, bytes: buf.length - pos },
          'spool: skipping a torn last line (crash during a write)',
        );
        // Later appends go to the last segment: they must not be glued onto the fragment.
        if (last) await truncate(path, pos);
      }
      if (entries.length === before && !last) await rm(path, { force: true });
      else segments.push(seq);
    }

    let writeSeq = segments.at(-1) ?? start.seq;
    if (entries.length === 0) {
      // Nothing left to replay: a fresh segment past every earlier one, and a read position at its start.
      // Reusing the position's segment would let a stale offset (segments gone, offset file not) skip the
      // first bytes of the batches appended next, should this process crash before its first ack.
      writeSeq = Math.max(writeSeq, start.seq) + 1;
      await writePosition(dir, { seq: writeSeq, offset: 0 }, true);
      for (const seq of segments) await rm(join(dir, segmentName(seq)), { force: true });
      segments.length = 0;
    }
    if (segments.at(-1) !== writeSeq) segments.push(writeSeq);
    const fh = await open(join(dir, segmentName(writeSeq)), 'a');
    const writeSize = (await fh.stat()).size;
    await syncDir(dir);
    return new DiskSpool(dir, options, { entries, segments, writeSeq, writeSize, fh });
  }

  /** Unacked batches. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Bytes of unacked batches: what `maxBytes` bounds. */
  get bytes(): number {
    return this.unackedBytes;
  }

  /** Appends at the tail; false (nothing written) when it would take the spool past `maxBytes`. */
  append(batch: WriteBatch): Promise<boolean> {
    const line = Buffer.from(`${JSON.stringify(batch)}\n`, 'utf8');
    return this.serial(async () => {
      const fh = this.open();
      if (this.unackedBytes + line.length > this.maxBytes) return false;
      let target = fh;
      if (this.writeSize > 0 && this.writeSize + line.length > this.segmentBytes) target = await this.rotate();
      try {
        let written = 0;
        while (written < line.length) written += (await target.write(line, written, line.length - written)).bytesWritten;
      } catch (err) {
        // A partial line (disk full) would corrupt the next one: cut it off, then report the failure.
        await target.truncate(this.writeSize).catch(() => undefined);
        throw err;
      }
      this.entries.push({ seq: this.writeSeq, offset: this.writeSize, length: line.length });
      this.writeSize += line.length;
      this.unackedBytes += line.length;
      this.dirty = true;
      if (this.fsyncMs === 0) await this.sync();
      else this.scheduleSync();
      return true;
    });
  }

  /** The oldest unacked batch, or null when the spool is empty. */
  peek(): Promise<WriteBatch | null> {
    return this.serial(async () => {
      this.open();
      while (this.peeked === null && this.size > 0) {
        const entry = this.entries[this.head]!;
        const buf = Buffer.alloc(entry.length);
        const rh = await open(join(this.dir, segmentName(entry.seq)), 'r');
        try {
          await rh.read(buf, 0, entry.length, entry.offset);
        } finally {
          await rh.close();
        }
        this.peeked = parseBatch(buf.subarray(0, entry.length - 1));
        if (this.peeked === null) {
          // Corrupted since open: blocking the queue forever on it would lose everything behind it.
          this.log?.warn({ segment: segmentName(entry.seq), offset: entry.offset }, 'spool: skipping an unreadable batch');
          await this.dropHead();
        }
      }
      return this.peeked;
    });
  }

  /**
   * Appends a batch the store refuses for good to the dead-letter file (fsynced); false, writing nothing,
   * when that would take the file past `maxBytes`. The caller acks it afterwards: a crash in between
   * leaves it in both places, and the next attempt dead-letters it again.
   */
  deadLetter(batch: WriteBatch, error: string): Promise<boolean> {
    const line = Buffer.from(`${JSON.stringify({ at: new Date().toISOString(), error, batch })}\n`, 'utf8');
    return this.serial(async () => {
      this.open();
      const path = join(this.dir, DEAD_LETTER_FILE);
      if (this.deadBytes === null)
        this.deadBytes = await stat(path).then(
          (st) => st.size,
          () => 0,
        );
      if (this.deadBytes + line.length > this.maxBytes) return false;
      const fh = await open(path, 'a');
      try {
        await fh.writeFile(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (this.deadBytes === 0) await syncDir(this.dir);
      this.deadBytes += line.length;
      return true;
    });
  }

  /** Removes the oldest batch (after it reached the store) and records the new read position. */
  ack(): Promise<void> {
    return this.serial(async () => {
      this.open();
      if (this.size > 0) await this.dropHead();
    });
  }

  /** Fsyncs what was appended and closes; the spool can be opened again from the same directory. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      if (this.syncTimer) clearTimeout(this.syncTimer);
      this.syncTimer = null;
      await this.sync();
      await this.fh?.close();
      this.fh = null;
      this.closed = true;
      await writePosition(this.dir, this.readPosition(), true);
    });
  }

  /** Files first, counters last: `size` never shows an ack whose new read position is not written yet. */
  private async dropHead(): Promise<void> {
    const acked = this.entries[this.head]!;
    if (this.size === 1 && this.writeSize > 0) await this.restartEmpty();
    else {
      const next = this.entries[this.head + 1];
      const position = next ? { seq: next.seq, offset: next.offset } : { seq: this.writeSeq, offset: this.writeSize };
      // Position first, then delete: a crash in between leaves files that open() knows to discard.
      await writePosition(this.dir, position);
      const done = this.segments.filter((seq) => seq < position.seq);
      this.segments = this.segments.filter((seq) => seq >= position.seq);
      for (const seq of done) await rm(join(this.dir, segmentName(seq)), { force: true });
      this.head += 1;
    }
    this.unackedBytes -= acked.length;
    this.peeked = null;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Everything acked: drop all segments and start a new one, so disk use returns to zero. */
  private async restartEmpty(): Promise<void> {
    const seq = this.writeSeq + 1;
    const fh = await open(join(this.dir, segmentName(seq)), 'a');
    try {
      await writePosition(this.dir, { seq, offset: 0 });
    } catch (err) {
      await fh.close();
      throw err;
    }
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    this.dirty = false;
    const old = this.segments;
    await this.fh?.close();
    this.fh = fh;
    this.writeSeq = seq;
    this.writeSize = 0;
    this.segments = [seq];
    // As in rotate: the new segment's directory entry must reach the disk before batches go into it.
    await syncDir(this.dir);
    for (const done of old) await rm(join(this.dir, segmentName(done)), { force: true });
    this.entries = [];
    this.head = 0;
  }

  private async rotate(): Promise<FileHandle> {
    await this.sync();
    await this.fh?.close();
    this.writeSeq += 1;
    this.writeSize = 0;
    this.fh = await open(join(this.dir, segmentName(this.writeSeq)), 'a');
    this.segments.push(this.writeSeq);
    await syncDir(this.dir);
    return this.fh;
  }

  private readPosition(): Position {
    const head = this.entries[this.head];
    return head ? { seq: head.seq, offset: head.offset } : { seq: this.writeSeq, offset: this.writeSize };
  }

  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      this.serial(() => this.sync()).catch((err: unknown) => this.log?.warn({ err: String(err) }, 'spool: fsync failed'));
    }, this.fsyncMs);
    this.syncTimer.unref();
  }

  private async sync(): Promise<void> {
    if (!this.dirty || !this.fh) return;
    this.dirty = false;
    await this.fh.sync();
  }

  private open(): FileHandle {
    if (this.closed || !this.fh) throw new Error('spool is closed');
    return this.fh;
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

async function readPosition(dir: string, log?: Pick<Logger, 'warn'>): Promise<Position> {
  let text: string;
  try {
    text = await readFile(join(dir, OFFSET_FILE), 'utf8');
  } catch {
    return { seq: 0, offset: 0 };
  }
  try {
    const value = JSON.parse(text) as Partial<Position>;
    if (Number.isSafeInteger(value.seq) && Number.isSafeInteger(value.offset)) return { seq: value.seq!, offset: value.offset! };
  } catch {
    // fall through: replaying from the start is safe, replays being idempotent
  }
  log?.warn({ dir }, 'spool: unreadable offset file; replaying every segment');
  return { seq: 0, offset: 0 };
}

async function writePosition(dir: string, position: Position, durable = false): Promise<void> {
  const tmp = join(dir, `${OFFSET_FILE}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(position));
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, OFFSET_FILE));
  if (durable) await syncDir(dir);
}

/** New and renamed files only survive a power loss once their directory entry is on disk too. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some platforms cannot fsync a directory; the data files are fsynced regardless
  }
}
