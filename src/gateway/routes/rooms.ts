// Native chat rooms over REST: create, list, read, close, moderators, message deletion and timeouts.
// Chat itself happens on the WebSocket (`room:<id>` channels); these are the host's controls.
import { Type } from '@sinclair/typebox';
import { ulid } from '../../ids.js';
import type { Principal } from '../../auth/index.js';
import { RoomListReply, RoomReply, TimeoutReply } from '../../contract/index.js';
import { badRequest } from '../../errors.js';
import { MAX_TIMEOUTS_PER_ROOM, ROOM_ID_PATTERN, roomView, type RoomService } from '../../channels/index.js';
import type { RoomLifecycleService } from '../../channels/room-lifecycle.js';
import { route, type Route } from '../router.js';
import { boundedTime } from '../query.js';

/** The longest `open_before_s` / `close_after_s`: 30 days. */
const MAX_EVENT_MARGIN_S = 30 * 86_400;

/** How long a room created with `event_at` opens before it and closes after it (ROOM_OPEN_BEFORE_S, ROOM_CLOSE_AFTER_S). */
export interface EventWindowDefaults {
  openBeforeS: number;
  closeAfterS: number;
}

/**
 * The chat window a create asks for: `opens_at`/`closes_at` as given, or from `event_at` and its margins
 * (never both ways at once, nor margins without an event).
 */
function chatWindow(
  body: {
    opens_at?: string | number;
    closes_at?: string | number;
    event_at?: string | number;
    open_before_s?: number;
    close_after_s?: number;
  },
  defaults: EventWindowDefaults,
): { opensAt?: number; closesAt?: number } {
  if (body.event_at === undefined) {
    if (body.open_before_s !== undefined || body.close_after_s !== undefined) {
      throw badRequest('open_before_s and close_after_s need event_at', 'validation_failed');
    }
    return {
      ...(body.opens_at === undefined ? {} : { opensAt: boundedTime(body.opens_at, 'opens_at') }),
      ...(body.closes_at === undefined ? {} : { closesAt: boundedTime(body.closes_at, 'closes_at') }),
    };
  }
  if (body.opens_at !== undefined || body.closes_at !== undefined) {
    throw badRequest('give event_at or opens_at/closes_at, not both', 'validation_failed');
  }
  const event = boundedTime(body.event_at, 'event_at');
  return {
    opensAt: event - (body.open_before_s ?? defaults.openBeforeS) * 1000,
    closesAt: event + (body.close_after_s ?? defaults.closeAfterS) * 1000,
  };
}

const Time = Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Integer({ minimum: 0 })]);
const CreateRoomBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: ROOM_ID_PATTERN, maxLength: 64 })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    opens_at: Type.Optional(Time),
    closes_at: Type.Optional(Time),
    event_at: Type.Optional(Time),
    open_before_s: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_EVENT_MARGIN_S })),
    close_after_s: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EVENT_MARGIN_S })),
    lifecycle: Type.Optional(
      Type.Boolean({ description: 'active → countdown → decision → kept | ended, as private rooms from matching (docs/protocol.md)' }),
    ),
  },
  { additionalProperties: false },
);
const DecisionBody = Type.Object({ keep: Type.Boolean() }, { additionalProperties: false });
const ModeratorBody = Type.Object({ username: Type.String({ minLength: 3, maxLength: 32 }) }, { additionalProperties: false });
const timeoutBody = (maxS: number) =>
  Type.Object(
    { user_id: Type.String({ minLength: 1, maxLength: 64 }), duration_s: Type.Integer({ minimum: 1, maximum: maxS }) },
    { additionalProperties: false },
  );

export const MAX_TIMEOUT_S = 7 * 24 * 3600;

const RoomListQuery = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$', description: 'Page size, an integer from 1 to 100 (default 50)' })),
  after: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: "Continue after this room id (the previous page's `next`)" }),
  ),
});

