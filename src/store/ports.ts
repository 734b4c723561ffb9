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

export interface MessageStore {
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

/** Stored buckets are one minute long; the timeline API sums them into longer ones. */
export const BUCKET_MS = 60_000;

export interface ChannelTotals {
  channel: string;
  messages: number;
  counts: Record<string, number>;
  /** Epoch ms of the newest bucket with traffic. */
  lastTs: number;
}

export interface BucketStore {
  /**
   * Adds increments; `batchId` makes it idempotent: applying the same batch id to the same bucket twice
   * counts once (a spool replay after a write whose answer was lost must not double-count).
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
