// Server frames: one schema per `type` the server sends on `/ws`, and the constructors that build them. The
// constructors own the wire's bytes (field order included) and return JSON text, since a frame is built once
// and the same string goes to every subscriber.
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import {
  ChannelSchema,
  EmoteSpanSchema,
  EpochMsSchema,
  LabelCountsSchema,
  LabelSchema,
  MessageIdSchema,
  MomentFields,
  MoodSummarySchema,
  RoomStateSchema,
  SourceKindSchema,
  type MomentKind,
  type MoodSummary,
  type RoomState,
} from './vocabulary.js';

/** Why a channel closed: `closed` (a room's host closed it), or an ingested stream's `deleted`, `ended`, `error`. */
export const ClosedReasonSchema = Type.Union(
  [Type.Literal('closed'), Type.Literal('deleted'), Type.Literal('ended'), Type.Literal('error')],
  { description: '`closed`: a room was closed; an ingested stream: `deleted`, `ended` (went offline) or `error`' },
);
export type ClosedReason = Static<typeof ClosedReasonSchema>;

// Closed: a schema lists every field the server sends, so a test can tell when the wire and the schema part.
const frame = <T extends string, P extends TProperties>(type: T, description: string, properties: P) =>
  Type.Object({ type: Type.Literal(type), ...properties }, { additionalProperties: false, description });

export const ChatUserSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String({ description: 'Display name' }),
    badges: Type.Array(Type.String(), {
      description:
        'Rooms: `host`, `moderator`, `admin`; Twitch: `broadcaster`, `moderator`, `vip`, `subscriber`; TikTok: `broadcaster`, `moderator`, `subscriber`, `follower`, `gifter`',
    }),
    color: Type.Optional(Type.String({ pattern: '^#[0-9a-f]{6}$', description: "The platform's name colour, when it gives one" })),
    display_name: Type.Optional(
      Type.Union([Type.String(), Type.Null()], {
        description: "`message` frames: the name to show (the platform's, or the account's); null when unset",
      }),
    ),
    avatar_url: Type.Optional(
      Type.Union([Type.String(), Type.Null()], { description: '`message` frames: the avatar to show; null when unset' }),
    ),
  },
  { additionalProperties: false },
);
export type ChatUser = Static<typeof ChatUserSchema>;

export const SentimentTagSchema = Type.Object(
  { label: LabelSchema, score: Type.Number({ minimum: 0, maximum: 1 }) },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 0 });

/** A message's place in its channel's history: gapless and increasing by 1 within the channel's epoch. */
export const OffsetSchema = Type.Integer({ minimum: 1, description: "The message's place in its channel's history (per epoch)" });
export const EpochSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "Names one run of a channel's history: offsets restart when it changes",
});
/** A client's name for one chat message it sends (the ack and any error carry it back). */
export const RefSchema = Type.String({ minLength: 1, maxLength: 64, description: "A client's name for one message it sends" });

export const MessageFrameSchema = Type.Object(
  {
    type: Type.Literal('message'),
    channel: ChannelSchema,
    id: MessageIdSchema,
    user: ChatUserSchema,
    text: Type.String(),
    sentiment: SentimentTagSchema,
    ts: Type.Integer({ description: 'Publish time (server clock), epoch ms' }),
    source: Type.Optional(SourceKindSchema),
    source_id: Type.Optional(Type.String({ description: "Ingested lines: the platform's message id" })),
    sent_ts: Type.Optional(Type.Integer({ description: 'Ingested lines: when the platform says it was sent, epoch ms' })),
    emotes: Type.Optional(Type.Array(EmoteSpanSchema, { description: 'Ingested lines: emote positions (Twitch; empty elsewhere)' })),
    file: Type.Optional(
      Type.Object(
        {
          id: Type.String(),
          url: Type.String({ description: 'Where the image is served (relative to the server)' }),
          content_type: Type.String({ description: '`image/png`, `image/jpeg`, `image/gif` or `image/webp`' }),
        },
        { additionalProperties: false, description: 'An image the sender uploaded to this room and attached (`file_id`)' },
      ),
    ),
    offset: OffsetSchema,
  },
  { additionalProperties: false, description: 'One classified chat message, published once to every subscriber of its channel' },
);

