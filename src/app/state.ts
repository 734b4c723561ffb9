// Shared state: in this process (one process) or in Redis (a cluster), behind the same ports. With MongoDB,
// accounts, rooms and ingest definitions move to the persistent state (withAccounts).
import { CachedApiKeyStore, CachedUserStore, type Invalidations } from '../auth/cache.js';
import { forgettingChanges, IdentityCache } from '../auth/identity.js';
import { RedisApiKeyStore, RedisRevocationStore, RedisUserStore } from '../auth/redis-stores.js';
import {
  MemoryApiKeyStore,
  MemoryRevocationStore,
  MemoryUserStore,
  type ApiKeyStore,
  type RevocationStore,
  type UserStore,
} from '../auth/stores.js';
import { MemoryChannelBus, SYSTEM_CHANNEL, type ChannelBus } from '../channels/bus.js';
import type { HistoryOptions } from '../channels/history.js';
import { MemoryLikeStore, type LikeStore } from '../channels/likes.js';
import { MemoryPresenceStore, type PresenceStore } from '../channels/presence.js';
import { RedisChannelBus } from '../channels/redis-bus.js';
import { RedisLikeStore } from '../channels/redis-likes.js';
import { RedisPresenceStore } from '../channels/redis-presence.js';
import { RedisRoomStore } from '../channels/redis-rooms.js';
import { MemoryRoomStore, type RoomStore } from '../channels/rooms.js';
import { MemoryIngestBoard, type IngestBoard } from '../ingest/board.js';
import { MemoryLeaseManager, type LeaseManager } from '../ingest/lease.js';
import { RedisIngestBoard } from '../ingest/redis-board.js';
import { RedisLeaseManager } from '../ingest/redis-lease.js';
import { RedisIngestStore } from '../ingest/redis-store.js';
import { MemoryIngestStore, type IngestStore } from '../ingest/store.js';
import { RedisRateLimiter } from '../limits/redis-rate-limiter.js';
import { MemoryRateLimiter, type RateLimiter } from '../limits/rate-limiter.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import {
  closeRedis,
  clusterFailure,
  connectClient,
  createSubscriberClient,
  isReady,
  withKnownMasters,
  type RedisTarget,
} from '../redis/connection.js';
import { ClusterEpoch, type StateLossPolicy } from '../redis/epoch.js';
import { migrateKeyLayout } from '../redis/migrate.js';
import { MemoryMatchQueue, type MatchQueue } from '../social/queue.js';
import { MemoryProfileStore, RedisProfileStore, type ProfileStore } from '../profiles/index.js';
import { RedisMatchQueue } from '../social/redis-queue.js';
import type { PersistentState } from './persistent.js';

export interface SharedState {
  users: UserStore;
  apiKeys: ApiKeyStore;
  revocations: RevocationStore;
  bus: ChannelBus;
  presence: PresenceStore;
  likes: LikeStore;
  rooms: RoomStore;
  ingest: IngestStore;
  leases: LeaseManager;
  board: IngestBoard;
  /** The match queue (matching pairs users of every process). */
  matches: MatchQueue;
  /** Profiles of platform users (tiers 1 and 2), shared by every process. */
  profiles: ProfileStore;
  limiter(points: number, windowS: number, name: string): RateLimiter;
  /** Null while every backend answers, else why not (readiness). */
  problem(): string | null;
  /** Reports the backend's errors and latency to the metrics. */
  instrument?(metrics: Metrics): void;
  /** Called after Redis came back empty and this process re-seeded it (STATE_LOSS_POLICY=reseed). */
  onReseed?(handler: () => void): void;
  close(): Promise<void>;
}

export function memoryState(history: HistoryOptions): SharedState {
  const revocations = new MemoryRevocationStore();
  return {
    users: new MemoryUserStore(),
    apiKeys: new MemoryApiKeyStore(),
    revocations,
    bus: new MemoryChannelBus(history),
    presence: new MemoryPresenceStore(),
    likes: new MemoryLikeStore(),
    rooms: new MemoryRoomStore(),
    ingest: new MemoryIngestStore(),
    leases: new MemoryLeaseManager(),
    board: new MemoryIngestBoard(),
    matches: new MemoryMatchQueue(),
    profiles: new MemoryProfileStore(),
    limiter: (points, windowS, name) => new MemoryRateLimiter(points, windowS, name),
    problem: () => null,
    async close() {
      revocations.close();
    },
  };
}

/**
 * Authentication reads users and keys on every request, so each process caches them, invalidated over the
 * channel bus (every process in a cluster, this one alone otherwise).
 */
function cachedAccounts(bus: ChannelBus, users: UserStore, apiKeys: ApiKeyStore): { users: UserStore; apiKeys: ApiKeyStore } {
  const invalidations: Invalidations = {
    publish: (key) => bus.publish({ kind: 'invalidate', channel: SYSTEM_CHANNEL, key }),
    onInvalidate: (handler) => bus.onEvent((e) => e.kind === 'invalidate' && handler(e.key)),
  };
  const cache = { ttlMs: 5000, max: 10_000 };
  return { users: new CachedUserStore(users, invalidations, cache), apiKeys: new CachedApiKeyStore(apiKeys, invalidations, cache) };
}

