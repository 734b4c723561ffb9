// The words every frame and reply shares, each declared once: platforms, message sources, room and ingest
// states, roles, channel names, label counts. Server code takes its types from here (Static<>), never the reverse.
import { Type, type Static } from '@sinclair/typebox';

export const SourceKindSchema = Type.Union([Type.Literal('twitch'), Type.Literal('tiktok')], { description: 'An ingested platform' });
/** The platforms ChatPulse ingests from. */
export type SourceKind = Static<typeof SourceKindSchema>;
export const SOURCE_KINDS: readonly SourceKind[] = SourceKindSchema.anyOf.map((s) => s.const);

export const MessageSourceSchema = Type.Union([Type.Literal('native'), ...SourceKindSchema.anyOf], {
  description: "Where a message came from: a room's own chat (`native`) or an ingested platform",
});
export type MessageSource = Static<typeof MessageSourceSchema>;

export const RoomStatusSchema = Type.Union([
  Type.Literal('scheduled'),
  Type.Literal('open'),
  Type.Literal('ended'),
  Type.Literal('closed'),
]);
export type RoomStatus = Static<typeof RoomStatusSchema>;

/** A lifecycle room's phase (private rooms from matching, rooms created with `lifecycle: true`). */
export const RoomStateSchema = Type.Union(
  [Type.Literal('active'), Type.Literal('countdown'), Type.Literal('decision'), Type.Literal('kept'), Type.Literal('ended')],
  { description: '`kept` is announced when every member kept the room, which is `active` again at once' },
);
export type RoomState = Static<typeof RoomStateSchema>;

export const IngestStatusSchema = Type.Union([
  Type.Literal('connecting'),
  Type.Literal('live'),
  Type.Literal('reconnecting'),
  Type.Literal('ended'),
  Type.Literal('error'),
]);
export type IngestStatus = Static<typeof IngestStatusSchema>;

export const RoleSchema = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
export type Role = Static<typeof RoleSchema>;

/** `room:<id>` (1-64 id characters), `twitch:<login>` or `tiktok:<user>`: 72 characters at most. */
export const MAX_CHANNEL_LENGTH = 72;
export const ChannelSchema = Type.String({
  minLength: 1,
  maxLength: MAX_CHANNEL_LENGTH,
  description: '`room:<id>`, `twitch:<login>` or `tiktok:<user>`',
});

/** Message ids are ULIDs: they sort by publish time, which is what paging and replay rely on. */
export const MessageIdSchema = Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$', description: 'A ULID' });

/** Labels are the served model's own (`GET /api/v1/model`), so they are names, not a fixed set. */
export const LabelSchema = Type.String({ description: "One of the served model's labels" });
export const LabelCountsSchema = Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Messages per label' });

/** Epoch milliseconds. */
export const EpochMsSchema = Type.Integer({ description: 'Epoch milliseconds' });

/** One emote occurrence in a message's text: `start`/`end` are inclusive UTF-16 offsets into `text`. */
export const EmoteSpanSchema = Type.Object(
  { id: Type.String(), name: Type.String(), start: Type.Integer({ minimum: 0 }), end: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type EmoteSpan = Static<typeof EmoteSpanSchema>;

/** A channel's moment: a burst of chat with a strong positive (`hype`) or negative (`tilt`) swing (docs/protocol.md, "Moments"). */
export const MomentKindSchema = Type.Union([Type.Literal('hype'), Type.Literal('tilt')], {
  description: '`hype`: a burst of chat much more positive than the channel was; `tilt`: much more negative',
});
export type MomentKind = Static<typeof MomentKindSchema>;

/** At most this many sample lines ride along with a moment, each at most MOMENT_SAMPLE_CHARS characters. */
export const MOMENT_SAMPLES = 3;
export const MOMENT_SAMPLE_CHARS = 120;

/** What a moment says, on the wire and in history: its kind, the burst's mean polarity, when, and a few of its lines. */
export const MomentFields = {
  kind: MomentKindSchema,
  score: Type.Number({
    minimum: -1,
    maximum: 1,
    description: "The burst's mood score: mean P(positive) - P(negative) over the short window",
  }),
  ts: EpochMsSchema,
  sample: Type.Array(Type.String({ maxLength: MOMENT_SAMPLE_CHARS }), {
    maxItems: MOMENT_SAMPLES,
    description: `Up to ${MOMENT_SAMPLES} lines of the burst that lean its way, oldest first; a longer line is cut to ${MOMENT_SAMPLE_CHARS} characters, the last one \`\u2026\``,
  }),
};

/** A channel's sentiment over one window. */
export const MoodSummarySchema = Type.Object(
  {
    counts: LabelCountsSchema,
    score: Type.Union([Type.Number({ minimum: -1, maximum: 1 }), Type.Null()], {
      description: 'Mean of P(positive) - P(negative), in [-1, 1]; null with no messages in the window (quiet, not neutral)',
    }),
    rate: Type.Number({ minimum: 0, description: 'Messages per second' }),
    window_s: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type MoodSummary = Static<typeof MoodSummarySchema>;
