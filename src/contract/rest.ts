// REST replies: the body of every JSON answer of `/api/v1` and the ops routes. The router documents them in
// the OpenAPI document; the SDK's types are their Static<>. Request bodies stay with the gateway (their
// bounds come from configuration).
import { Type, type Static } from '@sinclair/typebox';
import { ChatUserSchema, SentimentTagSchema } from './frames.js';
import {
  EpochMsSchema,
  IngestStatusSchema,
  LabelCountsSchema,
  MessageSourceSchema,
  MomentFields,
  MoodSummarySchema,
  RoleSchema,
  RoomStateSchema,
  RoomStatusSchema,
  SourceKindSchema,
} from './vocabulary.js';

/** Every error, whatever the route: `{"error":{"code","message"}}`. */
export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

const next = (what: string) => Type.Optional(Type.String({ description: `Pass as \`${what}\` for the next page; absent on the last` }));

// ------------------------------------------------------------------------------------------ ops, docs

export const HealthReply = Type.Object({ status: Type.Literal('ok') });
export const ReadyReply = Type.Object({
  status: Type.Literal('ready'),
  degraded: Type.Optional(
    Type.Array(Type.String(), {
      description: 'What is failing while the process still serves, e.g. a MongoDB outage that the write spool absorbs',
    }),
  ),
});
export const NotReadyReply = Type.Object(
  {
    status: Type.Literal('not_ready'),
    error: Type.Object({ code: Type.Literal('not_ready'), message: Type.String({ description: 'Why not' }) }),
  },
  {
    description:
      'Not ready: loading the model, Redis unreachable, the write spool full or draining (a process at its WebSocket connection limit stays ready: it still serves REST)',
  },
);
export const MetricsReply = Type.String({ description: 'Prometheus text exposition format' });
export const OpenApiReply = Type.Object(
  { openapi: Type.String(), info: Type.Object({ title: Type.String(), version: Type.String() }), paths: Type.Object({}) },
  { description: 'The OpenAPI 3.1 document (JSON)' },
);
export const AsyncApiReply = Type.Object(
  {
    asyncapi: Type.Literal('3.0.0'),
    info: Type.Object({ title: Type.String(), version: Type.String() }),
    channels: Type.Object({}),
    operations: Type.Object({}),
    components: Type.Object({}),
  },
  { description: 'The AsyncAPI 3.0 document of the WebSocket protocol at `/ws` (JSON)' },
);

// ------------------------------------------------------------------------------------------ auth, account

export const TokenPairReply = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
});
export const UserReply = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: RoleSchema,
  created_at: Type.String(),
  display_name: Type.Optional(Type.String()),
  avatar_url: Type.Optional(Type.String()),
  disabled: Type.Optional(Type.Boolean({ description: 'Admin views only' })),
});
export const UserListReply = Type.Object({ items: Type.Array(UserReply), next: next('after') }, { title: 'UserList' });
export const ApiKeyInfoReply = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    prefix: Type.String({ description: 'The first characters of the key, to tell keys apart' }),
    created_at: Type.String(),
    last_used_at: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'ApiKey' },
);
export const CreatedApiKeyReply = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    key: Type.String({ description: 'The key itself: shown only in this reply (the server keeps its hash)' }),
    prefix: Type.String(),
    created_at: Type.String(),
  },
  { title: 'CreatedApiKey' },
);
export const ApiKeyListReply = Type.Object({ items: Type.Array(ApiKeyInfoReply) }, { title: 'ApiKeyList' });

// ------------------------------------------------------------------------------------------ sentiment

