// Admin-only overview of this process: accounts, the sentiment engine's and the WebSocket gateway's counters.
import type { AuthService } from '../../auth/index.js';
import type { ChannelHub } from '../../channels/index.js';
import type { SentimentEngine } from '../../sentiment/engine.js';
import { route, type Route } from '../router.js';
import type { WsGateway } from '../ws.js';

export function adminRoutes(auth: AuthService, engine: SentimentEngine, ws: WsGateway, hub: ChannelHub): Route[] {
  return [
    route({
      method: 'get', path: '/api/v1/admin/stats', auth: 'admin', tag: 'admin', summary: 'Accounts, engine and WebSocket counters',
      handler: async () => {
        const users = await auth.userCounts();
        const e = engine.stats();
        return {
          body: {
            users: { total: users.user + users.admin, by_role: users },
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
  ];
}
