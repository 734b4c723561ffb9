// The contract's shapes as the SDK sees them: REST replies and every WebSocket frame, both ways, each the
// Static<> of its schema in src/contract (type-only imports: the SDK loads neither TypeBox nor the schemas
// at run time). Clients should ignore fields they do not know: a later server may send more.
import type { Static } from '@sinclair/typebox';
import type {
  AdminStatsReply,
  ApiKeyInfoReply,
  BatchReply,
  ChannelSummaryReply,
  ChatUserSchema,
  ClientFrame,
  CreatedApiKeyReply,
  EmoteSpan,
  ErrorReply,
  FileReply,
  HistoryMessageReply,
  IngestCountersReply,
  IngestReply,
  LiveChannelReply,
  MatchQueuedReply,
  MatchTicketReply,
  ModelReply,
  MoodSummary,
  ReportReply,
  ReportSummaryReply,
  RoomReply,
  RoomStatus,
  SentimentReply,
  ServerFrame,
  ServerFrameOf,
  SourceKind,
  TimelinePointReply,
  TimelineReply,
  MomentReply,
  MomentListReply,
  TimeoutReply,
  TokenPairReply,
  UserReply,
} from '../contract/index.js';

export type { ClientFrame, EmoteSpan, MoodSummary, RoomStatus, ServerFrame };

// ------------------------------------------------------------------------------------------ REST

export type TokenPair = Static<typeof TokenPairReply>;
export type User = Static<typeof UserReply>;
export type Sentiment = Static<typeof SentimentReply>;
export type BatchSentiment = Static<typeof BatchReply>;
export type ModelInfo = Static<typeof ModelReply>;
export type ApiKeyCreated = Static<typeof CreatedApiKeyReply>;
export type ApiKeyInfo = Static<typeof ApiKeyInfoReply>;
/** The body of every error reply. */
export type ErrorBody = Static<typeof ErrorReply>;

/** Every list answers `{"items":[...],"next"?}`; pass `next` back as the cursor for the next page. */
export interface List<T> {
  items: T[];
  next?: string;
}

/** A live channel as `GET /api/v1/channels` reports its current traffic. */
export type LiveChannel = Static<typeof LiveChannelReply>;
export type ChannelSummary = Static<typeof ChannelSummaryReply>;
/** A stored message as `GET /api/v1/channels/{channel}/messages` lists it. */
export type HistoryMessage = Static<typeof HistoryMessageReply>;
export type TimelineBucket = Static<typeof TimelinePointReply>;
export type Timeline = Static<typeof TimelineReply>;
export type Moment = Static<typeof MomentReply>;
export type MomentList = Static<typeof MomentListReply>;
export type ReportSummary = Static<typeof ReportSummaryReply>;
/** A saved analysis: its summary is computed once at creation. Times are ISO 8601. */
export type Report = Static<typeof ReportReply>;

export type IngestSource = SourceKind;
export type IngestCounters = Static<typeof IngestCountersReply>;
export type Ingest = Static<typeof IngestReply>;

export type Room = Static<typeof RoomReply>;
/** An image uploaded to a room: attach it to a chat with `chat(channel, text, { fileId: id })`. */
export type UploadedFile = Static<typeof FileReply>;
export type MatchQueued = Static<typeof MatchQueuedReply>;
export type MatchTicket = Static<typeof MatchTicketReply>;
export type RoomTimeout = Static<typeof TimeoutReply>;
export type AdminStats = Static<typeof AdminStatsReply>;

/** Times: epoch ms, ISO 8601 text or a Date (sent as epoch ms). */
export type TimeInput = number | string | Date;

// ------------------------------------------------------------------------------- WebSocket frames

export type ChatUser = Static<typeof ChatUserSchema>;
export type MessageFrame = ServerFrameOf<'message'>;
export type MessagesFrame = ServerFrameOf<'messages'>;
/** The channel's mood; `score` is null for a window without messages (quiet, not neutral). */
export type MoodFrame = ServerFrameOf<'mood'>;
/** A hype or tilt moment: a burst of chat with a strong swing against the channel's own baseline. */
export type MomentFrame = ServerFrameOf<'moment'>;
export type SubscribedFrame = ServerFrameOf<'subscribed'>;
export type UnsubscribedFrame = ServerFrameOf<'unsubscribed'>;
export type PresenceFrame = ServerFrameOf<'presence'>;
export type LikesFrame = ServerFrameOf<'likes'>;
export type DeleteFrame = ServerFrameOf<'delete'>;
export type GiftFrame = ServerFrameOf<'gift'>;
export type ClosedFrame = ServerFrameOf<'closed'>;
export type PongFrame = ServerFrameOf<'pong'>;
/** The answer to an `auth` frame: the connection goes on as the new token, until `expires_at` (epoch ms). */
export type AuthedFrame = ServerFrameOf<'authed'>;
/** The answer to a `chat` frame with a `ref`: the message is in the channel's history, at `offset`. */
export type AckFrame = ServerFrameOf<'ack'>;
export type NotificationFrame = ServerFrameOf<'notification'>;
/** A lifecycle room changed state (`ends_at`: epoch ms, null once ended). */
export type RoomStateFrame = ServerFrameOf<'room_state'>;
export type ErrorFrame = ServerFrameOf<'error'>;

// Every server frame type, checked against the contract's list at compile time (a missing one fails the build).
const SERVER_TYPES: Readonly<Record<ServerFrame['type'], true>> = {
  subscribed: true,
  unsubscribed: true,
  message: true,
  messages: true,
  mood: true,
  moment: true,
  presence: true,
  likes: true,
  delete: true,
  gift: true,
  ack: true,
  notification: true,
  room_state: true,
  closed: true,
  pong: true,
  authed: true,
  error: true,
};

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
  return typeof type === 'string' && Object.hasOwn(SERVER_TYPES, type) ? (value as ServerFrame) : null;
}
