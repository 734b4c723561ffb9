// Admin-only overview of this process: accounts and the sentiment engine's counters.
import type { AuthService } from '../../auth/index.js';
import type { SentimentEngine } from '../../sentiment/engine.js';
import { route, type Route } from '../router.js';

export function adminRoutes(auth: AuthService, engine: SentimentEngine): Route[] {
  return [
    route({
      method: 'get', path: '/api/v1/admin/stats', auth: 'admin', tag: 'admin', summary: 'Accounts and engine counters',
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
          },
        };
      },
    }),
  ];
}
