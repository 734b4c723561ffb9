// The composition root: the one place that turns Config into drivers, services and a listening gateway.
// state.ts and persistent.ts choose the drivers, engine.ts loads the model, http.ts wires REST and the
// listen socket, readiness.ts says when the process leaves traffic; this file puts them in order.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isRevocation } from '../auth/revocations.js';
import type { Principal } from '../auth/index.js';
import type { AuthService } from '../auth/service.js';
import { SYSTEM_CHANNEL } from '../channels/bus.js';
import { ChannelHub, type IngestStage } from '../channels/hub.js';
import { BusNotifier, type Notifier } from '../channels/notify.js';
import { RoomLifecycleService } from '../channels/room-lifecycle.js';
import { RoomService } from '../channels/rooms.js';
import type { Config } from '../config.js';
import { ClientAddress } from '../gateway/client-address.js';
import type { Route } from '../gateway/router.js';
import { nativeUws } from '../gateway/uws.js';
import { socketFanout, WsGateway } from '../gateway/ws.js';
import { FileService } from '../files/index.js';
import { IngestManager } from '../ingest/manager.js';
import type { Logger } from '../observability/log.js';
import { Metrics } from '../observability/metrics.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import { HistoryService } from '../store/history.js';
import type { StoreWriter } from '../store/writer.js';
import { ensureConfiguredAdmin, startAuth } from './auth.js';
import { ingestConnectors } from './connectors.js';
import { instrumentProfiles, profileService } from './profiles.js';
import { startEngine } from './engine.js';
import { Drain, listen, mapInfraError, mountHttp } from './http.js';
import { shutdown } from './shutdown.js';
import { persistentState, startWriter } from './persistent.js';
import { historyOptions, hubOptions, ingestOptions, lifecycleOptions, matchOptions, roomOptions } from './options.js';
import { readiness } from './readiness.js';
import { MatchService } from '../social/service.js';
import { UserMoods } from '../social/moods.js';
import { memoryState, redisState, withAccounts, withIdentities } from './state.js';

export interface ChatPulse {
  readonly port: number;
  readonly engine: SentimentEngine;
  readonly auth: AuthService;
  readonly hub: ChannelHub;
  readonly ws: WsGateway;
  readonly ingest: IngestManager;
  readonly writer: StoreWriter;
  /** Personal notifications, to every socket of a user on any process. */
  readonly notifier: Notifier;
  /** Matching: the queue's service (its tick runs on every process). */
  readonly match: MatchService;
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

  const shared =
    config.redis === undefined
      ? memoryState(historyOptions(config))
      : await redisState(config.redis, config.presenceTtlMs, config.stateLossPolicy, historyOptions(config), log);
  const persistent = await persistentState(config, log);
  shared.instrument?.(metrics);
  persistent.instrument?.(metrics);
  const { state, identities } = withIdentities(withAccounts(shared, persistent));
  const { bus } = state;
  const writer = await startWriter(persistent, config, log, metrics);
  // A revocation closes this process's sockets at once, and every other process's off the bus (this one's echo is a no-op by then).
  const auth = await startAuth(
    config,
    state,
    jwtSecret,
    (revocation) => {
      ws.revoke(revocation);
      bus.publish({ kind: 'revoke', channel: SYSTEM_CHANNEL, revocation });
    },
    log,
  );

