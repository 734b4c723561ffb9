// The contract's shapes as the SDK sees them: REST bodies and every WebSocket frame, both ways.
// Fields the contract does not fix are optional; servers may add more.

// ------------------------------------------------------------------------------------------ REST

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
}

export interface User {
  id: string;
  username: string;
  role: string;
  created_at?: string;
}

export interface Sentiment {
  label: string;
  score: number;
  /** Probability per label; they sum to 1. */
  scores: Record<string, number>;
  model: string;
}

export interface BatchSentiment {
  results: Sentiment[];
  model: string;
  count: number;
}

export interface ModelInfo {
  name: string;
  labels: string[];
  max_length: number;
  quantized: boolean;
  [extra: string]: unknown;
}

export interface ApiKeyCreated {
  id: string;
  name: string;
  /** Shown once. */
  key: string;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  [extra: string]: unknown;
}

/** Every list answers `{"items":[...],"next"?}`; pass `next` back as the cursor for the next page. */
export interface List<T> {
  items: T[];
  next?: string;
}

export interface MoodSummary {
  counts: Record<string, number>;
  score: number | null;
  rate: number;
  window_s: number;
}

/** A live channel as `GET /api/v1/channels` reports its current traffic. */
export interface LiveChannel {
  channel: string;
  viewers: number | null;
  /** Viewers the source reports (TikTok's own count) for ingested channels. */
  external_viewers?: number;
  mood: MoodSummary;
}

export interface ChannelSummary {
  channel: string;
  /** Stored messages and counts per label over the channel's whole history. */
  messages: number;
  counts: Record<string, number>;
  /** Last stored activity, epoch ms. */
  last_ts: number;
  /** Present while the channel has traffic on the cluster now. */
  live: LiveChannel | null;
}

export interface TimelineBucket {
  /** Bucket start: epoch ms (or ISO 8601, as the server writes it). */
  ts: number | string;
  counts: Record<string, number>;
  score: number | null;
}

export interface Timeline {
  buckets: TimelineBucket[];
  [extra: string]: unknown;
}

export interface ReportSummary {
  messages: number;
  counts: Record<string, number>;
  /** Mean polarity, or null without messages. */
  score: number | null;
  bucket_s: number;
  buckets: Array<{ ts: number; counts: Record<string, number>; score: number | null }>;
  most_negative: Array<{ id: string; text: string; score: number }>;
  most_positive: Array<{ id: string; text: string; score: number }>;
}

/** A saved analysis: its summary is computed once at creation. Times are ISO 8601. */
export interface Report {
  id: string;
  owner_id: string;
  channel: string;
  title: string;
  /** Null only for a damaged stored record whose time no date can show (likewise `to`, `created_at`). */
  from: string | null;
  to: string | null;
  created_at: string | null;
  summary: ReportSummary;
}

export type IngestSource = 'twitch' | 'tiktok';

export interface IngestCounters {
  messages: number;
  /** Lines the engine refused (its queue was full). */
  dropped: number;
  deletes: number;
  members: number;
  gifts: number;
  reconnects: number;
}

export interface Ingest {
  id: string;
  source: IngestSource;
  channel: string;
  /** The live channel its messages appear on, e.g. `twitch:somechannel`. */
  ws_channel: string;
  status: string;
  /** `<host>:<pid>` of the process that ingests it now. */
  owner: string | null;
  counters: IngestCounters;
  [extra: string]: unknown;
}

export type RoomStatus = 'scheduled' | 'open' | 'ended' | 'closed';

export interface Room {
  id: string;
  channel: string;
  title: string | null;
  owner_id: string | null;
  moderators: string[];
  opens_at: string | null;
  closes_at: string | null;
  closed_at: string | null;
  /** Null only for a damaged stored record whose time no date can show. */
  created_at: string | null;
  status: RoomStatus;
}

/** Times: epoch ms, ISO 8601 text or a Date (sent as epoch ms). */
export type TimeInput = number | string | Date;

// ------------------------------------------------------------------------------- WebSocket frames

export interface ChatUser {
  id: string;
  name: string;
  badges: string[];
  color?: string;
}

export interface MessageFrame {
  type: 'message';
  channel: string;
  /** A ULID: sortable by publish time. */
  id: string;
  user: ChatUser;
  text: string;
  sentiment: { label: string; score: number };
  /** Epoch ms (server time). */
  ts: number;
  /** Ingested streams: the platform, its message id and send time. */
  source?: string;
  source_id?: string;
  sent_ts?: number;
  /** Ingested Twitch lines: the emotes Twitch reported, with inclusive UTF-16 offsets into `text`. */
  emotes?: Array<{ id: string; name: string; start: number; end: number }>;
}

export interface MessagesFrame {
  type: 'messages';
  channel: string;
  items: MessageFrame[];
}

export interface MoodFrame extends MoodSummary {
  type: 'mood';
  channel: string;
  /** Epoch ms. */
  ts: number;
  long?: MoodSummary;
}

export interface SubscribedFrame {
  type: 'subscribed';
  channel: string;
  viewers: number;
}

export interface UnsubscribedFrame {
  type: 'unsubscribed';
  channel: string;
}

export interface PresenceFrame {
  type: 'presence';
  channel: string;
  viewers: number;
  external_viewers?: number;
}

export interface LikesFrame {
  type: 'likes';
  channel: string;
  total: number;
  message_id?: string;
  message_likes?: number;
}

export interface DeleteFrame {
  type: 'delete';
  channel: string;
  message_id: string;
}

export interface ClosedFrame {
  type: 'closed';
  channel: string;
}

export interface PongFrame {
  type: 'pong';
}

/** The answer to an `auth` frame: the connection goes on as the new token, until `expires_at` (epoch ms). */
export interface AuthedFrame {
  type: 'authed';
  expires_at: number;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  channel?: string;
  retry_after_ms?: number;
}

export type ServerFrame =
  | SubscribedFrame
  | UnsubscribedFrame
  | MessageFrame
  | MessagesFrame
  | MoodFrame
  | PresenceFrame
  | LikesFrame
  | DeleteFrame
  | ClosedFrame
  | PongFrame
  | AuthedFrame
  | ErrorFrame;

export type ClientFrame =
  | { type: 'subscribe'; channel: string; batch?: boolean }
  | { type: 'unsubscribe'; channel: string }
  | { type: 'chat'; channel: string; text: string }
  | { type: 'like'; channel: string; message_id?: string }
  | { type: 'ping' }
  | { type: 'auth'; token: string };

const SERVER_TYPES: ReadonlySet<string> = new Set<ServerFrame['type']>([
  'subscribed', 'unsubscribed', 'message', 'messages', 'mood', 'presence', 'likes', 'delete', 'closed', 'pong', 'authed', 'error',
]);

/** Parses one text frame; null when it is not a JSON object of a known server frame type. */
export function parseServerFrame(data: string): ServerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(data) as unknown;
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && SERVER_TYPES.has(type) ? (value as ServerFrame) : null;
}
