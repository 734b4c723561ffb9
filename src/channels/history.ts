// Channel history: every published message gets a per-channel offset (gapless, +1 per message within the
// channel's epoch) where it enters the channel's bounded history, and the history is what replay and
// recovery read. The bus drivers own it, because appending and delivering must be one step: in Redis one
// script appends to the stream and publishes the event, so every watcher receives a channel's messages in
// offset order (bus.ts, redis-bus.ts). This file holds the shapes and the memory driver's rings.
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** One message as history keeps it: enough to replay its frame and to rebuild the channel's mood. */
export interface HistoryEntry {
  offset: number;
  id: string;
  /** The frame without its offset (`messageFrames.head`); null once the message was deleted. */
  head: string | null;
  label: string;
  polarity: number;
  ts: number;
}

/** A message on its way into history: everything but the offset, which history assigns. */
export type NewMessage = Omit<HistoryEntry, 'offset' | 'head'> & { channel: string; head: string };

export interface HistorySlice {
  epoch: string;
  /** The channel's latest offset (0: nothing published in this epoch). */
  top: number;
  /** Consecutive entries, oldest first (deleted ones included, with `head: null`). */
  entries: HistoryEntry[];
}

export interface Appended {
  offset: number;
  epoch: string;
  /** The message's id: the first append's when `duplicate`. */
  id: string;
  /** The ref was seen within the dedupe window: nothing was published this time. */
  duplicate: boolean;
}

/** Who sent a message under which client ref: the same pair within `refTtlMs` is published once. */
export interface AppendRef {
  user: string;
  ref: string;
}

export interface HistoryOptions {
  /** Messages kept per channel (at least). */
  size: number;
  /** A channel's history lives this long after its last message. */
  ttlMs: number;
  /** How long a chat ref is remembered for deduplication. */
  refTtlMs: number;
}

export const DEFAULT_HISTORY: HistoryOptions = { size: 1000, ttlMs: 3_600_000, refTtlMs: 300_000 };

/** A new epoch name: random, so a channel whose history was lost never reuses its offsets' meaning. */
export const newEpoch = (): string => randomBytes(6).toString('base64url');

/** Channels a memory driver keeps history for; the least recently written go first beyond it. */
const MAX_CHANNELS = 10_000;
const MAX_REFS = 100_000;

interface Ring {
  epoch: string;
  top: number;
  entries: HistoryEntry[];
}

/** The memory driver's history: a ring per channel, expiring `ttlMs` after the channel's last message. */
export class MemoryHistory {
  private readonly rings: LRUCache<string, Ring>;
  private readonly refs: LRUCache<string, Appended>;

  constructor(private readonly options: HistoryOptions = DEFAULT_HISTORY) {
    this.rings = new LRUCache({ max: MAX_CHANNELS, ttl: options.ttlMs });
    this.refs = new LRUCache({ max: MAX_REFS, ttl: options.refTtlMs });
  }

  /** The ring of a channel, created empty (with a fresh epoch) on first use. */
  private ring(channel: string): Ring {
    let ring = this.rings.get(channel);
    if (!ring) this.rings.set(channel, (ring = { epoch: newEpoch(), top: 0, entries: [] }));
    return ring;
  }

  append(message: NewMessage, ref?: AppendRef): Appended {
    const refKey = ref ? `${message.channel}\n${ref.user}\n${ref.ref}` : null;
    const seen = refKey === null ? undefined : this.refs.get(refKey);
    if (seen) return { ...seen, duplicate: true };
    const ring = this.ring(message.channel);
    const offset = ++ring.top;
    ring.entries.push({ offset, id: message.id, head: message.head, label: message.label, polarity: message.polarity, ts: message.ts });
    if (ring.entries.length > this.options.size) ring.entries.splice(0, ring.entries.length - this.options.size);
    this.rings.set(message.channel, ring); // refreshes the expiry: history lives ttl after the last message
    const appended = { offset, epoch: ring.epoch, id: message.id, duplicate: false };
    if (refKey !== null) this.refs.set(refKey, appended);
    return appended;
  }

  /** Entries after `after`, or the latest ones when `after` is null; at most `limit`. */
  read(channel: string, after: number | null, limit: number): HistorySlice {
    const ring = this.ring(channel);
    const { entries } = ring;
    const first = entries[0]?.offset ?? ring.top + 1;
    const start = after === null ? Math.max(0, entries.length - limit) : Math.max(0, after + 1 - first);
    return { epoch: ring.epoch, top: ring.top, entries: entries.slice(start, start + limit) };
  }

  /** Marks a message deleted: replay and recovery skip it, its offset stays taken. */
  delete(channel: string, messageId: string): void {
    const ring = this.rings.get(channel);
    const entry = ring?.entries.find((e) => e.id === messageId);
    if (entry) entry.head = null;
  }
}
