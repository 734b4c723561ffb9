// What an ingest connector (Twitch chat through tmi.js, TikTok LIVE through tiktok-live-connector) turns a
// platform's events into. Connectors know their platform and nothing of ChatPulse; the ingest manager
// (ownership, classification, publishing) knows ChatPulse and nothing of the platforms.

import type { IngestStatus } from '../contract/index.js';
import type { EmoteSpan, IngestedChat, IngestedUser, SourceKind } from '../vocabulary.js';

export type { EmoteSpan, IngestedChat, IngestedUser, IngestStatus, SourceKind };

export type IngestEvent =
  | IngestedChat
  /** One message removed by a moderator (Twitch CLEARMSG). */
  | { kind: 'delete'; sourceId: string }
  /** Twitch CLEARCHAT: every recent message of `userId` (a timeout or ban), or the whole chat when absent. */
  | { kind: 'clear'; userId?: string }
  /** The stream's like total as the platform reports it (TikTok `like`). */
  | { kind: 'likes'; total: number }
  /** The platform's own viewer count (TikTok `roomUser`). */
  | { kind: 'viewers'; count: number }
  /** Someone joined (TikTok `member`). */
  | { kind: 'member'; user: IngestedUser }
  /** A finished gift (TikTok `gift`; a streak is reported once, when it ends). */
  | { kind: 'gift'; user: IngestedUser; gift: string; count: number; diamonds: number }
  /** The connection's state; `error` carries why (never a secret). */
  | { kind: 'status'; status: IngestStatus; error?: string };

export interface IngestConnection {
  /** Leaves the channel and closes the connection; no event is emitted after it resolves. */
  stop(): Promise<void>;
}

export interface IngestConnector {
  readonly source: SourceKind;
  /** The platform's canonical form of a channel name (e.g. lower-case Twitch login); throws AppError 400 when invalid. */
  normalize(channel: string): string;
  /**
   * Starts receiving `channel` (normalized). Emits `status` connecting → live, `reconnecting` on drops
   * (the connector retries with backoff by itself), `ended` when the stream ends for good, `error` when it
   * gives up. After either it emits nothing more; the ingest manager starts a new connection after a cooldown.
   */
  connect(channel: string, emit: (event: IngestEvent) => void): IngestConnection;
}
