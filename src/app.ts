// The composition root: the one place that turns Config into drivers, services and a listening gateway.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { isRevocation } from './auth/revocations.js';
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
import { IngestManager, MemoryIngestBoard, MemoryLeaseManager, type IngestBoard, type IngestConnector, type IngestSourceName, type LeaseManager } from './ingest/index.js';
import { RedisIngestBoard } from './ingest/redis-board.js';
import { RedisLeaseManager } from './ingest/redis-lease.js';
import { RedisIngestStore } from './ingest/redis-store.js';
import { TikTokConnector } from './ingest/tiktok.js';
import { TwitchConnector } from './ingest/twitch.js';
import { HistoryService } from './store/history.js';
import { MemoryBucketStore, MemoryIngestStore, MemoryMessageStore, MemoryReportStore } from './store/memory.js';
import { connectMongo, isMongoUnavailable, mongoStores } from './store/mongo/index.js';
import type { BucketStore, IngestStore, MessageStore, ReportStore } from './store/ports.js';
import { DiskSpool } from './store/spool.js';
import { StoreWriter } from './store/writer.js';
import { openApiDocument } from './gateway/openapi.js';
import { accountRoutes } from './gateway/routes/account.js';
import { docsRoutes } from './gateway/routes/docs.js';
import { adminRoutes } from './gateway/routes/admin.js';
import { historyRoutes } from './gateway/routes/history.js';
import { ingestRoutes } from './gateway/routes/ingest.js';
import { reportRoutes } from './gateway/routes/reports.js';
import { authRoutes } from './gateway/routes/auth.js';
import { opsRoutes } from './gateway/routes/ops.js';
import { MAX_TIMEOUT_S, roomRoutes } from './gateway/routes/rooms.js';
import { sentimentRoutes } from './gateway/routes/sentiment.js';
import { ClientAddress } from './gateway/client-address.js';
import { Router, type RequestEvent, type Route } from './gateway/router.js';
import { mountStatic } from './gateway/static.js';
import { nativeUws, type us_listen_socket } from './gateway/uws.js';
import { WsGateway } from './gateway/ws.js';
import type { Logger } from './observability/log.js';
import { Metrics } from './observability/metrics.js';
import { metricsRoutes } from './gateway/routes/metrics.js';
import { SentimentEngine } from './sentiment/engine.js';

export interface ChatPulse {
  readonly port: number;
  readonly engine: SentimentEngine;
  readonly auth: AuthService;
  readonly hub: ChannelHub;
  readonly ws: WsGateway;
  readonly ingest: IngestManager;
  readonly writer: StoreWriter;
  /** The route table (what the OpenAPI document and the fuzz suite walk). */
  readonly routes: readonly Route[];
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
  ingest: IngestStore;
  leases: LeaseManager;
  board: IngestBoard;
  limiter(points: number, windowS: number, name: string): RateLimiter;
  /** Null while every backend answers, else why not (readiness). */
  problem(): string | null;
  /** Reports the backend's errors and latency to the metrics. */
  instrument?(metrics: Metrics): void;
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
    ingest: new MemoryIngestStore(),
    leases: new MemoryLeaseManager(),
    board: new MemoryIngestBoard(),
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
  let pinger: NodeJS.Timeout | null = null;
  return {
    users: new CachedUserStore(new RedisUserStore(redis), invalidations, cache),
    apiKeys: new CachedApiKeyStore(new RedisApiKeyStore(redis), invalidations, cache),
    revocations: new RedisRevocationStore(redis),
    bus,
    presence,
    likes: new RedisLikeStore(redis),
    rooms: new RedisRoomStore(redis),
    ingest: new RedisIngestStore(redis),
    leases: new RedisLeaseManager(redis),
    board: new RedisIngestBoard(redis),
    limiter: (points, windowS, name) => new RedisRateLimiter(redis, points, windowS, name),
    problem: () => (isReady(redis) && isReady(subscriber) ? null : 'redis is unreachable'),
    instrument(metrics) {
      redis.on('error', () => metrics.redisErrors.inc({ connection: 'commands' }));
      subscriber.on('error', () => metrics.redisErrors.inc({ connection: 'subscriber' }));
      pinger = setInterval(() => {
        if (!isReady(redis)) return;
        const end = metrics.redisLatency.startTimer();
        redis.ping().then(() => end(), () => undefined);
      }, 5000);
      pinger.unref();
    },
    async close() {
      if (pinger) clearInterval(pinger);
      await presence.close();
      await bus.close();
      await closeRedis(redis);
    },
  };
}

