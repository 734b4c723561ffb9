// Client frames: one JSON object per text frame, each `type` with its schema. The gateway validates every
// frame against these before any logic runs; `maxTextLength` is the server's MAX_TEXT_LENGTH.
import { Type, type Static } from '@sinclair/typebox';
import { EpochSchema, RefSchema } from './frames.js';
import { ChannelSchema } from './vocabulary.js';

/** MAX_TEXT_LENGTH's default: what the published documents assume when no server's limit is at hand. */
export const DEFAULT_MAX_TEXT_LENGTH = 2000;

/** Every client frame type's schema (the parser's, the fuzz suite's, the AsyncAPI document's). */
export const clientFrameSchemas = (maxTextLength: number) => ({
  subscribe: Type.Object(
    {
      type: Type.Literal('subscribe'),
      channel: ChannelSchema,
      batch: Type.Optional(Type.Boolean({ description: 'Receive `messages` batches instead of `message` frames' })),
      since: Type.Optional(
        Type.Object(
          { offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), epoch: EpochSchema },
          { additionalProperties: false, description: 'Recover: every message after this offset of this epoch comes first' },
        ),
      ),
    },
    {
      additionalProperties: false,
      description: 'Watch a channel: `subscribed`, then the missed (`since`) or recent messages and the current mood',
    },
  ),
  unsubscribe: Type.Object(
    { type: Type.Literal('unsubscribe'), channel: ChannelSchema },
    { additionalProperties: false, description: 'Stop watching a channel: `unsubscribed`' },
  ),
  chat: Type.Object(
    {
      type: Type.Literal('chat'),
      channel: ChannelSchema,
      text: Type.String({ minLength: 1, maxLength: maxTextLength, pattern: '\\S' }),
      ref: Type.Optional(RefSchema),
      file_id: Type.Optional(
        Type.String({
          pattern: '^[0-9a-hjkmnp-tv-z]{26}$',
          description: 'Attach an image you uploaded to this room (`POST /api/v1/rooms/{id}/files`)',
        }),
      ),
    },
    {
      additionalProperties: false,
      description: 'Post to a room (signed in): classified, then published as a `message` frame; with `ref`, answered by `ack`',
    },
  ),
  like: Type.Object(
    { type: Type.Literal('like'), channel: ChannelSchema, message_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
    { additionalProperties: false, description: 'Like a live channel, or one of its messages (once per user)' },
  ),
  decide: Type.Object(
    { type: Type.Literal('decide'), channel: ChannelSchema, keep: Type.Boolean() },
    {
      additionalProperties: false,
      description: "A member's decision while a lifecycle room is in `decision`: keep it (every member must) or end it",
    },
  ),
  ping: Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false, description: 'Answered with `pong`' }),
  // A fresh access token for the open socket, before its own expires. JWTs here are ~300 bytes.
  auth: Type.Object(
    { type: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 4096 }) },
    { additionalProperties: false, description: 'Go on as a fresh access token of the same user: `authed`' },
  ),
});

type Schemas = ReturnType<typeof clientFrameSchemas>;
export type ClientFrameType = keyof Schemas;
export type ClientFrameOf<K extends ClientFrameType> = Static<Schemas[K]>;
export type ClientFrame = { [K in ClientFrameType]: ClientFrameOf<K> }[ClientFrameType];
