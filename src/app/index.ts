// The composition root: the one place that turns Config into drivers, services and a listening gateway.
// state.ts and persistent.ts choose the drivers, engine.ts loads the model, http.ts wires REST and the
// listen socket, readiness.ts says when the process leaves traffic; this file puts them in order.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isRevocation } from '../auth/revocations.js';
import { AuthService } from '../auth/service.js';
import { TokenIssuer } from '../auth/tokens.js';
import { SYSTEM_CHANNEL } from '../channels/bus.js';
import { ChannelHub } from '../channels/hub.js';
import { RoomService } from '../channels/rooms.js';
import type { Config } from '../config.js';
import { ClientAddress } from '../gateway/client-address.js';
import type { Route } from '../gateway/router.js';
import { MAX_TIMEOUT_S } from '../gateway/routes/rooms.js';
import { nativeUws } from '../gateway/uws.js';
import { socketFanout, WsGateway } from '../gateway/ws.js';
import { IngestManager } from '../ingest/manager.js';
import type { Logger } from '../observability/log.js';
import { Metrics } from '../observability/metrics.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import { HistoryService } from '../store/history.js';
import { DiskSpool } from '../store/spool.js';
import { StoreWriter } from '../store/writer.js';
import { ingestConnectors } from './connectors.js';
import { startEngine } from './engine.js';
import { Drain, listen, mapInfraError, mountHttp } from './http.js';
import { shutdown } from './shutdown.js';
import { persistentState } from './persistent.js';
import { readiness } from './readiness.js';
import { memoryState, redisState, withAccounts } from './state.js';

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

export async function startChatPulse(config: Config, log: Logger): Promise<ChatPulse> {
  const uws = nativeUws();
  const addresses = new ClientAddress(config.trustedProxies); // checks TRUSTED_PROXIES before the slow start
  const metrics = new Metrics(config.workerSlot);
  const engine = await startEngine(config, metrics);
  const jwtSecret = config.jwtSecret ?? randomBytes(48).toString('base64');
  if (config.jwtSecret === undefined)
    log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when this process restarts');

  const shared = config.redisUrl === undefined ? memoryState() : await redisState(config.redisUrl, config.presenceTtlMs, log);
  const persistent = await persistentState(config, log);
  shared.instrument?.(metrics);
  persistent.instrument?.(metrics);
  const state = withAccounts(shared, persistent);
  const { users, bus } = state;
  const spool = await DiskSpool.open(persistent.spoolDir, { maxBytes: config.store.spoolMaxBytes, log });
  const st = config.store;
  const writer = new StoreWriter({
    messages: persistent.messages,
    buckets: persistent.buckets,
    spool,
    flushMs: st.flushMs,
    maxDocs: st.flushMaxDocs,
    log,
  });
  metrics.read('writer', () => ({ ...writer.state(), written: writer.written }));

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

  const onRemove = (channel: string, ids: readonly string[]) => writer.remove(channel, ids);
  const rooms = new RoomService(
    state.rooms,
    bus,
    { maxRooms: config.maxRooms, maxRoomsPerUser: config.quotas.roomsPerUser, maxTimeoutS: MAX_TIMEOUT_S, onRemove },
    users,
  );
  const app = uws.App();
  const hub = new ChannelHub(
    {
      engine,
      bus,
      fanout: socketFanout(app, metrics.wsFramesOut),
      presence: state.presence,
      likes: state.likes,
      rooms,
      recorder: writer,
      messages: persistent.messages,
      chatLimiter: state.limiter(config.chatRatePer30s, 30, 'chat'),
      ingestLive: (channel): Promise<boolean> => ingest.isLive(channel.kind, channel.id), // called only once `ingest` below exists
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
  const { ingest: ic } = config;
  const ingest = new IngestManager(
    { store: state.ingest, leases: state.leases, board: state.board, connectors: ingestConnectors(ic, log), hub, ownerId: instance, log },
    {
      leaseTtlMs: ic.leaseTtlMs,
      scanMs: ic.scanMs,
      maxOwned: ic.maxOwned,
      maxStreams: ic.maxStreams,
      maxStreamsPerUser: config.quotas.ingestStreamsPerUser,
      retryEndedMs: ic.retryEndedMs,
      retryErrorMs: ic.retryErrorMs,
    },
  );
  metrics.read('ingest', () => ingest.statusCounts());

  const drain = new Drain();
  const baseHeaders = { 'X-Instance': instance };
  const wsDeps = { auth, hub, baseHeaders, log, metrics, addresses, mapError: mapInfraError, draining: () => drain.draining };
  const wsLimits = {
    connectLimiter: state.limiter(config.ws.connectRatePerMin, 60, 'ws-connect'),
    frameLimiter: state.limiter(config.ws.frameRatePer10s, 10, 'ws-frames'),
  };
  const ws = new WsGateway({ ...wsDeps, ...wsLimits }, { ...config.ws, maxTextLength: config.maxTextLength });
  bus.onEvent((e) => e.kind === 'revoke' && isRevocation(e.revocation) && ws.revoke(e.revocation));
  ws.mount(app);
  const history = new HistoryService(persistent.messages, persistent.buckets, engine.info.labels);
  const ready = readiness({ draining: () => drain.draining, engine, shared: state, persistent, writer });
  const router = mountHttp(app, {
    config,
    log,
    metrics,
    drain,
    addresses,
    baseHeaders,
    state,
    persistent,
    readiness: ready,
    auth,
    engine,
    rooms,
    ingest,
    hub,
    ws,
    history,
  });
  const listenSocket = await listen(app, config);
  const port = uws.us_socket_local_port(listenSocket);
  log.info({ port, host: config.host, model: engine.info.name, threads: config.inferenceThreads }, 'chatpulse listening');
  hub.start();
  ingest.start();

  const stop = () => shutdown({ config, log, drain, app, listenSocket, ws, ingest, hub, engine, writer, state, persistent });
  return { port, engine, auth, hub, ws, ingest, writer, routes: router.routes, stop };
}
