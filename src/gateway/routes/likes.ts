// Likes over REST, as the WebSocket's `like` frame: a like on a live channel, or on one of its messages (once
// per user); subscribers get the coalesced `likes` frame either way.
import { Type } from '@sinclair/typebox';
import type { ChannelHub } from '../../channels/hub.js';
import { LikesReply } from '../../contract/index.js';
import { route, type Route } from '../router.js';

const LikeBody = Type.Object(
  { message_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Like this message instead of the channel' })) },
  { additionalProperties: false },
);

export function likeRoutes(hub: Pick<ChannelHub, 'like'>): Route[] {
  return [
    route({
      method: 'post',
      path: '/api/v1/channels/:channel/likes',
      auth: 'user',
      rateLimit: 'api',
      tag: 'history',
      summary: 'Like a live channel, or one of its messages (`message_id`, once per user)',
      body: LikeBody,
      optionalBody: true,
      response: LikesReply,
      responses: {
        404: 'No open room or live ingested stream of that name, or no such message',
        409: 'You already liked this message (`already_liked`)',
      },
      handler: async ({ params, principal, body }) => {
        const totals = await hub.like(principal, params.channel as string, body.message_id);
        return {
          body: totals.messageLikes === undefined ? { total: totals.total } : { total: totals.total, message_likes: totals.messageLikes },
        };
      },
    }),
  ];
}
