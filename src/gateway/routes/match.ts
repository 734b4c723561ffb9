// Matching over REST: queue (or re-queue) with interests and languages, look at your ticket, leave. Pairs
// are announced as `matched` notifications on the user's sockets (docs/protocol.md, "Matching").
import { Type } from '@sinclair/typebox';
import type { Principal } from '../../auth/index.js';
import { MatchQueuedReply, MatchTicketReply } from '../../contract/index.js';
import type { MatchService, QueuedTicket } from '../../social/index.js';
import { route, type Route } from '../router.js';

export const MAX_INTERESTS = 20;
export const MAX_LANGUAGES = 10;

const MatchBody = Type.Object(
  {
    interests: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 32, pattern: '\\S' }), {
        maxItems: MAX_INTERESTS,
        description: 'Topics, compared case-insensitively (shared ones raise the score)',
      }),
    ),
    languages: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 16 }), {
        maxItems: MAX_LANGUAGES,
        description: 'BCP 47 language tags, e.g. `en`, `pt-BR`',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Trimmed, lower-cased, each once, in the order given. */
const words = (list: readonly string[] | undefined): string[] => [...new Set((list ?? []).map((w) => w.trim().toLowerCase()))];

const ticketView = ({ ticket, position }: QueuedTicket) => ({
  ticket: ticket.ticket,
  position,
  queued_at: new Date(ticket.queuedAt).toISOString(),
  interests: ticket.interests,
  languages: ticket.languages,
});

export function matchRoutes(match: MatchService): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'post',
      path: '/api/v1/match',
      auth: 'user',
      rateLimit: 'api',
      tag: 'matching',
      summary: 'Queue for a one-to-one private room (again: replaces your ticket)',
      description:
        'Two queued users are paired cluster-wide by a compatibility score (shared interests, shared languages, how close ' +
        'their recent chat moods are); the minimum score falls to 0 over `MATCH_RELAX_S`. Both then receive a `matched` ' +
        'notification naming a new private room only the two may post to. A ticket whose user has no socket anywhere for ' +
        '`MATCH_GRACE_MS` is dropped.',
      body: MatchBody,
      optionalBody: true,
      response: MatchQueuedReply,
      responses: {
        202: 'Queued',
        400: 'A malformed interest or language tag (`validation_failed`)',
        413: `More than ${MAX_INTERESTS} interests or ${MAX_LANGUAGES} languages, or one too long`,
      },
      handler: async ({ body, principal }) => {
        const p = who(principal);
        const queued = await match.enqueue(
          { userId: p.userId, username: p.username },
          { interests: words(body.interests), languages: words(body.languages) },
        );
        return { status: 202, body: { ticket: queued.ticket.ticket, position: queued.position } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/match',
      auth: 'user',
      tag: 'matching',
      summary: 'Your ticket in the match queue',
      response: MatchTicketReply,
      responses: { 404: 'You are not queued (`not_found`)' },
      handler: async ({ principal }) => ({ body: ticketView(await match.get(who(principal).userId)) }),
    }),
    route({
      method: 'del',
      path: '/api/v1/match',
      auth: 'user',
      tag: 'matching',
      summary: 'Leave the match queue',
      responses: { 204: 'Left', 404: 'You are not queued (`not_found`)' },
      handler: async ({ principal }) => {
        await match.leave(who(principal).userId);
        return { status: 204 };
      },
    }),
  ];
}
