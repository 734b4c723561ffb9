// The channel bus: how an event on a channel reaches every process that serves its subscribers. The
// memory driver delivers in-process (one gateway process); a Redis driver (clustering) carries the same
// events between processes and hosts. Events are plain JSON so any transport can carry them.
import type { Revocation } from '../auth/revocations.js';

export interface MessageEvent {
  kind: 'message';
  channel: string;
  id: string;
  /** The serialized `message` frame, built once by the publisher and sent byte-for-byte to every subscriber. */
  frame: string;
  label: string;
  /** P(positive) - P(negative), what the mood score averages. */
  polarity: number;
  /** Epoch milliseconds. */
  ts: number;
}

export type BusEvent =
  | MessageEvent
  | { kind: 'delete'; channel: string; messageId: string }
  | { kind: 'closed'; channel: string }
  | { kind: 'likes'; channel: string; total: number; messageId?: string; messageLikes?: number }
  | { kind: 'presence'; channel: string; viewers: number }
  /** The platform's own viewer count of an ingested stream (e.g. TikTok's), shown beside ours. */
  | { kind: 'external'; channel: string; viewers: number }
  /** A ready-made frame for every subscriber of the channel (e.g. an ingested `gift`). */
  | { kind: 'frame'; channel: string; frame: string }
  /** On SYSTEM_CHANNEL: every process forgets a cached entry (auth caches). */
  | { kind: 'invalidate'; channel: string; key: string }
  /** On SYSTEM_CHANNEL: every process closes the sockets a revocation names (see auth/revocations.ts). */
  | { kind: 'revoke'; channel: string; revocation: Revocation };

/** A bus channel no client can name (clients only reach room:, twitch: and tiktok:), watched by every process. */
export const SYSTEM_CHANNEL = 'sys:cluster';

export interface ChannelBus {
  /** Delivers to the handler of every process watching the channel, this one's included; per channel, in publish order. */
  publish(event: BusEvent): void;
  onEvent(handler: (event: BusEvent) => void): void;
  /**
   * This process has local subscribers of the channel (called on the first) / no longer has any (on the
   * last): a cluster driver receives a channel's events only while it is watched. The memory driver,
   * the only process there is, delivers every event regardless.
   */
  watch(channel: string): void;
  unwatch(channel: string): void;
  close(): Promise<void>;
}

export class MemoryChannelBus implements ChannelBus {
  private readonly handlers: Array<(event: BusEvent) => void> = [];

  publish(event: BusEvent): void {
    for (const handler of this.handlers) handler(event);
  }

  onEvent(handler: (event: BusEvent) => void): void {
    this.handlers.push(handler);
  }

  watch(): void {}

  unwatch(): void {}

  async close(): Promise<void> {
    this.handlers.length = 0;
  }
}
