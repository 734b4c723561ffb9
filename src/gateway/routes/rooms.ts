// Native chat rooms over REST: create, list, read, close, moderators, message deletion and timeouts.
// Chat itself happens on the WebSocket (`room:<id>` channels); these are the host's controls.
import { Type } from '@sinclair/typebox';
import { ulid } from 'ulid';
import type { Principal } from '../../auth/index.js';
import { badRequest } from '../../errors.js';
import { ROOM_ID_PATTERN, roomView, type RoomService } from '../../channels/index.js';
import { route, type Route } from '../router.js';
import { parseTime } from '../time.js';

const Time = Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Integer({ minimum: 0 })]);
const CreateRoomBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: ROOM_ID_PATTERN, maxLength: 64 })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    opens_at: Type.Optional(Time),
    closes_at: Type.Optional(Time),
  },
  { additionalProperties: false },
);
const ModeratorBody = Type.Object({ username: Type.String({ minLength: 3, maxLength: 32 }) }, { additionalProperties: false });
const timeoutBody = (maxS: number) =>
  Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 64 }), duration_s: Type.Integer({ minimum: 1, maximum: maxS }) }, { additionalProperties: false });

export const MAX_TIMEOUT_S = 7 * 24 * 3600;

export function roomRoutes(rooms: RoomService): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'post', path: '/api/v1/rooms', auth: 'user', rateLimit: 'api', tag: 'rooms', summary: 'Create a room (the caller hosts it)',
      body: CreateRoomBody,
      handler: async ({ body, principal }) => {
        const room = await rooms.create(who(principal), {
          id: body.id ?? ulid().toLowerCase(),
          ...(body.title === undefined ? {} : { title: body.title }),
          ...(body.opens_at === undefined ? {} : { opensAt: parseTime(body.opens_at, 'opens_at') }),
          ...(body.closes_at === undefined ? {} : { closesAt: parseTime(body.closes_at, 'closes_at') }),
        });
        return { status: 201, body: roomView(room) };
      },
    }),
    route({
      method: 'get', path: '/api/v1/rooms', auth: 'user', tag: 'rooms', summary: 'Rooms, oldest first (`limit`, `after`)',
      handler: async ({ query }) => {
        const raw = query.get('limit');
        const limit = raw === null ? 50 : Number(raw);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest('limit must be an integer from 1 to 100', 'validation_failed');
        const page = await rooms.list(limit + 1, query.get('after') ?? undefined);
        const items = page.slice(0, limit).map((r) => roomView(r));
        return { body: page.length > limit ? { items, next: items[items.length - 1]?.id } : { items } };
      },
    }),
    route({
      method: 'get', path: '/api/v1/rooms/:id', auth: 'user', tag: 'rooms', summary: 'One room',
      handler: async ({ params }) => ({ body: roomView(await rooms.get(params.id as string)) }),
    }),
    route({
      method: 'post', path: '/api/v1/rooms/:id/close', auth: 'user', rateLimit: 'api', tag: 'rooms', summary: 'Close a room for good (host or admin); subscribers get a `closed` frame',
      handler: async ({ params, principal }) => ({ body: roomView(await rooms.close(who(principal), params.id as string)) }),
    }),
    route({
      method: 'post', path: '/api/v1/rooms/:id/moderators', auth: 'user', rateLimit: 'api', tag: 'rooms', summary: 'Appoint a moderator (host or admin)',
      body: ModeratorBody,
      handler: async ({ params, principal, body }) => ({ body: roomView(await rooms.addModerator(who(principal), params.id as string, body.username)) }),
    }),
    route({
      method: 'del', path: '/api/v1/rooms/:id/moderators/:userId', auth: 'user', rateLimit: 'api', tag: 'rooms', summary: 'Remove a moderator (host or admin)',
      handler: async ({ params, principal }) => ({ body: roomView(await rooms.removeModerator(who(principal), params.id as string, params.userId as string)) }),
    }),
    route({
      method: 'del', path: '/api/v1/rooms/:id/messages/:messageId', auth: 'user', rateLimit: 'api', tag: 'rooms', summary: 'Delete a message (host, moderator or admin); subscribers get a `delete` frame',
      handler: async ({ params, principal }) => {
        await rooms.deleteMessage(who(principal), params.id as string, params.messageId as string);
        return { status: 204 };
      },
    }),
    route({
      method: 'post', path: '/api/v1/rooms/:id/timeouts', auth: 'user', rateLimit: 'api', tag: 'rooms', summary: 'Stop a user posting for a while (host, moderator or admin)',
      body: timeoutBody(MAX_TIMEOUT_S),
      handler: async ({ params, principal, body }) => {
        const until = await rooms.timeout(who(principal), params.id as string, body.user_id, body.duration_s);
        return { body: { room_id: params.id, user_id: body.user_id, until: new Date(until).toISOString() } };
      },
    }),
  ];
}