  // Re-seeded after Redis came back empty: the configured admin account is created again with it.
  shared.onReseed?.(
    () => void ensureConfiguredAdmin(auth, config, log).catch((err: unknown) => log.error({ err }, 'admin account not re-created')),
  );
  const rooms = new RoomService(
    state.rooms,
    bus,
    roomOptions(config, (channel, ids) => writer.remove(channel, ids)),
    state.users,
  );
  const app = uws.App();
  const moods = new UserMoods();
  const files = new FileService(persistent.files, { quotaBytes: config.files.quotaBytes });
  const hubDeps = {
    engine,
    bus,
    rooms,
    presence: state.presence,
    likes: state.likes,
    recorder: writer,
    messages: persistent.messages,
    moods,
    files,
    identities,
    momentStore: persistent.moments,
    onMomentError: (err: unknown) => log.warn({ err }, 'a moment was not stored'),
    observeIngest: (stage: IngestStage, ms: number) => metrics.ingestStages.observe({ stage }, ms / 1000),
  };
  const hub = new ChannelHub(
    {
      ...hubDeps,
      fanout: socketFanout(app, metrics.wsFramesOut),
      chatLimiter: state.limiter(config.chatRatePer30s, 30, 'chat'),
      ingestLive: (channel): Promise<boolean> => ingest.isLive(channel.kind, channel.id), // called only once `ingest` below exists
    },
    hubOptions(config),
  );
  const instance = `${hostname()}:${process.pid}`;
  const profiles = profileService(config.profiles, state.profiles, log);
  instrumentProfiles(metrics, profiles);
  const connectors = ingestConnectors(config.ingest, log, (source, login, name, avatar) => profiles.record(source, login, name, avatar));
  const ingestDeps = { store: state.ingest, leases: state.leases, board: state.board, connectors, hub, ownerId: instance, log };
  const ingest = new IngestManager(ingestDeps, ingestOptions(config));
  metrics.read('ingest', () => ingest.statusCounts());

  const drain = new Drain();
  const baseHeaders = { 'X-Instance': instance };
  const wsDeps = { auth, hub, baseHeaders, log, metrics, addresses, mapError: mapInfraError, draining: () => drain.draining };
  // `lifecycle` below exists before the first frame arrives.
  const decide = (p: Principal | null, channel: string, keep: boolean) => lifecycle.decideOn(p, channel, keep);
  const connectLimiter = state.limiter(config.ws.connectRatePerMin, 60, 'ws-connect');
  const frameLimiter = state.limiter(config.ws.frameRatePer10s, 10, 'ws-frames');
  const ws = new WsGateway({ ...wsDeps, connectLimiter, frameLimiter, decide }, { ...config.ws, maxTextLength: config.maxTextLength });
  bus.onEvent((e) => e.kind === 'revoke' && isRevocation(e.revocation) && ws.revoke(e.revocation));
  bus.onEvent((e) => e.kind === 'notify' && ws.notify(e.userId, e.frame));
  const notifier = new BusNotifier(bus);
  const lifecycle = new RoomLifecycleService({ store: state.rooms, bus, notifier, log }, lifecycleOptions(config));
  const matchDeps = { queue: state.matches, rooms, notifier, moods, connectedUsers: () => ws.connectedUsers(), log };
  const match = new MatchService(matchDeps, matchOptions(config));
  ws.mount(app);
  const history = new HistoryService(persistent.messages, persistent.buckets, engine.info.labels);
  const ready = readiness({ draining: () => drain.draining, engine, shared: state, persistent, writer });
  const services = { auth, engine, rooms, lifecycle, ingest, hub, ws, history, match, files, identities, profiles };
  const router = mountHttp(app, { config, log, metrics, drain, addresses, baseHeaders, state, persistent, readiness: ready, ...services });
  const listenSocket = await listen(app, config);
  const port = uws.us_socket_local_port(listenSocket);
  log.info(
    { port, host: config.host, model: engine.info.name, threads: config.inferenceThreads, tokenizer: engine.tokenizer.reason },
    'chatpulse listening',
  );
  hub.start();
  ingest.start();
  match.start();
  lifecycle.start();

  const stop = () => (
    match.stop(),
    lifecycle.stop(),
    shutdown({ config, log, drain, app, listenSocket, ws, ingest, hub, engine, writer, state, persistent })
  );
  return { port, engine, auth, hub, ws, ingest, writer, notifier, match, routes: router.routes, stop };
}
