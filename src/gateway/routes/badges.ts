// Badges a room's host or moderators award (`winner`, ...): shown in that user's `message` frames in that room.
import { Type } from '@sinclair/typebox';
import type { Principal } from '../../auth/index.js';
import { MAX_BADGES_PER_USER, type RoomService } from '../../channels/rooms.js';
import { BadgesReply } from '../../contract/index.js';
import { route, type Route } from '../router.js';

const BADGE_PATTERN = '^[a-z][a-z0-9_-]{0,31}$';
const BadgeBody = Type.Object(
  {
    user_id: Type.String({ minLength: 1, maxLength: 64 }),
    badge: Type.String({
      pattern: BADGE_PATTERN,
      maxLength: 32,
      description: 'Lowercase, e.g. `winner`; not `host`, `moderator` or `admin`',
    }),
  },
  { additionalProperties: false },
);

export function badgeRoutes(rooms: Pick<RoomService, 'awardBadge' | 'removeBadge'>): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/badges',
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Award a badge to a user in this room (host, moderator or admin)',
      description: `The user must exist (404). A user holds at most ${MAX_BADGES_PER_USER} awarded badges in a room (409 \`quota_exceeded\`); awarding one held already changes nothing.`,
      body: BadgeBody,
      response: BadgesReply,
      responses: { 403: 'Not the host, a moderator or an admin', 404: 'No such room or user', 409: 'Too many badges (`quota_exceeded`)' },
      handler: async ({ params, principal, body }) => {
        const badges = await rooms.awardBadge(who(principal), params.id as string, body.user_id, body.badge);
        return { body: { room_id: params.id, user_id: body.user_id, badges } };
      },
    }),
    route({
      method: 'del',
      path: '/api/v1/rooms/:id/badges/:userId/:badge',
      auth: 'user',
      rateLimit: 'api',
      tag: 'rooms',
      summary: 'Take an awarded badge back (host, moderator or admin)',
      response: BadgesReply,
      responses: { 403: 'Not the host, a moderator or an admin', 404: 'No such room, or the user holds no such badge' },
      handler: async ({ params, principal }) => {
        const userId = params.userId as string;
        const badges = await rooms.removeBadge(who(principal), params.id as string, userId, params.badge as string);
        return { body: { room_id: params.id, user_id: userId, badges } };
      },
    }),
  ];
}
