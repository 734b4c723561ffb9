// Admin only: the overview (accounts, stored messages per source and label, API-key usage, and this
// process's engine and WebSocket counters) and user management.
import { Type, type Static } from '@sinclair/typebox';
import type { AuthService, Principal } from '../../auth/index.js';
import {
  AdminStatsReply,
  CacheClearReply,
  CacheStatsReply,
  MessageSourceSchema,
  RoleSchema,
  UserListReply,
  UserReply,
} from '../../contract/index.js';
import { channelTotals } from '../../store/channel-totals.js';
import type { BucketStore, MessageStore } from '../../store/stores.js';
import { cursorParam, intParam, QueryCursor, QueryInt } from '../query.js';
import type { ChannelHub } from '../../channels/index.js';
import type { SentimentEngine } from '../../sentiment/engine.js';
import { route, type Route } from '../router.js';
import type { WsGateway } from '../ws.js';

const UserPatchBody = Type.Object(
  { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);

const DAY_MS = 86_400_000;

/** Message totals per source and per label, from the stored per-channel totals (cached a few seconds: a scan of every bucket). */
async function messageTotals(buckets: BucketStore) {
  const bySource: Record<string, number> = Object.fromEntries(MessageSourceSchema.anyOf.map((s) => [s.const, 0]));
  const byLabel: Record<string, number> = {};
  let total = 0;
  for (const c of await channelTotals(buckets).channels(100_000)) {
    const source = c.channel.startsWith('room:') ? 'native' : c.channel.slice(0, c.channel.indexOf(':'));
    bySource[source] = (bySource[source] ?? 0) + c.messages;
    total += c.messages;
    for (const [label, n] of Object.entries(c.counts)) byLabel[label] = (byLabel[label] ?? 0) + n;
  }
  return { total, by_source: bySource, by_label: byLabel };
}

export function adminRoutes(
  auth: AuthService,
  engine: SentimentEngine,
  ws: WsGateway,
  hub: ChannelHub,
  store: { messages: MessageStore; buckets: BucketStore },
): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/admin/stats',
      auth: 'admin',
      tag: 'admin',
      summary: 'Accounts, engine and WebSocket counters',
      response: AdminStatsReply,
      handler: async () => {
        const [users, keys, messages, stored] = await Promise.all([
          auth.userCounts(),
          auth.apiKeyUsage(Date.now() - DAY_MS),
          messageTotals(store.buckets),
          store.messages.count(),
        ]);
        const e = engine.stats();
        return {
          body: {
            users: { total: users.user + users.admin, by_role: users },
            messages: { ...messages, stored },
            api_keys: { total: keys.keys, used_last_24h: keys.usedSince },
            engine: {
              model: engine.info.name,
              threads: e.threads,
              queued: e.queued,
              in_flight_batches: e.inFlightBatches,
              batches: e.batches,
              items: e.items,
              avg_batch_size: e.batches === 0 ? 0 : e.items / e.batches,
              cache_hits: e.cacheHits,
              cache_misses: e.cacheMisses,
              cache_hit_ratio: e.cacheHitRatio,
              dedup_hits: e.dedupHits,
              shed: e.shed,
            },
            websocket: {
              connections: ws.connections,
              opened: ws.counters.opened,
              refused: { capacity: ws.counters.refusedCapacity, rate: ws.counters.refusedRate, auth: ws.counters.refusedAuth },
              frames_in: ws.counters.frames,
              error_frames: ws.counters.errorFrames,
              closed: { abuse: ws.counters.closedAbuse, too_big: ws.counters.closedTooBig, abnormal: ws.counters.closedAbnormal },
              messages_published: hub.counters.messages,
              batch_frames: hub.counters.batchFrames,
              mood_frames: hub.counters.moodFrames,
              presence_frames: hub.counters.presenceFrames,
              likes_frames: hub.counters.likesFrames,
            },
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/admin/users',
      auth: 'admin',
      tag: 'admin',
      summary: "Accounts in creation order (`limit`, `after`: the previous page's `next`)",
      query: Type.Object({ limit: QueryInt('1-200, default 50'), after: QueryCursor("the previous page's `next`") }),
      response: UserListReply,
      handler: async ({ query }) => {
        const limit = intParam(query, 'limit', 50, 1, 200);
        const items = await auth.listUsers(limit, cursorParam(query, 'after'));
        return { body: items.length === limit ? { items, next: items[items.length - 1]?.id } : { items } };
      },
    }),
    route({
      method: 'patch',
      path: '/api/v1/admin/users/:id',
      audit: { kind: 'user.admin_update' },
      auth: 'admin',
      rateLimit: 'api',
      tag: 'admin',
      summary: "Change an account's role or disable it (its tokens and keys stop working at once)",
      body: UserPatchBody,
      response: UserReply,
      handler: async ({ body, params, principal }) => ({
        body: await auth.adminUpdate(principal as Principal, params.id as string, {
          ...(body.role === undefined ? {} : { role: body.role }),
          ...(body.disabled === undefined ? {} : { disabled: body.disabled }),
        }),
      }),
    }),
  ];
}

/** A cache the admin cache routes report on and clear. */
export interface AdminCache<S> {
  stats(): S;
  clearExpired(): number;
}

/** GET /admin/cache and POST /admin/cache/clear-expired: this process's caches (each process has its own). */
export function adminCacheRoutes(caches: {
  profiles: AdminCache<Static<typeof CacheStatsReply>['profiles']>;
  identities?: AdminCache<NonNullable<Static<typeof CacheStatsReply>['identities']>>;
}): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/admin/cache',
      auth: 'admin',
      tag: 'admin',
      summary: "Sizes and hit ratios of this process's caches (profiles per tier, identities)",
      response: CacheStatsReply,
      handler: async () => ({
        body: {
          profiles: caches.profiles.stats(),
          ...(caches.identities ? { identities: caches.identities.stats() } : {}),
        },
      }),
    }),
    route({
      method: 'post',
      path: '/api/v1/admin/cache/clear-expired',
      auth: 'admin',
      rateLimit: 'api',
      tag: 'admin',
      summary: "Drop this process's expired cache entries now",
      optionalBody: true,
      body: Type.Object({}, { additionalProperties: false }),
      response: CacheClearReply,
      handler: async () => ({
        body: {
          cleared: {
            profiles: caches.profiles.clearExpired(),
            ...(caches.identities ? { identities: caches.identities.clearExpired() } : {}),
          },
        },
      }),
    }),
  ];
}