export function roomRoutes(
  rooms: RoomService,
  lifecycle?: RoomLifecycleService,
  events: EventWindowDefaults = { openBeforeS: 3600, closeAfterS: 3600 },
): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    ...(lifecycle ? lifecycleRoutes(lifecycle, who) : []),
    route({
      method: 'post',
      path: '/api/v1/rooms',
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Create a room (the caller hosts it)',
      description:
        '`opens_at` / `closes_at` are ISO 8601 or epoch milliseconds, from 2000 to ten years ahead; chat is refused outside that window. ' +
        'Instead, `event_at` opens chat `open_before_s` before it and closes it `close_after_s` after it (defaults `ROOM_OPEN_BEFORE_S`, `ROOM_CLOSE_AFTER_S`); both ways at once is 400. ' +
        'A user creates at most `MAX_ROOMS_PER_USER` rooms (admins: `MAX_ROOMS`); chat, likes and subscriptions never create one.',
      body: CreateRoomBody,
      response: RoomReply,
      responses: {
        201: 'The room',
        400: 'A time out of range, `closes_at` not after `opens_at`, or `event_at` with `opens_at`/`closes_at` (`validation_failed`)',
        409: 'The id is taken (`conflict`), or you created `MAX_ROOMS_PER_USER` rooms already (`quota_exceeded`)',
        503: 'The server holds its maximum of rooms (`room_limit`), or shared state is unreachable (`unavailable`)',
      },
      handler: async ({ body, principal }) => {
        const room = await rooms.create(who(principal), {
          id: body.id ?? ulid().toLowerCase(),
          ...(body.title === undefined ? {} : { title: body.title }),
          ...chatWindow(body, events),
          ...(body.lifecycle === true ? { lifecycle: true } : {}),
        });
        return { status: 201, body: roomView(room) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/rooms',
      auth: 'user',
      tag: 'rooms',
      summary: 'Rooms, oldest first (`limit`, `after`)',
      query: RoomListQuery,
      response: RoomListReply,
      handler: async ({ query }) => {
        const raw = query.get('limit');
        const limit = raw === null ? 50 : Number(raw);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100)
          throw badRequest('limit must be an integer from 1 to 100', 'validation_failed');
        const page = await rooms.list(limit + 1, query.get('after') ?? undefined);
        const items = page.slice(0, limit).map((r) => roomView(r));
        return { body: page.length > limit ? { items, next: items[items.length - 1]?.id } : { items } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/rooms/:id',
      auth: 'user',
      tag: 'rooms',
      summary: 'One room',
      response: RoomReply,
      handler: async ({ params }) => ({ body: roomView(await rooms.get(params.id as string)) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/close',
      audit: { kind: 'room.close' },
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Close a room for good (host or admin); subscribers get a `closed` frame',
      response: RoomReply,
      responses: { 403: 'Not the host or an admin' },
      handler: async ({ params, principal }) => ({ body: roomView(await rooms.close(who(principal), params.id as string)) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/moderators',
      audit: { kind: 'moderation.moderator_add' },
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Appoint a moderator (host or admin)',
      body: ModeratorBody,
      response: RoomReply,
      responses: { 403: 'Not the host or an admin' },
      handler: async ({ params, principal, body }) => ({
        body: roomView(await rooms.addModerator(who(principal), params.id as string, body.username)),
      }),
    }),
    route({
      method: 'del',
      path: '/api/v1/rooms/:id/moderators/:userId',
      audit: { kind: 'moderation.moderator_remove', target: (c) => `${c.params.id ?? ''}/${c.params.userId ?? ''}` },
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Remove a moderator (host or admin)',
      response: RoomReply,
      responses: { 403: 'Not the host or an admin' },
      handler: async ({ params, principal }) => ({
        body: roomView(await rooms.removeModerator(who(principal), params.id as string, params.userId as string)),
      }),
    }),
    route({
      method: 'del',
      path: '/api/v1/rooms/:id/messages/:messageId',
      audit: { kind: 'moderation.message_delete', target: (c) => `${c.params.id ?? ''}/${c.params.messageId ?? ''}` },
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Delete a message (host, moderator or admin); subscribers get a `delete` frame',
      responses: { 204: 'Deleted', 403: 'Not the host, a moderator or an admin' },
      handler: async ({ params, principal }) => {
        await rooms.deleteMessage(who(principal), params.id as string, params.messageId as string);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/timeouts',
      audit: { kind: 'moderation.timeout' },
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Stop a user posting for a while (host, moderator or admin)',
      description: `The user must exist (404). Nobody times out an admin or the host, and only the host or an admin a moderator (403). A room holds at most ${MAX_TIMEOUTS_PER_ROOM} unexpired timeouts (409 \`quota_exceeded\`).`,
      body: timeoutBody(MAX_TIMEOUT_S),
      response: TimeoutReply,
      responses: {
        403: 'Not the host, a moderator or an admin; or the user is an admin, the host, or a moderator and you are not the host',
        404: 'No such room or user',
        409: 'The room holds its maximum of timeouts (`quota_exceeded`)',
      },
      handler: async ({ params, principal, body }) => {
        const until = await rooms.timeout(who(principal), params.id as string, body.user_id, body.duration_s);
        return { body: { room_id: params.id, user_id: body.user_id, until: new Date(until).toISOString() } };
      },
    }),
  ];
}

/** The lifecycle's REST half (the `decide` frame is the other way to decide). */
function lifecycleRoutes(lifecycle: RoomLifecycleService, who: (p: Principal | null) => Principal): Route[] {
  const refusals = {
    403: 'Not a member: the host, a moderator, or a member of a private room (`not_member`)',
    404: 'No such room',
    409: 'Not a lifecycle room (`not_lifecycle_room`), or not in the state this needs (`not_active`, `not_in_decision`)',
  };
  return [
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/countdown',
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'End `active` early: the room goes to `countdown` (a member, while `active`)',
      response: RoomReply,
      responses: { 200: 'The room, in `countdown`', ...refusals },
      handler: async ({ params, principal }) => ({
        body: roomView(await lifecycle.startCountdown(who(principal), params.id as string)),
      }),
    }),
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/decision',
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: "A member's decision in `decision`: `keep: false` ends the room; once every member kept it, it is `active` again",
      body: DecisionBody,
      response: RoomReply,
      responses: { 200: 'The room after the decision', ...refusals },
      handler: async ({ params, principal, body }) => ({
        body: roomView(await lifecycle.decide(who(principal), params.id as string, body.keep)),
      }),
    }),
  ];
}
