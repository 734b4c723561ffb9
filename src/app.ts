// The composition root: the one place that turns Config into drivers, services and a listening gateway.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AuthService,
  MemoryApiKeyStore,
  MemoryRevocationStore,
  MemoryUserStore,
  TokenIssuer,
} from './auth/index.js';
import {
  ChannelHub,
  MemoryChannelBus,
  MemoryLikeStore,
  MemoryPresenceStore,
  MemoryRoomStore,
  RoomService,
} from './channels/index.js';
import { ConfigError, type Config } from './config.js';
import { MemoryRateLimiter } from './limits/index.js';
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

export async function startChatPulse(config: Config, log: Logger): Promise<ChatPulse> {
  const uws = nativeUws();
  if (config.redisUrl !== undefined || config.mongodbUrl !== undefined) {
    throw new ConfigError('REDIS_URL and MONGODB_URL are not supported by this build yet: unset them to run on in-memory state');
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
  const revocations = new MemoryRevocationStore();

  const users = new MemoryUserStore();
  const auth = new AuthService({
    users,
    apiKeys: new MemoryApiKeyStore(),
    revocations,
    tokens: new TokenIssuer({ secret: jwtSecret, accessTtlS: config.accessTtlS, refreshTtlS: config.refreshTtlS }),
  });
  if (config.adminUsername !== undefined && config.adminPassword !== undefined) {
    await auth.ensureAdmin(config.adminUsername, config.adminPassword);
    log.info({ username: config.adminUsername }, 'admin account ensured');
  }

  const bus = new MemoryChannelBus();
  const rooms = new RoomService(new MemoryRoomStore(), bus, { autoCreate: config.roomsAutoCreate, maxRooms: config.maxRooms, maxTimeoutS: MAX_TIMEOUT_S }, (username) =>
    users.findByUsername(username),
  );
  const hub = new ChannelHub(
    { engine, bus, presence: new MemoryPresenceStore(), likes: new MemoryLikeStore(), rooms, chatLimiter: new MemoryRateLimiter(config.chatRatePer30s, 30, 'chat') },
    {
      replaySize: config.replaySize,
      moodWindowS: config.moodWindowS,
      moodLongWindowS: config.moodLongWindowS,
      moodTickMs: config.moodTickMs,
      batchTickMs: config.batchTickMs,
      controlTickMs: 250,
    },
  );
  const baseHeaders = { 'X-Instance': `${hostname()}:${process.pid}` };
  const ws = new WsGateway(
    {
      auth,
      hub,
      connectLimiter: new MemoryRateLimiter(config.ws.connectRatePerMin, 60, 'ws-connect'),
      frameLimiter: new MemoryRateLimiter(config.ws.frameRatePer10s, 10, 'ws-frames'),
      baseHeaders,
      log,
    },
    { ...config.ws, maxTextLength: config.maxTextLength },
  );

  let draining = false;
  let inflight = 0;
  let idle: (() => void) | null = null;
  const limits = { maxTextLength: config.maxTextLength, maxBatchTexts: config.maxBatchTexts };
  const router = new Router({
    auth,
    apiLimiter: new MemoryRateLimiter(config.apiRatePerMin, 60, 'api'),
    authLimiter: new MemoryRateLimiter(config.authRatePerMin, 60, 'auth'),
    maxBodyBytes: config.maxBodyBytes,
    baseHeaders,
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
      notReadyReason: () => (draining ? 'draining' : !engine.ready ? 'model not loaded' : ws.atCapacity ? 'at the WebSocket connection limit' : null),
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
      await bus.close();
      await engine.close();
      revocations.close();
      // Keep-alive connections would hold the loop open after the listen socket is gone.
      (app as typeof app & { close(): void }).close(); // in the native build, missing from its typings
      log.info('chatpulse stopped');
    },
  };
}