const Scores = Type.Record(Type.String(), Type.Number());
const PredictedBy = Type.String({ description: 'The instance that answered: the same value as `X-Instance`' });
const SentimentItem = Type.Object({ label: Type.String(), score: Type.Number(), scores: Scores, model: Type.String() });
export const SentimentReply = Type.Object({ ...SentimentItem.properties, predicted_by: PredictedBy });
export const BatchReply = Type.Object({
  results: Type.Array(SentimentItem),
  model: Type.String(),
  count: Type.Integer(),
  predicted_by: PredictedBy,
});
export const ModelReply = Type.Object(
  {
    name: Type.String(),
    labels: Type.Array(Type.String(), { description: "In the order of the model's outputs" }),
    max_length: Type.Integer({ description: 'Tokens per text; longer texts are truncated' }),
    quantized: Type.Boolean(),
    model_type: Type.Union([Type.String(), Type.Null()]),
    limits: Type.Object({ max_text_length: Type.Integer(), max_batch_texts: Type.Integer() }),
    engine: Type.Object({
      threads: Type.Integer(),
      batches: Type.Integer(),
      items: Type.Integer(),
      queued: Type.Integer(),
      cache_hit_ratio: Type.Number(),
      dedup_hits: Type.Integer(),
      shed: Type.Integer(),
    }),
  },
  { title: 'Model' },
);

// ------------------------------------------------------------------------------------------ rooms

const IsoTime = Type.Union([Type.String(), Type.Null()]);
export const RoomReply = Type.Object(
  {
    id: Type.String(),
    channel: Type.String({ description: 'The WebSocket channel of its chat: `room:<id>`' }),
    title: Type.String(),
    owner_id: Type.Union([Type.String(), Type.Null()], {
      description: 'Null only for rooms auto-created by a first post in older versions',
    }),
    moderators: Type.Array(Type.String(), { description: 'User ids' }),
    opens_at: IsoTime,
    closes_at: IsoTime,
    closed_at: IsoTime,
    created_at: Type.Union([Type.String(), Type.Null()], {
      description: 'Null only for a stored time no date can show (a damaged record)',
    }),
    status: RoomStatusSchema,
    state: Type.Optional(RoomStateSchema),
    state_ends_at: Type.Optional(
      Type.Union([Type.String(), Type.Null()], { description: 'Lifecycle rooms: when `state` ends unless a member acts first' }),
    ),
  },
  { title: 'Room' },
);
export const RoomListReply = Type.Object({ items: Type.Array(RoomReply), next: next('after') }, { title: 'RoomList' });
export const TimeoutReply = Type.Object({
  room_id: Type.String(),
  user_id: Type.String(),
  until: Type.String({ description: 'When the user may post again (ISO 8601)' }),
});

// ------------------------------------------------------------------------------------------ matching

const MatchWords = (what: string) => Type.Array(Type.String(), { description: `The ${what} queued with (lower-cased)` });
export const MatchQueuedReply = Type.Object(
  {
    ticket: Type.String({ description: 'This ticket; a new one replaces it when you queue again' }),
    position: Type.Integer({ minimum: 1, description: 'Place in the queue, oldest first (1: the longest waiting)' }),
  },
  { title: 'MatchQueued' },
);
export const MatchTicketReply = Type.Object(
  {
    ticket: Type.String(),
    position: Type.Integer({ minimum: 1 }),
    queued_at: Type.String({ description: 'ISO 8601' }),
    interests: MatchWords('interests'),
    languages: MatchWords('languages'),
  },
  { title: 'MatchTicket' },
);
/** The `data` of a `matched` notification. */
export const MatchedNotification = Type.Object(
  {
    room: Type.String({ description: 'The new private room: `room:<id>`' }),
    partner: Type.Object({ id: Type.String(), name: Type.String() }),
    score: Type.Number({ minimum: 0, maximum: 1, description: 'The compatibility score (docs/protocol.md, "Matching")' }),
  },
  { title: 'Matched' },
);

// ------------------------------------------------------------------------------------------ history

