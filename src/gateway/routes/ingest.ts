// Ingestion over REST: define a Twitch or TikTok stream to ingest, list them with their live state, stop one.
import { Type } from '@sinclair/typebox';
import type { Principal } from '../../auth/index.js';
import type { IngestManager } from '../../ingest/index.js';
import { route, type Route } from '../router.js';

const StartBody = Type.Object(
  {
    source: Type.Union([Type.Literal('twitch'), Type.Literal('tiktok')]),
    channel: Type.String({ minLength: 1, maxLength: 64, description: 'Twitch login or TikTok unique id (a leading # or @ is accepted)' }),
  },
  { additionalProperties: false },
);

const Counters = Type.Object({
  messages: Type.Integer(), dropped: Type.Integer(), deletes: Type.Integer(), members: Type.Integer(), gifts: Type.Integer(), reconnects: Type.Integer(),
});
export const IngestViewSchema = Type.Object({
  id: Type.String(),
  source: Type.Union([Type.Literal('twitch'), Type.Literal('tiktok')]),
  channel: Type.String(),
  ws_channel: Type.String({ description: 'The channel its messages appear on, e.g. twitch:somechannel' }),
  status: Type.Union(['connecting', 'live', 'reconnecting', 'ended', 'error'].map((s) => Type.Literal(s))),
  owner: Type.Union([Type.String({ description: '<host>:<pid> of the owning process' }), Type.Null()]),
  created_by: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  counters: Counters,
  viewers: Type.Union([Type.Integer(), Type.Null()]),
  likes: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
});

export function ingestRoutes(ingest: IngestManager): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'post', path: '/api/v1/ingest', auth: 'user', rateLimit: 'api', tag: 'ingest',
      summary: 'Start ingesting a Twitch chat or TikTok LIVE (201); a stream already ingested is returned as is (200)',
      body: StartBody,
      response: IngestViewSchema,
      handler: async ({ body, principal }) => {
        const { view, created } = await ingest.create(who(principal), body.source, body.channel);
        return { status: created ? 201 : 200, body: view };
      },
    }),
    route({
      method: 'get', path: '/api/v1/ingest', auth: 'user', tag: 'ingest', summary: 'Every ingested stream with its status, owner and counters',
      response: Type.Object({ items: Type.Array(IngestViewSchema) }),
      handler: async () => ({ body: { items: await ingest.list() } }),
    }),
    route({
      method: 'get', path: '/api/v1/ingest/:id', auth: 'user', tag: 'ingest', summary: 'One ingested stream',
      response: IngestViewSchema,
      handler: async ({ params }) => ({ body: await ingest.get(params.id as string) }),
    }),
    route({
      method: 'del', path: '/api/v1/ingest/:id', auth: 'user', rateLimit: 'api', tag: 'ingest', summary: 'Stop ingesting (its creator or an admin)',
      handler: async ({ params, principal }) => {
        await ingest.remove(who(principal), params.id as string);
        return { status: 204 };
      },
    }),
  ];
}
