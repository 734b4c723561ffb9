// Ingestion over REST: define a Twitch or TikTok stream to ingest, list them with their live state, stop one,
// and (admins) remove every stream that ended or failed.
import { Type } from '@sinclair/typebox';
import type { Principal } from '../../auth/index.js';
import { IngestCleanupReply, IngestListReply, IngestReply, SourceKindSchema } from '../../contract/index.js';
import type { IngestManager } from '../../ingest/index.js';
import { route, type Route } from '../router.js';

const StartBody = Type.Object(
  {
    source: SourceKindSchema,
    channel: Type.String({ minLength: 1, maxLength: 64, description: 'Twitch login or TikTok unique id (a leading # or @ is accepted)' }),
  },
  { additionalProperties: false },
);

export function ingestRoutes(ingest: IngestManager): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'post',
      path: '/api/v1/ingest',
      audit: {
        kind: 'ingest.start',
        target: (c) => {
          const b = c.body as { source?: string; channel?: string } | undefined;
          return b ? `${b.source ?? ''}:${b.channel ?? ''}` : null;
        },
      },
      auth: 'user',
      rateLimit: 'api',
      tag: 'ingest',
      summary: 'Start ingesting a Twitch chat or TikTok LIVE (201); a stream already ingested is returned as is (200)',
      body: StartBody,
      response: IngestReply,
      handler: async ({ body, principal }) => {
        const { view, created } = await ingest.create(who(principal), body.source, body.channel);
        return { status: created ? 201 : 200, body: view };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/ingest',
      auth: 'user',
      tag: 'ingest',
      summary: 'Every ingested stream with its status, owner and counters',
      response: IngestListReply,
      handler: async () => ({ body: { items: await ingest.list() } }),
    }),
    route({
      method: 'post',
      path: '/api/v1/ingest/cleanup',
      audit: { kind: 'ingest.cleanup', target: () => null },
      auth: 'admin',
      rateLimit: 'api',
      tag: 'ingest',
      summary: 'Remove every stream whose status is `ended` or `error` (admin)',
      response: IngestCleanupReply,
      handler: async () => ({ body: { deleted: await ingest.cleanup() } }),
    }),
    route({
      method: 'get',
      path: '/api/v1/ingest/:id',
      auth: 'user',
      tag: 'ingest',
      summary: 'One ingested stream',
      response: IngestReply,
      handler: async ({ params }) => ({ body: await ingest.get(params.id as string) }),
    }),
    route({
      method: 'del',
      path: '/api/v1/ingest/:id',
      audit: { kind: 'ingest.stop' },
      auth: 'user',
      rateLimit: 'api',
      tag: 'ingest',
      summary: 'Stop ingesting (its creator or an admin)',
      responses: { 204: 'Stopped: the stream is released and its definition deleted', 403: 'Not its creator or an admin' },
      handler: async ({ params, principal }) => {
        await ingest.remove(who(principal), params.id as string);
        return { status: 204 };
      },
    }),
  ];
}