export const LiveChannelReply = Type.Object(
  {
    channel: Type.String(),
    viewers: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'Subscribers cluster-wide; null when this process does not watch it',
    }),
    external_viewers: Type.Optional(Type.Integer({ minimum: 0, description: "The platform's own viewer count (TikTok)" })),
    mood: MoodSummarySchema,
  },
  { title: 'LiveChannel' },
);
export const ChannelSummaryReply = Type.Object(
  {
    channel: Type.String(),
    messages: Type.Integer({ minimum: 0, description: "Stored messages over the channel's whole history" }),
    counts: LabelCountsSchema,
    last_ts: Type.Integer({ description: 'Last stored activity, epoch ms' }),
    live: Type.Union([LiveChannelReply, Type.Null()], { description: 'Present while the channel has traffic now' }),
  },
  { title: 'ChannelSummary' },
);
export const ChannelListReply = Type.Object({ items: Type.Array(ChannelSummaryReply) }, { title: 'ChannelList' });
/** A stored message as history lists it (not a frame: no `type`, and its polarity). */
export const HistoryMessageReply = Type.Object(
  {
    id: Type.String(),
    channel: Type.String(),
    source: MessageSourceSchema,
    user: Type.Object({ id: Type.String(), name: Type.String(), badges: ChatUserSchema.properties.badges }),
    text: Type.String(),
    sentiment: SentimentTagSchema,
    polarity: Type.Number({ description: 'P(positive) - P(negative)' }),
    ts: EpochMsSchema,
    source_id: Type.Optional(Type.String()),
  },
  { title: 'HistoryMessage' },
);
export const HistoryMessageListReply = Type.Object(
  { items: Type.Array(HistoryMessageReply), next: next('before') },
  { title: 'HistoryMessageList' },
);
export const TimelinePointReply = Type.Object({
  ts: Type.Integer({ description: 'Bucket start, epoch ms' }),
  counts: LabelCountsSchema,
  score: Type.Union([Type.Number(), Type.Null()], { description: 'Mean polarity; null for an empty bucket' }),
});
export const TimelineReply = Type.Object(
  {
    channel: Type.String(),
    from: EpochMsSchema,
    to: EpochMsSchema,
    bucket: Type.Integer({ description: 'Seconds' }),
    buckets: Type.Array(TimelinePointReply),
  },
  { title: 'Timeline' },
);

export const MomentReply = Type.Object(MomentFields, { title: 'Moment' });
export const MomentListReply = Type.Object(
  { channel: Type.String(), moments: Type.Array(MomentReply, { description: 'Newest first' }) },
  { title: 'MomentList' },
);

// ------------------------------------------------------------------------------------------ reports

const Quote = Type.Object({ id: Type.String(), text: Type.String(), score: Type.Number({ description: 'Polarity' }) });
export const ReportSummaryReply = Type.Object({
  messages: Type.Integer({ minimum: 0 }),
  counts: LabelCountsSchema,
  score: Type.Union([Type.Number(), Type.Null()], { description: 'Mean polarity; null without messages' }),
  bucket_s: Type.Integer(),
  buckets: Type.Array(TimelinePointReply),
  most_negative: Type.Array(Quote),
  most_positive: Type.Array(Quote),
});
export const ReportReply = Type.Object(
  {
    id: Type.String(),
    owner_id: Type.String(),
    channel: Type.String(),
    title: Type.String(),
    from: IsoTime,
    to: IsoTime,
    created_at: Type.Union([Type.String(), Type.Null()], { description: 'ISO 8601; null only for a damaged stored record' }),
    summary: ReportSummaryReply,
  },
  { title: 'Report' },
);
export const ReportListReply = Type.Object({ items: Type.Array(ReportReply), next: next('before') }, { title: 'ReportList' });

// ------------------------------------------------------------------------------------------ ingest

export const IngestCountersReply = Type.Object({
  messages: Type.Integer(),
  dropped: Type.Integer({ description: 'Lines the engine refused (its queue was full)' }),
  deletes: Type.Integer(),
  members: Type.Integer(),
  gifts: Type.Integer(),
  reconnects: Type.Integer(),
});
export const IngestReply = Type.Object(
  {
    id: Type.String(),
    source: SourceKindSchema,
    channel: Type.String(),
    ws_channel: Type.String({ description: 'The channel its messages appear on, e.g. twitch:somechannel' }),
    status: IngestStatusSchema,
    owner: Type.Union([Type.String({ description: '<host>:<pid> of the owning process' }), Type.Null()]),
    created_by: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    counters: IngestCountersReply,
    viewers: Type.Union([Type.Integer(), Type.Null()]),
    likes: Type.Union([Type.Integer(), Type.Null()]),
    last_error: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'Ingest' },
);
export const IngestListReply = Type.Object({ items: Type.Array(IngestReply) }, { title: 'IngestList' });
export const IngestCleanupReply = Type.Object(
  { deleted: Type.Integer({ minimum: 0, description: 'Streams removed: those whose status was `ended` or `error`' }) },
  { title: 'IngestCleanup' },
);

