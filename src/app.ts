// The composition root: the one place that turns Config into drivers, services and a listening gateway.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import {
  AuthService,
  MemoryApiKeyStore,
  MemoryRevocationStore,
  MemoryUserStore,
  TokenIssuer,
  type ApiKeyStore,
  type RevocationStore,
  type UserStore,
} from './auth/index.js';
import { CachedApiKeyStore, CachedUserStore, type Invalidations } from './auth/cache.js';
import { RedisApiKeyStore, RedisRevocationStore, RedisUserStore } from './auth/redis.js';
import {
  ChannelHub,
  MemoryChannelBus,
  MemoryLikeStore,
  MemoryPresenceStore,
  MemoryRoomStore,
  RoomService,
  SYSTEM_CHANNEL,
  type ChannelBus,
  type LikeStore,
  type PresenceStore,
  type RoomStore,
} from './channels/index.js';
import { RedisChannelBus } from './channels/redis-bus.js';
import { RedisLikeStore } from './channels/redis-likes.js';
import { RedisPresenceStore } from './channels/redis-presence.js';
import { RedisRoomStore } from './channels/redis-rooms.js';
import { ConfigError, type Config } from './config.js';
import { AppError } from './errors.js';
import { MemoryRateLimiter, type RateLimiter } from './limits/index.js';
import { RedisRateLimiter } from './limits/redis.js';
import { closeRedis, connectRedis, createSubscriber, isReady, isRedisUnavailable } from './redis/connection.js';
import { BUNDLED_MODELS_DIR } from './paths.js';
import { defaultCacheDir, resolveModel } from './registry/index.js';
import { adminRoutes } from './gateway/routes/admin.js';
import { authRoutes } from './gateway/routes/auth.js';
import { opsRoutes } from './gateway/routes/ops.js';
import { MAX_TIMEOUT_S, roomRoutes } from './gateway/routes/rooms.js';
import { sentimentRoutes } from './gateway/routes/sentiment.js';
import { Router } from './gateway/router.js';
import { nativeUws, type us_listen_socket } from './gateway/uws.js';
import { WsGateway } from './gateway/ws.js';
import type { Logger } from './observability/log.js';
import { SentimentEngine } from './sentiment/engine.js';

export interface ChatPulse {
  readonly port: number;
  readonly engine: SentimentEngine;
  readonly auth: AuthService;
  readonly hub: ChannelHub;
  readonly ws: WsGateway;
  /** Graceful stop: not ready, stop listening, finish in-flight requests (bounded), release the model. */
  stop(): Promise<void>;
}

/** Shared state: in this process (one process) or in Redis (a cluster), behind the same ports. */
interface SharedState {
  users: UserStore;
  apiKeys: ApiKeyStore;
  revocations: RevocationStore;
  bus: ChannelBus;
  presence: PresenceStore;
  likes: LikeStore;
  rooms: RoomStore;
  limiter(points: number, windowS: number, name: string): RateLimiter;
  /** Null while every backend answers, else why not (readiness). */
  problem(): string | null;
  close(): Promise<void>;
}

function memoryState(): SharedState {
  const revocations = new MemoryRevocationStore();
  return {
    users: new MemoryUserStore(),
    apiKeys: new MemoryApiKeyStore(),
    revocations,
    bus: new MemoryChannelBus(),
    presence: new MemoryPresenceStore(),
    likes: new MemoryLikeStore(),
    rooms: new MemoryRoomStore(),
    limiter: (points, windowS, name) => new MemoryRateLimiter(points, windowS, name),
    problem: () => null,
    async close() {
      revocations.close();
    },
  };
}

async function redisState(url: string, presenceTtlMs: number, log: Logger): Promise<SharedState> {
  const redis: Redis = await connectRedis(url, log);
  const subscriber = createSubscriber(url, log);
  const presence = new RedisPresenceStore(redis, { log, ttlMs: presenceTtlMs, heartbeatMs: Math.floor(presenceTtlMs / 3) });
  const bus = new RedisChannelBus(redis, subscriber, { log });
  bus.watch(SYSTEM_CHANNEL);
  const invalidations: Invalidations = {
    publish: (key) => bus.publish({ kind: 'invalidate', channel: SYSTEM_CHANNEL, key }),
    onInvalidate: (handler) => bus.onEvent((e) => e.kind === 'invalidate' && handler(e.key)),
  };
  const cache = { ttlMs: 5000, max: 10_000 };
  return {
    users: new CachedUserStore(new RedisUserStore(redis), invalidations, cache),
    apiKeys: new CachedApiKeyStore(new RedisApiKeyStore(redis), invalidations, cache),
    revocations: new RedisRevocationStore(redis),
    bus,
    presence,
    likes: new RedisLikeStore(redis),
    rooms: new RedisRoomStore(redis),
    limiter: (points, windowS, name) => new RedisRateLimiter(redis, points, windowS, name),
    problem: () => (isReady(redis) && isReady(subscriber) ? null : 'redis is unreachable'),
    async close() {
      await presence.close();
      await bus.close();
      await closeRedis(redis);
    },
  };
}