/** Every frame the server sends, by `type`. */
export const ServerFrameSchemas = {
  subscribed: frame(
    'subscribed',
    'The answer to `subscribe`; then the missed messages (`since`) or the recent ones, then the current mood',
    {
      channel: ChannelSchema,
      viewers: Count,
      epoch: EpochSchema,
      offset: Type.Integer({ minimum: 0, description: "The channel's latest offset (0: nothing published in this epoch)" }),
      recovered: Type.Optional(Type.Boolean({ description: 'Only with `since`: whether every missed message follows' })),
      reason: Type.Optional(Type.String({ description: 'Why `recovered` is false (history trimmed, epoch changed)' })),
    },
  ),
  unsubscribed: frame('unsubscribed', 'The answer to `unsubscribe`', { channel: ChannelSchema }),
  message: MessageFrameSchema,
  messages: frame('messages', "A batched subscription's messages of one tick, instead of `message` frames", {
    channel: ChannelSchema,
    items: Type.Array(MessageFrameSchema),
  }),
  mood: frame('mood', "The channel's mood, every mood tick while it has traffic, once more when it falls quiet", {
    channel: ChannelSchema,
    counts: LabelCountsSchema,
    score: MoodSummarySchema.properties.score,
    rate: MoodSummarySchema.properties.rate,
    window_s: MoodSummarySchema.properties.window_s,
    ts: EpochMsSchema,
    long: MoodSummarySchema,
  }),
  moment: frame(
    'moment',
    'A hype or tilt moment: a burst of chat with a strong swing against the channel\'s own baseline (docs/protocol.md, "Moments")',
    {
      channel: ChannelSchema,
      ...MomentFields,
    },
  ),
  presence: frame('presence', "The channel's subscriber count changed (coalesced)", {
    channel: ChannelSchema,
    viewers: Count,
    external_viewers: Type.Optional(Type.Integer({ minimum: 0, description: "The platform's own count (TikTok)" })),
  }),
  likes: frame('likes', "Like totals changed (coalesced; on `tiktok:` channels TikTok's own total)", {
    channel: ChannelSchema,
    total: Count,
    message_id: Type.Optional(Type.String()),
    message_likes: Type.Optional(Count),
  }),
  delete: frame('delete', 'A message was removed (moderation, or a Twitch CLEARMSG/CLEARCHAT)', {
    channel: ChannelSchema,
    message_id: Type.String(),
  }),
  gift: frame('gift', 'A TikTok gift, once per finished streak', {
    channel: ChannelSchema,
    user: ChatUserSchema,
    gift: Type.String(),
    count: Type.Integer({ minimum: 1 }),
    diamonds: Count,
    ts: EpochMsSchema,
  }),
  ack: frame('ack', "The answer to a `chat` frame with a `ref`: the message is in the channel's history", {
    ref: RefSchema,
    id: MessageIdSchema,
    offset: OffsetSchema,
  }),
  closed: frame('closed', 'The room was closed, or the ingested stream stopped; posting is refused from now on', {
    channel: ChannelSchema,
    reason: Type.Optional(ClosedReasonSchema),
  }),
  room_state: frame('room_state', 'A lifecycle room changed state (docs/protocol.md, room lifecycle)', {
    channel: ChannelSchema,
    state: RoomStateSchema,
    ends_at: Type.Union([EpochMsSchema, Type.Null()], { description: 'When this state ends unless a member acts first; null once ended' }),
  }),
  notification: frame('notification', 'For one user, on every socket of theirs on any process (matching, room lifecycle)', {
    kind: Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: 'At least `matched` and `room_state`' }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'The payload of its kind (docs/protocol.md)' }),
    ts: EpochMsSchema,
  }),
  pong: frame('pong', 'The answer to `ping`', {}),
  authed: frame('authed', 'The answer to an accepted `auth`: the socket goes on as the new token', {
    expires_at: Type.Integer({ description: "The new token's expiry, epoch ms" }),
  }),
  error: frame('error', 'A refused frame; the connection stays open', {
    code: Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: 'Stable, snake_case' }),
    message: Type.String(),
    channel: Type.Optional(ChannelSchema),
    retry_after_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    ref: Type.Optional(RefSchema),
  }),
} satisfies Record<string, TObject>;

type Schemas = typeof ServerFrameSchemas;
export type ServerFrameType = keyof Schemas;
export type ServerFrameOf<K extends ServerFrameType> = Static<Schemas[K]>;
export type ServerFrame = { [K in ServerFrameType]: ServerFrameOf<K> }[ServerFrameType];
export const SERVER_FRAME_TYPES = Object.keys(ServerFrameSchemas) as ServerFrameType[];

type MessageFrame = ServerFrameOf<'message'>;
type Fields<K extends ServerFrameType> = Omit<ServerFrameOf<K>, 'type'>;

/** The user as the wire shows it: its fields in a fixed order (a source's extras stay behind). */
const chatUser = (u: ChatUser): ChatUser => ({
  id: u.id,
  name: u.name,
  badges: u.badges,
  color: u.color,
  display_name: u.display_name,
  avatar_url: u.avatar_url,
});
const summary = (m: MoodSummary): MoodSummary => ({ counts: m.counts, score: m.score, rate: m.rate, window_s: m.window_s });