/** What outlives a process: messages, buckets and reports always; users, keys, rooms and ingest definitions with MongoDB. */
interface PersistentState {
  messages: MessageStore;
  buckets: BucketStore;
  reports: ReportStore;
  /** Only with MongoDB: otherwise these stay with the shared state (Redis or memory). */
  accounts: { users: UserStore; apiKeys: ApiKeyStore; rooms: RoomStore; ingest: IngestStore } | null;
  spoolDir: string;
  problem(): string | null;
  instrument?(metrics: Metrics): void;
  close(): Promise<void>;
}

async function persistentState(config: Config, log: Logger): Promise<PersistentState> {
  if (config.mongodbUrl === undefined) {
    // The memory store cannot fail, so its spool is never written: a private temporary folder keeps test
    // servers and fresh machines from sharing (or littering) a folder.
    const spoolDir = await mkdtemp(join(tmpdir(), 'chatpulse-spool-'));
    return {
      messages: new MemoryMessageStore({ maxPerChannel: config.store.memoryMessagesPerChannel }),
      buckets: new MemoryBucketStore({ retentionMs: config.store.memoryBucketRetentionHours * 3_600_000 }),
      reports: new MemoryReportStore(),
      accounts: null,
      spoolDir,
      problem: () => null,
      close: () => rm(spoolDir, { recursive: true, force: true }),
    };
  }
  let mongo: Awaited<ReturnType<typeof connectMongo>>;
  try {
    mongo = await connectMongo(config.mongodbUrl, { appName: `chatpulse-${hostname()}-${process.pid}`, commandTimeoutMS: config.store.mongoTimeoutMs });
  } catch (err) {
    // An operator's problem, said in one line (the driver's message names hosts, never the password).
    throw new ConfigError(`MONGODB_URL: MongoDB did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
  await mongo.ensureIndexes(config.store.messageRetentionDays === undefined ? {} : { messageRetentionDays: config.store.messageRetentionDays });
  const stores = mongoStores(mongo);
  let healthy = true;
  // Readiness must not wait on a round trip per probe: a background ping keeps the answer fresh.
  const pinger = setInterval(() => {
    void mongo.ping().then((ok) => {
      if (ok !== healthy) log[ok ? 'info' : 'warn'](ok ? 'mongodb answers again' : 'mongodb is unreachable');
      healthy = ok;
    });
  }, 2000);
  pinger.unref();
  log.info('mongodb store connected');
  return {
    messages: stores.messages,
    buckets: stores.buckets,
    reports: stores.reports,
    accounts: { users: stores.users, apiKeys: stores.apiKeys, rooms: stores.rooms, ingest: stores.ingest },
    spoolDir: join(config.store.spoolDir, `w${config.workerSlot}`),
    problem: () => (healthy ? null : 'mongodb is unreachable'),
    instrument(metrics) {
      const { client } = mongo;
      client.on('commandSucceeded', (e) => metrics.mongoCommands.observe({ command: e.commandName, outcome: 'ok' }, e.duration / 1000));
      client.on('commandFailed', (e) => metrics.mongoCommands.observe({ command: e.commandName, outcome: 'error' }, e.duration / 1000));
    },
    async close() {
      clearInterval(pinger);
      await mongo.close();
    },
  };
}

/**
 * With MongoDB, accounts, rooms and ingest definitions move there from the shared state. Authentication
 * reads users and keys on every request, so each process caches them, invalidated over the channel bus
 * (every process in a cluster, this one alone otherwise), as the Redis drivers are.
 */
function withAccounts(shared: SharedState, persistent: PersistentState): SharedState {
  const a = persistent.accounts;
  if (a === null) return shared;
  const invalidations: Invalidations = {
    publish: (key) => shared.bus.publish({ kind: 'invalidate', channel: SYSTEM_CHANNEL, key }),
    onInvalidate: (handler) => shared.bus.onEvent((e) => e.kind === 'invalidate' && handler(e.key)),
  };
  const cache = { ttlMs: 5000, max: 10_000 };
  return {
    ...shared,
    users: new CachedUserStore(a.users, invalidations, cache),
    apiKeys: new CachedApiKeyStore(a.apiKeys, invalidations, cache),
    rooms: a.rooms,
    ingest: a.ingest,
  };
}

/**
 * Readiness: the spool is full and messages are being dropped. A store outage alone does not fail it: the
 * spool absorbs it (every pod alike, so taking them out of traffic would only add to it); /ready names it.
 */
function storeProblem(writer: StoreWriter): string | null {
  const s = writer.state();
  return s.overflow ? `the write spool is full (${s.dropped} messages dropped): the store has been unreachable too long` : null;
}

/** Shown in /ready's 200 body: what is failing while the process still serves. */
function storeDegraded(persistent: PersistentState, writer: StoreWriter): string[] {
  const problem = persistent.problem();
  if (problem === null) return [];
  const s = writer.state();
  return [`${problem}: writes wait in the disk spool (${s.spooledBatches} batches, ${s.spooledBytes} bytes)`];
}

export async function startChatPulse(config: Config, log: Logger): Promise<ChatPulse> {
  const uws = nativeUws();
  const addresses = new ClientAddress(config.trustedProxies); // checks TRUSTED_PROXIES before the slow start
  const modelDir = await resolveModel(config.model, {
    bundledDir: BUNDLED_MODELS_DIR,
    cacheDir: config.modelCacheDir ?? defaultCacheDir(),
    endpoint: config.hfEndpoint,
    revision: config.modelRevision,
    ...(config.hfToken === undefined ? {} : { token: config.hfToken }),
  });
  let onBatch: (size: number, waitMs: number, runMs: number) => void = () => undefined;
  const engine = await SentimentEngine.start({
    onBatch: (size, waitMs, runMs) => onBatch(size, waitMs, runMs),
    modelDir,
    maxLength: config.maxLength,
    threads: config.inferenceThreads,
    intraOpNumThreads: config.intraOpThreads,
    batchMaxItems: config.batchMaxItems,
    batchMaxTokens: config.batchMaxTokens,
    batchMaxWaitMs: config.batchMaxWaitMs,
    queueMax: config.queueMax,
    admissionDeadlineMs: config.admissionDeadlineMs,
    cacheSize: config.cacheSize,
  });

  let jwtSecret = config.jwtSecret;
  if (jwtSecret === undefined) {
    jwtSecret = randomBytes(48).toString('base64');
    log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when this process restarts');
  }
  const shared = config.redisUrl === undefined ? memoryState() : await redisState(config.redisUrl, config.presenceTtlMs, log);
  const persistent = await persistentState(config, log);
  const state = withAccounts(shared, persistent);
  const { users, bus } = state;
  const spool = await DiskSpool.open(persistent.spoolDir, { maxBytes: config.store.spoolMaxBytes, log });
  const writer = new StoreWriter({
    messages: persistent.messages,
    buckets: persistent.buckets,
    spool,
    flushMs: config.store.flushMs,
    maxDocs: config.store.flushMaxDocs,
    log,
  });
  const auth = new AuthService({
    users,
    apiKeys: state.apiKeys,
    revocations: state.revocations,
    tokens: new TokenIssuer({ secret: jwtSecret, accessTtlS: config.accessTtlS, refreshTtlS: config.refreshTtlS }),
    // Closed here at once, and on every other process off the bus (this one's echo is a no-op by then).
    onRevoke: (revocation) => {
      ws.revoke(revocation);
      bus.publish({ kind: 'revoke', channel: SYSTEM_CHANNEL, revocation });
    },
    passwordFailures: state.limiter(config.loginFailuresPerAccount, config.loginFailureWindowS, 'login-fail'),
  });
  if (config.adminUsername !== undefined && config.adminPassword !== undefined) {
    await auth.ensureAdmin(config.adminUsername, config.adminPassword);
    log.info({ username: config.adminUsername }, 'admin account ensured');
  }

  const rooms = new RoomService(
    state.rooms,
    bus,
    { maxRooms: config.maxRooms, maxRoomsPerUser: config.quotas.roomsPerUser, maxTimeoutS: MAX_TIMEOUT_S, onRemove: (channel, ids) => writer.remove(channel, ids) },
    users,
  );
  const hub = new ChannelHub(
    {
      engine, bus, presence: state.presence, likes: state.likes, rooms, chatLimiter: state.limiter(config.chatRatePer30s, 30, 'chat'), recorder: writer,
      ingestLive: (channel): Promise<boolean> => ingest.isLive(channel.kind, channel.id), // called only once `ingest` below exists
      messages: persistent.messages,
    },
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
  const instance = `${hostname()}:${process.pid}`;
  const baseHeaders = { 'X-Instance': instance };
  const mapError = (err: unknown) =>
    isRedisUnavailable(err)
      ? new AppError(503, 'unavailable', 'shared state (Redis) is unreachable; retry shortly', { 'Retry-After': '1' }, 1000)
      : isMongoUnavailable(err)
        ? new AppError(503, 'unavailable', 'the store (MongoDB) is unreachable; retry shortly', { 'Retry-After': '1' }, 1000)
        : null;
  const { ingest: ic } = config;
  const connectors = new Map<IngestSourceName, IngestConnector>([
    ['twitch', new TwitchConnector({ ircUrl: ic.twitchIrcUrl, log, ...(ic.twitchUsername === undefined || ic.twitchOauthToken === undefined ? {} : { username: ic.twitchUsername, oauthToken: ic.twitchOauthToken }) })],
    [
      'tiktok',
      new TikTokConnector({
        log,
        ...(ic.tiktokSignApiKey === undefined ? {} : { signApiKey: ic.tiktokSignApiKey }),
        ...(ic.tiktokSignServerUrl === undefined ? {} : { signServerUrl: ic.tiktokSignServerUrl }),
        ...(ic.tiktokSessionId === undefined ? {} : { sessionId: ic.tiktokSessionId, ttTargetIdc: ic.tiktokTtTargetIdc }),
      }),
    ],
  ]);
  const ingest = new IngestManager(
    { store: state.ingest, leases: state.leases, board: state.board, connectors, hub, ownerId: instance, log },
    { leaseTtlMs: ic.leaseTtlMs, scanMs: ic.scanMs, maxOwned: ic.maxOwned, maxStreams: ic.maxStreams, maxStreamsPerUser: config.quotas.ingestStreamsPerUser, retryEndedMs: ic.retryEndedMs, retryErrorMs: ic.retryErrorMs },
  );
  const history = new HistoryService(persistent.messages, persistent.buckets, engine.info.labels);
  const metrics = new Metrics(config.workerSlot, {
    engine: () => engine.stats(),
    ws: () => ({
      connections: ws.connections,
      subscriptions: ws.subscriptions,
      framesIn: ws.counters.frames,
      drops: {
        refused_capacity: ws.counters.refusedCapacity,
        refused_rate: ws.counters.refusedRate,
        refused_auth: ws.counters.refusedAuth,
        error_frame: ws.counters.errorFrames,
        closed_abuse: ws.counters.closedAbuse,
        closed_too_big: ws.counters.closedTooBig,
        closed_abnormal: ws.counters.closedAbnormal,
        refused_address: ws.counters.refusedAddress,
        closed_revoked: ws.counters.closedRevoked,
        closed_expired: ws.counters.closedExpired,
      },
    }),
    writer: () => ({ ...writer.state(), written: writer.written }),
    ingest: () => ingest.statusCounts(),
  });
  onBatch = (size, waitMs, runMs) => {
    metrics.batchSize.observe(size);
    metrics.batchWait.observe(waitMs / 1000);
    metrics.inference.observe(runMs / 1000);
  };
  shared.instrument?.(metrics);
  persistent.instrument?.(metrics);
  const ws = new WsGateway(
    {
      auth,
      hub,
      connectLimiter: state.limiter(config.ws.connectRatePerMin, 60, 'ws-connect'),
      frameLimiter: state.limiter(config.ws.frameRatePer10s, 10, 'ws-frames'),
      baseHeaders,
      log,
      mapError,
      addresses,
      draining: () => draining,
    },
    { ...config.ws, maxTextLength: config.maxTextLength },
  );
  bus.onEvent((e) => e.kind === 'revoke' && isRevocation(e.revocation) && ws.revoke(e.revocation));

  let draining = false;
  let inflight = 0;
  let idle: (() => void) | null = null;
  const limits = { maxTextLength: config.maxTextLength, maxBatchTexts: config.maxBatchTexts, maxBodyBytes: config.maxBodyBytes };
  const observe = (e: RequestEvent): void => {
    metrics.httpRequests.inc({ method: e.method, route: e.route, status: e.status });
    metrics.httpDuration.observe({ method: e.method, route: e.route }, e.ms / 1000);
    // Probes (the light path, no request id) are counted, not logged: they would drown the log.
    if (e.requestId !== undefined) log.info({ req_id: e.requestId, method: e.method, route: e.route, path: e.path, status: e.status, ms: Math.round(e.ms * 10) / 10, ip: e.ip }, 'request');
  };
  const router = new Router({
    auth,
    apiLimiter: state.limiter(config.apiRatePerMin, 60, 'api'),
    authLimiter: state.limiter(config.authRatePerMin, 60, 'auth'),
    baseHeaders,
    mapError,
    corsOrigins: config.corsOrigins,
    addresses,
    onError: (err, req) => log.error({ err, method: req.method, url: req.url, req_id: req.requestId }, 'request failed'),
    observe,
    draining: () => draining,
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
        draining
          ? 'draining'
          : !engine.ready
            ? 'model not loaded'
            : (state.problem() ?? storeProblem(writer)), // a pod at its socket cap still serves REST: upgrades get 503, /ready stays 200
      degraded: () => storeDegraded(persistent, writer),
    }),
    ...authRoutes(auth),
    ...sentimentRoutes(engine, limits),
    ...roomRoutes(rooms),
    ...ingestRoutes(ingest),
    ...historyRoutes({ hub, messages: persistent.messages, buckets: persistent.buckets, history }),
    ...reportRoutes(persistent.reports, history, { maxPerUser: config.quotas.reportsPerUser, retentionDays: config.quotas.reportRetentionDays }),
    ...accountRoutes(auth, persistent.reports),
    ...adminRoutes(auth, engine, ws, hub, { messages: persistent.messages, buckets: persistent.buckets }),
    ...metricsRoutes(metrics),
    ...docsRoutes(() => openApiDocument(router.routes, { title: 'ChatPulse API', version: '1.0.0', description: 'Real-time sentiment for live-stream chat.' })),
  );

  const app = uws.App();
  const fanout = ws.mount(app);
  hub.attach({
    // Frames out, by type: one count per subscriber reached (the type is the frame's first field).
    publish(topic, frame) {
      const n = fanout.subscribers(topic);
      if (n > 0) metrics.wsFramesOut.inc({ type: frame.slice(9, frame.indexOf('"', 9)) }, n);
      fanout.publish(topic, frame);
    },
    subscribers: (topic) => fanout.subscribers(topic),
  });
  mountStatic(app, { baseHeaders, observe, addresses, draining: () => draining, onError: (err) => log.error({ err }, 'static file request failed') }); // the dashboard at / (exact routes; the router's /* fallback stays for the rest)
  router.mount(app);
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    // One process alone binds exclusively: uWS's default SO_REUSEPORT would let a second `npm start` share
    // the port and split the traffic between two servers. Cluster workers share it on purpose (the primary
    // checked it was free).
    const exclusive = config.workers === 1 ? 1 : 0; // LIBUS_LISTEN_EXCLUSIVE_PORT : LIBUS_LISTEN_DEFAULT (a type-only enum in the typings)
    const done = (socket: us_listen_socket | false) =>
      socket ? resolve(socket) : reject(new ConfigError(`PORT: cannot listen on ${config.host}:${config.port} (in use, or not an address of this host)`));
    // The native build takes (host, port, options, cb); its typings list only (port, options, cb).
    (app.listen as unknown as (h: string, p: number, o: number, cb: typeof done) => void)(config.host, config.port, exclusive, done);
  });
  const port = uws.us_socket_local_port(listenSocket);
  log.info({ port, host: config.host, model: engine.info.name, threads: config.inferenceThreads }, 'chatpulse listening');
  ingest.start();

  return {
    port,
    engine,
    auth,
    hub,
    ws,
    ingest,
    writer,
    routes: router.routes,
    async stop() {
      if (draining) return;
      // From here the router refuses new requests on open connections and closes each one after its reply.
      draining = true;
      const deadline = performance.now() + config.drainTimeoutMs;
      uws.us_listen_socket_close(listenSocket);
      await ws.closeAll(Math.min(1000, config.drainTimeoutMs / 2));
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      try {
        await ingest.close(); // leases released: another process takes the streams over at once
        hub.close();
        // Every text already admitted (WebSocket chat, ingest, requests past the deadline) is answered before
        // the threads stop; what is still queued at the deadline is refused with 503, never failed.
        await engine.close(Math.max(0, deadline - performance.now()));
      } finally {
        // Whatever threw above: pending writes flushed, or spooled to disk.
        await writer.close();
      }
      await state.close();
      await persistent.close();
      // Keep-alive connections would hold the loop open after the listen socket is gone.
      (app as typeof app & { close(): void }).close(); // in the native build, missing from its typings
      log.info('chatpulse stopped');
    },
  };
}