export async function startChatPulse(config: Config, log: Logger): Promise<ChatPulse> {
  const uws = nativeUws();
  if (config.mongodbUrl !== undefined) {
    throw new ConfigError('MONGODB_URL is not supported by this build yet: unset it to keep messages in memory');
  }
  const modelDir = await resolveModel(config.model, {
    bundledDir: BUNDLED_MODELS_DIR,
    cacheDir: config.modelCacheDir ?? defaultCacheDir(),
    endpoint: config.hfEndpoint,
    revision: config.modelRevision,
    ...(config.hfToken === undefined ? {} : { token: config.hfToken }),
  });
  const engine = await SentimentEngine.start({
    modelDir,
    maxLength: config.maxLength,
    threads: config.inferenceThreads,
    intraOpNumThreads: config.intraOpThreads,
    batchMaxItems: config.batchMaxItems,
    batchMaxTokens: config.batchMaxTokens,
    batchMaxWaitMs: config.batchMaxWaitMs,
    queueMax: config.queueMax,
    cacheSize: config.cacheSize,
  });

  let jwtSecret = config.jwtSecret;
  if (jwtSecret === undefined) {
    jwtSecret = randomBytes(48).toString('base64');
    log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when this process restarts');
  }
  const state = config.redisUrl === undefined ? memoryState() : await redisState(config.redisUrl, config.presenceTtlMs, log);
  const { users, bus } = state;
  const auth = new AuthService({
    users,
    apiKeys: state.apiKeys,
    revocations: state.revocations,
    tokens: new TokenIssuer({ secret: jwtSecret, accessTtlS: config.accessTtlS, refreshTtlS: config.refreshTtlS }),
  });
  if (config.adminUsername !== undefined && config.adminPassword !== undefined) {
    await auth.ensureAdmin(config.adminUsername, config.adminPassword);
    log.info({ username: config.adminUsername }, 'admin account ensured');
  }

  const rooms = new RoomService(state.rooms, bus, { autoCreate: config.roomsAutoCreate, maxRooms: config.maxRooms, maxTimeoutS: MAX_TIMEOUT_S }, (username) =>
    users.findByUsername(username),
  );
  const hub = new ChannelHub(
    { engine, bus, presence: state.presence, likes: state.likes, rooms, chatLimiter: state.limiter(config.chatRatePer30s, 30, 'chat') },
    {
      replaySize: config.replaySize,
      moodWindowS: config.moodWindowS,
      moodLongWindowS: config.moodLongWindowS,
      moodTickMs: config.moodTickMs,
      batchTickMs: config.batchTickMs,
      controlTickMs: 250,
      presenceRefreshMs: config.redisUrl === undefined ? 0 : Math.max(500, Math.floor(config.presenceTtlMs / 3)),
    },
  );
  const baseHeaders = { 'X-Instance': `${hostname()}:${process.pid}` };
  const mapError = (err: unknown) =>
    isRedisUnavailable(err) ? new AppError(503, 'unavailable', 'shared state (Redis) is unreachable; retry shortly', { 'Retry-After': '1' }, 1000) : null;
  const ws = new WsGateway(
    {
      auth,
      hub,
      connectLimiter: state.limiter(config.ws.connectRatePerMin, 60, 'ws-connect'),
      frameLimiter: state.limiter(config.ws.frameRatePer10s, 10, 'ws-frames'),
      baseHeaders,
      log,
      mapError,
    },
    { ...config.ws, maxTextLength: config.maxTextLength },
  );

  let draining = false;
  let inflight = 0;
  let idle: (() => void) | null = null;
  const limits = { maxTextLength: config.maxTextLength, maxBatchTexts: config.maxBatchTexts };
  const router = new Router({
    auth,
    apiLimiter: state.limiter(config.apiRatePerMin, 60, 'api'),
    authLimiter: state.limiter(config.authRatePerMin, 60, 'auth'),
    maxBodyBytes: config.maxBodyBytes,
    baseHeaders,
    mapError,
    corsOrigins: config.corsOrigins,
    onError: (err, req) => log.error({ err, method: req.method, url: req.url }, 'request failed'),
    inflight: {
      begin: () => void inflight++,
      end: () => {
        if (--inflight === 0 && idle) idle();
      },
    },
  });
  router.add(
    ...opsRoutes({
      notReadyReason: () =>
        draining ? 'draining' : !engine.ready ? 'model not loaded' : (state.problem() ?? (ws.atCapacity ? 'at the WebSocket connection limit' : null)),
    }),
    ...authRoutes(auth),
    ...sentimentRoutes(engine, limits),
    ...roomRoutes(rooms),
    ...adminRoutes(auth, engine, ws, hub),
  );

  const app = uws.App();
  hub.attach(ws.mount(app));
  router.mount(app);
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) =>
      socket ? resolve(socket) : reject(new Error(`cannot listen on ${config.host}:${config.port}`)),
    );
  });
  const port = uws.us_socket_local_port(listenSocket);
  log.info({ port, host: config.host, model: engine.info.name, threads: config.inferenceThreads }, 'chatpulse listening');

  return {
    port,
    engine,
    auth,
    hub,
    ws,
    async stop() {
      if (draining) return;
      draining = true;
      uws.us_listen_socket_close(listenSocket);
      await ws.closeAll(Math.min(1000, config.drainTimeoutMs / 2));
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.drainTimeoutMs);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      hub.close();
      await engine.close();
      await state.close();
      // Keep-alive connections would hold the loop open after the listen socket is gone.
      (app as typeof app & { close(): void }).close(); // in the native build, missing from its typings
      log.info('chatpulse stopped');
    },
  };
}