// ------------------------------------------------------------------------------------------ admin

const Counter = Type.Integer({ minimum: 0 });
export const AdminStatsReply = Type.Object(
  {
    users: Type.Object({ total: Counter, by_role: Type.Object({ user: Counter, admin: Counter }) }),
    messages: Type.Object({
      total: Counter,
      by_source: Type.Record(Type.String(), Counter, { description: 'Stored messages per source: `native`, `twitch`, `tiktok`' }),
      by_label: LabelCountsSchema,
      stored: Counter,
    }),
    api_keys: Type.Object({ total: Counter, used_last_24h: Counter }),
    engine: Type.Object({
      model: Type.String(),
      threads: Counter,
      queued: Counter,
      in_flight_batches: Counter,
      batches: Counter,
      items: Counter,
      avg_batch_size: Type.Number(),
      cache_hits: Counter,
      cache_misses: Counter,
      cache_hit_ratio: Type.Number(),
      dedup_hits: Counter,
      shed: Counter,
    }),
    websocket: Type.Object({
      connections: Counter,
      opened: Counter,
      refused: Type.Object({ capacity: Counter, rate: Counter, auth: Counter }),
      frames_in: Counter,
      error_frames: Counter,
      closed: Type.Object({ abuse: Counter, too_big: Counter, abnormal: Counter }),
      messages_published: Counter,
      batch_frames: Counter,
      mood_frames: Counter,
      presence_frames: Counter,
      likes_frames: Counter,
    }),
  },
  { title: 'AdminStats', description: "This process's engine and WebSocket counters; accounts and stored messages cluster-wide" },
);

export const FileReply = Type.Object(
  {
    id: Type.String(),
    url: Type.String({ description: 'Where the bytes are served (relative to this server)' }),
    content_type: Type.Union([
      Type.Literal('image/png'),
      Type.Literal('image/jpeg'),
      Type.Literal('image/gif'),
      Type.Literal('image/webp'),
    ]),
    size: Type.Integer({ minimum: 1, description: 'Bytes' }),
  },
  { title: 'File' },
);
export const ImageReply = Type.String({ description: 'The image bytes, served with the type they were checked to be' });
export const BadgesReply = Type.Object(
  {
    room_id: Type.String(),
    user_id: Type.String(),
    badges: Type.Array(Type.String(), { description: "The user's awarded badges in this room" }),
  },
  { title: 'Badges' },
);
export const LikesReply = Type.Object(
  {
    total: Type.Integer({ minimum: 0, description: "The channel's like total" }),
    message_likes: Type.Optional(Type.Integer({ minimum: 0, description: "With `message_id`: that message's likes" })),
  },
  { title: 'Likes' },
);

// ------------------------------------------------------------------------------------------ profiles

