// The shared vocabulary at the bottom of the layers: names every capability uses for the same things, so
// none of them imports another to say "a platform" or "a stored message".

import type { EmoteSpan, MessageSource, SourceKind } from './contract/index.js';

// The platforms and message sources are wire words: declared once, in the contract.
export type { EmoteSpan, MessageSource, SourceKind };

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

/** A chat line as an ingest connector delivers it from a platform. */
export interface IngestedUser {
  /** The platform's user id (Twitch `user-id`, TikTok `userId`). */
  id: string;
  /** Display name. */
  name: string;
  /** Normalized badges: 'broadcaster' | 'moderator' | 'vip' | 'subscriber' | ... (platform extras allowed). */
  badges: string[];
  /** `#rrggbb` when the platform gives one. */
  color?: string;
  /** The platform's avatar, when the event carries one. */
  avatarUrl?: string;
}

export interface IngestedChat {
  kind: 'chat';
  /** The platform's message id (Twitch `id` tag, TikTok `msgId`); what deletes refer to. */
  sourceId: string;
  user: IngestedUser;
  text: string;
  /** When the platform says it was sent (epoch ms); the receive time when it does not say. */
  sentAt: number;
  emotes: EmoteSpan[];
}