/** How often a process looks for the cluster epoch (what tells an empty Redis from the one it started with). */
const EPOCH_CHECK_MS = 1000;

export async function redisState(
  target: RedisTarget,
  presenceTtlMs: number,
  policy: StateLossPolicy,
  history: HistoryOptions,
  log: Logger,
): Promise<SharedState> {
  const redis = await connectClient(target, log);
  await migrateKeyLayout(redis, log); // keys an earlier version wrote, renamed once
  const reseeded: Array<() => void> = [];
  const epoch = await ClusterEpoch.establish(redis, policy, (id) => {
    log.error(
      { epoch: id },
      'redis came back empty: shared state re-seeded (STATE_LOSS_POLICY=reseed); accounts, keys and rooms it held are lost',
    );
    for (const handler of reseeded) handler();
  });
  let checking = false;
  let clusterDown: string | null = null;
  const checker = setInterval(() => {
    if (checking || !isReady(redis)) return;
    checking = true;
    const wasLost = epoch.problem() !== null;
    epoch
      .check()
      .then(() => {
        const lost = epoch.problem() !== null;
        if (lost && !wasLost) log.error(epoch.problem());
        if (!lost && wasLost) log.warn({ epoch: epoch.epoch }, 'shared state loss acknowledged: ready again');
      })
      .catch(() => undefined) // unreachable again: the connection's own state already says not ready
      .finally(() => (checking = false));
    // A Redis Cluster that answers but serves nothing (cluster_state:fail, e.g. a master down and no replica
    // to take over) is not ready either. One master down while a replica takes over is: the others still
    // serve their slots, and every process would leave traffic at once.
    clusterFailure(redis).then(
      (why) => (clusterDown = why),
      () => undefined,
    );
  }, EPOCH_CHECK_MS);
  checker.unref();
  const subscriber = createSubscriberClient(withKnownMasters(target, redis), log);
  const presence = new RedisPresenceStore(redis, { log, ttlMs: presenceTtlMs, heartbeatMs: Math.floor(presenceTtlMs / 3) });
  const bus = new RedisChannelBus(redis, subscriber, { log, history });
  void bus.watch(SYSTEM_CHANNEL);
  let pinger: NodeJS.Timeout | null = null;
  return {
    ...cachedAccounts(bus, new RedisUserStore(redis), new RedisApiKeyStore(redis)),
    revocations: new RedisRevocationStore(redis),
    bus,
    presence,
    likes: new RedisLikeStore(redis),
    rooms: new RedisRoomStore(redis),
    ingest: new RedisIngestStore(redis),
    leases: new RedisLeaseManager(redis),
    board: new RedisIngestBoard(redis),
    matches: new RedisMatchQueue(redis),
    profiles: new RedisProfileStore(redis),
    limiter: (points, windowS, name) => new RedisRateLimiter(redis, points, windowS, name),
    problem: () =>
      !isReady(redis) || !isReady(subscriber)
        ? 'redis is unreachable'
        : clusterDown !== null
          ? `redis cluster is down: ${clusterDown}`
          : epoch.problem(),
    onReseed: (handler) => void reseeded.push(handler),
    instrument(metrics) {
      redis.on('error', () => metrics.redisErrors.inc({ connection: 'commands' }));
      subscriber.on('error', () => metrics.redisErrors.inc({ connection: 'subscriber' }));
      pinger = setInterval(() => {
        if (!isReady(redis)) return;
        const end = metrics.redisLatency.startTimer();
        redis.ping().then(
          () => end(),
          () => undefined,
        );
      }, 5000);
      pinger.unref();
    },
    async close() {
      if (pinger) clearInterval(pinger);
      clearInterval(checker);
      await presence.close();
      await bus.close();
      await closeRedis(redis);
    },
  };
}

/** With MongoDB, accounts, rooms and ingest definitions move there from the shared state. */
export function withAccounts(shared: SharedState, persistent: PersistentState): SharedState {
  const a = persistent.accounts;
  if (a === null) return shared;
  return { ...shared, ...cachedAccounts(shared.bus, a.users, a.apiKeys), rooms: a.rooms, ingest: a.ingest };
}

/**
 * How senders show in chat (display name, avatar), cached per process so the chat path reads no store: an
 * entry is forgotten on every `user:<id>` invalidation (any process's change) and on this process's own.
 */
export function withIdentities(state: SharedState): { state: SharedState; identities: IdentityCache } {
  const identities = new IdentityCache(state.users, { ttlMs: 30_000, max: 50_000 });
  state.bus.onEvent((e) => e.kind === 'invalidate' && identities.invalidate(e.key));
  return { state: { ...state, users: forgettingChanges(state.users, identities) }, identities };
}