export const ProfileTierSchema = Type.Union(
  [Type.Literal('live'), Type.Literal('fetched'), Type.Literal('generated'), Type.Literal('initials')],
  {
    description:
      '`live`: seen in an ingested event; `fetched`: asked of the platform; `generated`: an identicon; `initials`: an SVG of the initials',
  },
);
export const ProfileReply = Type.Object(
  {
    source: SourceKindSchema,
    username: Type.String({ description: 'The platform login, lower-cased' }),
    display_name: Type.String(),
    avatar_url: Type.String({
      description: "The platform's avatar URL (`live`, `fetched`), else ChatPulse's `/avatar` route for this profile",
    }),
    tier: ProfileTierSchema,
    fetched_at: Type.String({ description: 'ISO 8601: when it was seen, fetched or generated' }),
  },
  { title: 'Profile' },
);
export const ProfileRevalidateReply = Type.Object(
  { accepted: Type.Integer({ minimum: 0, description: 'Usernames queued for a background refresh' }) },
  { title: 'ProfileRevalidate' },
);
const CacheCounts = {
  size: Type.Integer({ minimum: 0 }),
  hits: Type.Integer({ minimum: 0 }),
  misses: Type.Integer({ minimum: 0 }),
  hit_ratio: Type.Number({ minimum: 0, maximum: 1 }),
};
const CacheStats = Type.Object({ ...CacheCounts, max: Type.Integer({ minimum: 0 }) });
export const CacheStatsReply = Type.Object(
  {
    profiles: Type.Object({
      ...CacheCounts,
      max: Type.Integer({ minimum: 0 }),
      by_tier: Type.Record(Type.String(), Type.Object(CacheCounts), {
        description: 'Per tier: `live`, `fetched`, `generated`, `initials`',
      }),
      breakers: Type.Record(Type.String(), Type.Object({ state: Type.String(), opened: Type.Integer({ minimum: 0 }) })),
      revalidations: Type.Integer({ minimum: 0 }),
    }),
    identities: Type.Optional(CacheStats),
  },
  { title: 'CacheStats', description: "This process's caches (each process has its own)" },
);
export const CacheClearReply = Type.Object(
  { cleared: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Expired entries dropped, per cache' }) },
  { title: 'CacheClear' },
);

// ------------------------------------------------------------------------------------------ e-mail

export const AcceptedReply = Type.Object(
  { status: Type.Literal('accepted') },
  { title: 'Accepted', description: 'Taken; the work runs after the answer, which says nothing of its outcome' },
);

// ------------------------------------------------------------------------------------------ audit log

export const AuditEntryReply = Type.Object(
  {
    id: Type.String({ description: 'A ULID (time order); pass as `before` for older entries' }),
    ts: Type.String({ description: 'ISO 8601' }),
    kind: Type.String({ description: 'e.g. `login`, `user.admin_update`, `api_key.create`, `password.reset`, `ingest.start`' }),
    actor: Type.Union([Type.String(), Type.Null()], { description: "The acting user's id; null when nobody was signed in" }),
    target: Type.Union([Type.String(), Type.Null()], { description: 'What it acted on (a user id, username, key, room or stream)' }),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
    ip: Type.String(),
    request_id: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'AuditEntry' },
);
export const AuditListReply = Type.Object({ items: Type.Array(AuditEntryReply), next: next('before') }, { title: 'AuditList' });
export const AuditCleanupReply = Type.Object(
  { deleted: Type.Integer({ minimum: 0, description: 'Entries removed' }) },
  { title: 'AuditCleanup' },
);

/** Every REST reply schema, by name (what the OpenAPI document and the contract test walk). */
export const RestReplies = {
  ErrorReply,
  HealthReply,
  ReadyReply,
  NotReadyReply,
  MetricsReply,
  OpenApiReply,
  AsyncApiReply,
  TokenPairReply,
  UserReply,
  UserListReply,
  ApiKeyInfoReply,
  CreatedApiKeyReply,
  ApiKeyListReply,
  SentimentReply,
  BatchReply,
  ModelReply,
  RoomReply,
  RoomListReply,
  TimeoutReply,
  MatchQueuedReply,
  MatchTicketReply,
  MatchedNotification,
  LiveChannelReply,
  ChannelSummaryReply,
  ChannelListReply,
  HistoryMessageReply,
  HistoryMessageListReply,
  TimelinePointReply,
  TimelineReply,
  MomentReply,
  MomentListReply,
  ReportSummaryReply,
  ReportReply,
  ReportListReply,
  IngestCountersReply,
  IngestReply,
  IngestListReply,
  IngestCleanupReply,
  AdminStatsReply,
  FileReply,
  ImageReply,
  BadgesReply,
  LikesReply,
  ProfileReply,
  ProfileRevalidateReply,
  CacheStatsReply,
  CacheClearReply,
  AcceptedReply,
  AuditEntryReply,
  AuditListReply,
  AuditCleanupReply,
};

export type UserView = Static<typeof UserReply>;
export type RoomView = Static<typeof RoomReply>;
export type IngestView = Static<typeof IngestReply>;