// JSON.stringify leaves out undefined fields, so optional ones are written in place and vanish when absent.
const PONG = JSON.stringify({ type: 'pong' } satisfies ServerFrameOf<'pong'>);

/** A message frame without its offset and closing brace (see `messageFrames.head`). */
const messageHead = (m: Omit<Fields<'message'>, 'offset'>): string =>
  JSON.stringify({
    type: 'message',
    channel: m.channel,
    id: m.id,
    user: chatUser(m.user),
    text: m.text,
    sentiment: { label: m.sentiment.label, score: m.sentiment.score },
    ts: m.ts,
    source: m.source,
    source_id: m.source_id,
    sent_ts: m.sent_ts,
    emotes: m.emotes,
    file: m.file && { id: m.file.id, url: m.file.url, content_type: m.file.content_type },
  } satisfies Omit<MessageFrame, 'offset'>).slice(0, -1);
const withOffset = (head: string, offset: number): string => `${head},"offset":${offset}}`;

/** Every server frame's constructor: JSON text in the contract's shape and field order. */
export const frames = {
  subscribed: (s: Fields<'subscribed'>): string =>
    JSON.stringify({
      type: 'subscribed',
      channel: s.channel,
      viewers: s.viewers,
      epoch: s.epoch,
      offset: s.offset,
      recovered: s.recovered,
      reason: s.reason,
    } satisfies ServerFrameOf<'subscribed'>),
  unsubscribed: (channel: string): string => JSON.stringify({ type: 'unsubscribed', channel } satisfies ServerFrameOf<'unsubscribed'>),
  message: (m: Fields<'message'>): string => withOffset(messageHead(m), m.offset),
  /** Joins message frames already serialized by `message()`: a batch costs no re-encoding. */
  messages: (channel: string, items: readonly string[]): string =>
    `{"type":"messages","channel":${JSON.stringify(channel)},"items":[${items.join(',')}]}`,
  mood: (channel: string, short: MoodSummary, long: MoodSummary, ts: number): string =>
    JSON.stringify({ type: 'mood', channel, ...summary(short), ts, long: summary(long) } satisfies ServerFrameOf<'mood'>),
  moment: (channel: string, kind: MomentKind, score: number, ts: number, sample: readonly string[]): string =>
    JSON.stringify({ type: 'moment', channel, kind, score, ts, sample: [...sample] } satisfies ServerFrameOf<'moment'>),
  presence: (channel: string, viewers: number, externalViewers?: number): string =>
    JSON.stringify({ type: 'presence', channel, viewers, external_viewers: externalViewers } satisfies ServerFrameOf<'presence'>),
  likes: (channel: string, total: number, messageId?: string, messageLikes?: number): string =>
    JSON.stringify({ type: 'likes', channel, total, message_id: messageId, message_likes: messageLikes } satisfies ServerFrameOf<'likes'>),
  delete: (channel: string, messageId: string): string =>
    JSON.stringify({ type: 'delete', channel, message_id: messageId } satisfies ServerFrameOf<'delete'>),
  gift: (g: Fields<'gift'>): string =>
    JSON.stringify({
      type: 'gift',
      channel: g.channel,
      user: chatUser(g.user),
      gift: g.gift,
      count: g.count,
      diamonds: g.diamonds,
      ts: g.ts,
    } satisfies ServerFrameOf<'gift'>),
  closed: (channel: string, reason?: ClosedReason): string =>
    JSON.stringify((reason ? { type: 'closed', channel, reason } : { type: 'closed', channel }) satisfies ServerFrameOf<'closed'>),
  room_state: (channel: string, state: RoomState, endsAt: number | null): string =>
    JSON.stringify({ type: 'room_state', channel, state, ends_at: endsAt } satisfies ServerFrameOf<'room_state'>),
  notification: (kind: string, data: Record<string, unknown>, ts: number): string =>
    JSON.stringify({ type: 'notification', kind, data, ts } satisfies ServerFrameOf<'notification'>),
  pong: (): string => PONG,
  authed: (expiresAt: number): string => JSON.stringify({ type: 'authed', expires_at: expiresAt } satisfies ServerFrameOf<'authed'>),
  ack: (ref: string, id: string, offset: number): string => JSON.stringify({ type: 'ack', ref, id, offset } satisfies ServerFrameOf<'ack'>),
  error: (e: Fields<'error'>): string =>
    JSON.stringify({
      type: 'error',
      code: e.code,
      message: e.message,
      channel: e.channel,
      retry_after_ms: e.retry_after_ms,
      ref: e.ref,
    } satisfies ServerFrameOf<'error'>),
} satisfies Record<ServerFrameType, (...args: never[]) => string>;

/**
 * Message frames in two steps: the offset is assigned where the message enters its channel's history (in
 * Redis inside the script that appends it), after the rest of the frame was built.
 */
export const messageFrames = { head: messageHead, withOffset };
