// The channel bus: how an event on a channel reaches every process that serves its subscribers, and the
// channel's history (history.ts): a message is appended to history and delivered in one step, so its offset
// and its place in every watcher's stream agree. The memory driver delivers in-process (one gateway
// process); a Redis driver (clustering) carries the same events between processes and hosts. Events are
// plain JSON so any transport can carry them.
import type { Revocation } from '../auth/revocations.js';
import { messageFrames, type ClosedReason } from '../contract/index.js';
import { MemoryHistory, type Appended, type AppendRef, type HistoryOptions, type HistorySlice, type NewMessage } from './history.js';

export interface MessageEvent {
  kind: 'message';
  channel: string;
  id: string;
  /** Its place in the channel's history, and the history's epoch. */
  offset: number;
  epoch: string;
  /** The serialized `message` frame, built once and sent byte-for-byte to every subscriber. */
  frame: string;
  /** The frame less its offset (what history keeps). */
  head: string;
  label: string;
  /** P(positive) - P(negative), what the mood score averages. */
  polarity: number;
  /** Epoch milliseconds. */
  ts: number;
}

export type BusEvent =
  | MessageEvent
  | { kind: 'delete'; channel: string; messageId: string }
  /** A room closed, or an ingested stream stopped (`reason`: see ClosedReasonSchema). */
  | { kind: 'closed'; channel: string; reason?: ClosedReason }
  | { kind: 'likes'; channel: string; total: number; messageId?: string; messageLikes?: number }
  | { kind: 'presence'; channel: string; viewers: number }
  /** The platform's own viewer count of an ingested stream (e.g. TikTok's), shown beside ours. */
  | { kind: 'external'; channel: string; viewers: number }
  /** A ready-made frame for every subscriber of the channel (e.g. an ingested `gift`). */
  | { kind: 'frame'; channel: string; frame: string }
  /** On SYSTEM_CHANNEL: every process forgets a cached entry (auth caches). */
  | { kind: 'invalidate'; channel: string; key: string }
  /** On SYSTEM_CHANNEL: every process sends a ready `notification` frame to the user's sockets (notify.ts). */
  | { kind: 'notify'; channel: string; userId: string; frame: string }
  /** On SYSTEM_CHANNEL: every process closes the sockets a revocation names (see auth/revocations.ts). */
  | { kind: 'revoke'; channel: string; revocation: Revocation };

/** A bus channel no client can name (clients only reach room:, twitch: and tiktok:), watched by every process. */
export const SYSTEM_CHANNEL = 'sys:cluster';

/** Every event but messages, which enter through `append`. */
export type PlainEvent = Exclude<BusEvent, MessageEvent>;

export interface ChannelBus {
  /**
   * Delivers to the handler of every process watching the channel, this one's included; per channel, in
   * publish order. A `delete` also marks the message deleted in the channel's history.
   */
  publish(event: PlainEvent): void;
  /**
   * Appends a message to its channel's history, assigning its offset, and delivers it as a MessageEvent
   * (per channel in offset order). With a ref already appended by the same user within the dedupe window,
   * resolves with that first append (`duplicate`) and publishes nothing. Rejects when history is unreachable.
   */
  append(message: NewMessage, ref?: AppendRef): Promise<Appended>;
  /** The channel's history after offset `after` (or its latest entries when null), at most `limit`. */
  history(channel: string, after: number | null, limit: number): Promise<HistorySlice>;
  onEvent(handler: (event: BusEvent) => void): void;
  /**
   * This process has local subscribers of the channel (called on the first) / no longer has any (on the
   * last): a cluster driver receives a channel's events only while it is watched. The memory driver,
   * the only process there is, delivers every event regardless. Resolves once the channel's events reach
   * this process (a cluster subscription took effect); events before that are only in history.
   */
  watch(channel: string): Promise<void>;
  unwatch(channel: string): void;
  close(): Promise<void>;
}

/** A message event as every watcher receives it: the frame completed with the offset history assigned. */
export const messageEvent = (m: NewMessage, offset: number, epoch: string): MessageEvent => ({
  kind: 'message',
  channel: m.channel,
  id: m.id,
  offset,
  epoch,
  frame: messageFrames.withOffset(m.head, offset),
  head: m.head,
  label: m.label,
  polarity: m.polarity,
  ts: m.ts,
});

export class MemoryChannelBus implements ChannelBus {
  private readonly handlers: Array<(event: BusEvent) => void> = [];
  private readonly log: MemoryHistory;

  constructor(history?: HistoryOptions) {
    this.log = new MemoryHistory(history);
  }

  publish(event: PlainEvent): void {
    if (event.kind === 'delete') this.log.delete(event.channel, event.messageId);
    this.deliver(event);
  }

  append(message: NewMessage, ref?: AppendRef): Promise<Appended> {
    const appended = this.log.append(message, ref);
    if (!appended.duplicate) this.deliver(messageEvent(message, appended.offset, appended.epoch));
    return Promise.resolve(appended);
  }

  history(channel: string, after: number | null, limit: number): Promise<HistorySlice> {
    return Promise.resolve(this.log.read(channel, after, limit));
  }

  private deliver(event: BusEvent): void {
    for (const handler of this.handlers) handler(event);
  }

  onEvent(handler: (event: BusEvent) => void): void {
    this.handlers.push(handler);
  }

  watch(): Promise<void> {
    return Promise.resolve();
  }

  unwatch(): void {}

  async close(): Promise<void> {
    this.handlers.length = 0;
  }
}
