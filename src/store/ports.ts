// The persistent store's ports: what ChatPulse keeps beyond a process's life. One memory driver (the
// default: `npm start` on a fresh machine) and one MongoDB driver (MONGODB_URL) per port, both passing
// the contract suites in test/contracts/. Users, API keys and rooms use the ports of their own modules
// (src/auth/stores.ts, src/channels/rooms.ts); their Mongo drivers live here too.
import type { IngestSourceName, IngestStatus } from '../ingest/source.js';

export type MessageSource = 'native' | IngestSourceName;

/** A classified chat message as persisted. `id` is a ULID: ids sort by time, which is what paging uses. */
export interface StoredMessage {
  id: string;
  channel: string;
  source: MessageSource;
  user: { id: string; name: string; badges: string[] };
  text: string;
  label: string;
  score: number;
  /** P(positive) - P(negative): what mean scores average. */
  polarity: number;
  /** Epoch ms. */
  ts: number;
  /** The platform's id for ingested messages. */
  sourceId?: string;
}

export interface MessageQuery {
  /** 1..1000 */
  limit: number;
  /** Only ids strictly below this one (the cursor: the last id of the previous page). */
  before?: string;
  /** Epoch ms, inclusive lower / exclusive upper bound on ts. */
  from?: number;
  to?: number;
}

/** What a sentiment timeline needs of a message. */
export interface SentimentPoint {
  ts: number;
  label: string;
  polarity: number;
}

/** A message as a report quotes it. */
export interface QuotedMessage {
  id: string;
  text: string;
  polarity: number;
}

/**
 * Range reads for the history service, answered by the store (projected, sorted and limited there) rather
 * than by paging whole messages through `list`.
 */
export interface MessageRangeReads {
  /** (ts, label, polarity) of at most `limit` messages of [from, to), in no particular order. */
  points(channel: string, from: number, to: number, limit: number): Promise<SentimentPoint[]>;
  /**
   * The `n` most negative (polarity < 0, lowest first) and `n` most positive (polarity > 0, highest
   * first) messages of [from, to); ties by id, ascending.
   */
  extremes(channel: string, from: number, to: number, n: number): Promise<{ negative: QuotedMessage[]; positive: QuotedMessage[] }>;
}

export interface MessageStore extends MessageRangeReads {
  /** Inserts; a message whose id exists already is skipped (replays are idempotent). */
  insertMany(messages: readonly StoredMessage[]): Promise<void>;
  /** Newest first. */
  list(channel: string, query: MessageQuery): Promise<StoredMessage[]>;
  /** Removes messages (moderation); unknown ids are ignored. */
  remove(channel: string, ids: readonly string[]): Promise<void>;
  count(): Promise<number>;
}

/** Per-label counts and the sum of polarities of the messages of one channel in one bucket. */
export interface BucketCounts {
  counts: Record<string, number>;
  polaritySum: number;
}

export interface BucketIncrement extends BucketCounts {
  channel: string;
  /** Epoch ms of the bucket's start (a multiple of BUCKET_MS). */
  start: number;
}

export interface Bucket extends BucketCounts {
  start: number;
}

/**
 * A write that will never succeed as it is (a document the database refuses: validation, a bad field
 * name, too large), unlike an outage, which a retry outlasts. Store drivers throw it so that the writer
 * sets such a batch aside (the dead-letter file) instead of retrying it forever in front of the others.
 */
export class PermanentWriteError extends Error {
  readonly code = 'permanent_write_error';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentWriteError';
  }
}

/** Stored buckets are one minute long; the timeline API sums them into longer ones. */
export const BUCKET_MS = 60_000;

export interface ChannelTotals {
  channel: string;
  messages: number;
  counts: Record<string, number>;
  /** Epoch ms of the newest bucket with traffic. */
  lastTs: number;
}

/**
 * A batch id names its writer's stream and its place in it: `<stream>:<seq>`, `stream` letters, digits,
 * `_` or `-`, `seq` a positive integer. One stream's batches reach a bucket in `seq` order (the writer
 * keeps them in order, and its spool is a FIFO), which is what lets a bucket remember one number per
 * stream instead of every batch id. An id without `:<seq>` is a stream of its own (seq 0): applied once.
 */
export function parseBatchId(batchId: string): { stream: string; seq: number } {
  const m = /^([A-Za-z0-9_-]+):([1-9][0-9]{0,14})$/.exec(batchId);
  if (m) return { stream: m[1]!, seq: Number(m[2]) };
  return { stream: batchId, seq: 0 };
}

export interface BucketStore {
  /**
   * Adds increments, idempotently: a bucket counts a batch only when its `seq` is above the last one of
   * its stream applied to that bucket (see parseBatchId). So a spool replay after a write whose answer
   * was lost counts once, however long after and however many other writers hit the bucket meanwhile.
   */
  apply(batchId: string, increments: readonly BucketIncrement[]): Promise<void>;
  /** Buckets with traffic in [from, to), oldest first. */
  range(channel: string, from: number, to: number): Promise<Bucket[]>;
  /** Totals per channel over all buckets, most recently active first (at most `limit`). */
  channels(limit: number): Promise<ChannelTotals[]>;
}

export interface ReportRecord {
  id: string;
  ownerId: string;
  channel: string;
  title: string;
  from: number;
  to: number;
  createdAt: number;
  /** Computed once at creation from buckets and messages, then kept as is. */
  summary: ReportSummary;
}

export interface ReportSummary {
  messages: number;
  counts: Record<string, number>;
  /** Mean polarity, or null without messages. */
  score: number | null;
  /** Per-bucket series used by the report (bucket seconds, points). */
  bucket_s: number;
  buckets: Array<{ ts: number; counts: Record<string, number>; score: number | null }>;
  /** The most negative and most positive messages in the range. */
  most_negative: Array<{ id: string; text: string; score: number }>;
  most_positive: Array<{ id: string; text: string; score: number }>;
}

export interface ReportStore {
  create(report: ReportRecord): Promise<void>;
  get(id: string): Promise<ReportRecord | null>;
  /** Newest first; ids below `before`. */
  listByOwner(ownerId: string, limit: number, before?: string): Promise<ReportRecord[]>;
  delete(id: string): Promise<boolean>;
  deleteByOwner(ownerId: string): Promise<number>;
  /** Reports this owner holds (the per-user quota). */
  countByOwner(ownerId: string): Promise<number>;
  /** Deletes reports created before `cutoff` (epoch ms), only this owner's when given; how many went. */
  deleteCreatedBefore(cutoff: number, ownerId?: string): Promise<number>;
}

export interface IngestRecord {
  id: string;
  source: IngestSourceName;
  /** Normalized platform channel name. */
  channel: string;
  createdBy: string;
  createdAt: number;
}

/** Ingest definitions: what should be ingested (ownership and live status are not stored here). */
export interface IngestStore {
  /** Throws conflict when (source, channel) is defined already. */
  create(rec: IngestRecord): Promise<void>;
  get(id: string): Promise<IngestRecord | null>;
  find(source: IngestSourceName, channel: string): Promise<IngestRecord | null>;
  /** Oldest first. */
  list(): Promise<IngestRecord[]>;
  delete(id: string): Promise<boolean>;
}

export type { IngestStatus };
