// HTTP wiring: the route table, the dashboard's static files, in-flight tracking for the drain, and the
// listen socket.
import type { IdentityCache } from '../auth/identity.js';
import type { AuthService } from '../auth/service.js';
import type { FileService } from '../files/index.js';
import type { ChannelHub } from '../channels/hub.js';
import type { RoomLifecycleService } from '../channels/room-lifecycle.js';
import type { RoomService } from '../channels/rooms.js';
import { ConfigError, type Config } from '../config.js';
import { AppError } from '../errors.js';
import type { ClientAddress } from '../gateway/client-address.js';
import { asyncApiDocument } from '../gateway/asyncapi.js';
import { openApiDocument } from '../gateway/openapi.js';
import { Router, type RequestEvent } from '../gateway/router.js';
import { accountRoutes } from '../gateway/routes/account.js';
import { adminCacheRoutes, adminRoutes } from '../gateway/routes/admin.js';
import { profileRoutes } from '../gateway/routes/profiles.js';
import type { ProfileService } from '../profiles/index.js';
import { auditRoutes } from '../gateway/routes/audit.js';
import { mailRoutes } from '../gateway/routes/mail.js';
import { MailService, smtpSender } from '../auth/mail.js';
import { AuditLog } from '../store/audit.js';
import { authRoutes } from '../gateway/routes/auth.js';
import { docsRoutes } from '../gateway/routes/docs.js';
import { historyRoutes } from '../gateway/routes/history.js';
import { ingestRoutes } from '../gateway/routes/ingest.js';
import { matchRoutes } from '../gateway/routes/match.js';
import { metricsRoutes } from '../gateway/routes/metrics.js';
import { opsRoutes, type Readiness } from '../gateway/routes/ops.js';
import { reportRoutes } from '../gateway/routes/reports.js';
import { fileRoutes } from '../gateway/routes/files.js';
import { roomRoutes } from '../gateway/routes/rooms.js';
import { badgeRoutes } from '../gateway/routes/badges.js';
import { likeRoutes } from '../gateway/routes/likes.js';
import { sentimentRoutes } from '../gateway/routes/sentiment.js';
import { mountStatic } from '../gateway/static.js';
import type { TemplatedApp, us_listen_socket } from '../gateway/uws.js';
import type { WsGateway } from '../gateway/ws.js';
import type { IngestManager } from '../ingest/manager.js';
import { isMongoUnavailable } from '../mongo/connection.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { isRedisUnavailable } from '../redis/connection.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import type { MatchService } from '../social/service.js';
import type { HistoryService } from '../store/history.js';
import type { PersistentState } from './persistent.js';
import type { SharedState } from './state.js';

/** Infrastructure failures become a 503 the client may retry, instead of a 500. */
export function mapInfraError(err: unknown): AppError | null {
  if (isRedisUnavailable(err))
    return new AppError(503, 'unavailable', 'shared state (Redis) is unreachable; retry shortly', { 'Retry-After': '1' }, 1000);
  if (isMongoUnavailable(err))
    return new AppError(503, 'unavailable', 'the store (MongoDB) is unreachable; retry shortly', { 'Retry-After': '1' }, 1000);
  return null;
}

/** The drain's view of HTTP: whether it has begun, and when the last in-flight request has been answered. */
export class Drain {
  draining = false;
  #inflight = 0;
  #idle: (() => void) | null = null;

  readonly inflight = {
    begin: () => {
      this.#inflight++;
    },
    end: () => {
      if (--this.#inflight === 0 && this.#idle) this.#idle();
    },
  };

  /** Resolves when no request is in flight, or at `deadline` (performance.now() ms), whichever comes first. */
  idle(deadline: number): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
      this.#idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export interface HttpDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  drain: Drain;
  addresses: ClientAddress;
  baseHeaders: Readonly<Record<string, string>>;
  state: Pick<SharedState, 'limiter' | 'users'>;
  persistent: Pick<PersistentState, 'messages' | 'buckets' | 'reports' | 'audit' | 'moments'>;
  readiness: Readiness;
  auth: AuthService;
  engine: SentimentEngine;
  rooms: RoomService;
  lifecycle: RoomLifecycleService;
  ingest: IngestManager;
  hub: ChannelHub;
  ws: WsGateway;
  history: HistoryService;
  files: FileService;
  identities: IdentityCache;
  match: MatchService;
  profiles: ProfileService;
}

/** Mounts the dashboard and every REST route on `app`; returns the router (its route table). */
export function mountHttp(app: TemplatedApp, d: HttpDeps): Router {
  const { config, log, metrics, drain, persistent } = d;
  const observe = (e: RequestEvent): void => {
    metrics.httpRequests.inc({ method: e.method, route: e.route, status: e.status });
    metrics.httpDuration.observe({ method: e.method, route: e.route }, e.ms / 1000);
    // Probes (the light path, no request id) are counted, not logged: they would drown the log.
    if (e.requestId !== undefined)
      log.info(
        { req_id: e.requestId, method: e.method, route: e.route, path: e.path, status: e.status, ms: Math.round(e.ms * 10) / 10, ip: e.ip },
        'request',
      );
  };
  // Security and admin events: recorded by the router for routes with an `audit` kind, never on the request path.
  const audit = new AuditLog(persistent.audit, { onError: (err) => log.warn({ err }, 'audit log write failed') });
  // Verification and reset mails (SMTP_URL); at most 5 mails an hour per address and per account.
  const mail = new MailService({
    users: d.state.users,
    send: config.mail.smtpUrl === undefined ? null : smtpSender(config.mail.smtpUrl, config.mail.from),
    resetPassword: (userId, password) => d.auth.resetPassword(userId, password),
    resetTtlS: config.mail.resetTokenTtlS,
    limiter: d.state.limiter(5, 3600, 'mail'),
    log,
  });
  const router = new Router({
    audit: (e) => audit.record(e),
    auth: d.auth,
    apiLimiter: d.state.limiter(config.apiRatePerMin, 60, 'api'),
    authLimiter: d.state.limiter(config.authRatePerMin, 60, 'auth'),
    baseHeaders: d.baseHeaders,
    mapError: mapInfraError,
    corsOrigins: config.corsOrigins,
    addresses: d.addresses,
    onError: (err, req) => log.error({ err, method: req.method, url: req.url, req_id: req.requestId }, 'request failed'),
    observe,
    draining: () => drain.draining,
    inflight: drain.inflight,
  });
  const limits = { maxTextLength: config.maxTextLength, maxBatchTexts: config.maxBatchTexts, maxBodyBytes: config.maxBodyBytes };
  const stores = { messages: persistent.messages, buckets: persistent.buckets };
  router.add(
    ...opsRoutes(d.readiness),
    ...authRoutes(d.auth),
    ...sentimentRoutes(d.engine, limits, d.baseHeaders['X-Instance'] ?? ''),
    ...fileRoutes({ files: d.files, rooms: d.rooms, auth: d.auth, identities: d.identities, maxBytes: config.files.maxBytes }),
    ...roomRoutes(d.rooms, d.lifecycle, config.roomEvent),
    ...badgeRoutes(d.rooms),
    ...likeRoutes(d.hub),
    ...matchRoutes(d.match),
    ...ingestRoutes(d.ingest),
    ...historyRoutes({ hub: d.hub, ...stores, history: d.history, moments: persistent.moments }),
    ...reportRoutes(persistent.reports, d.history, {
      maxPerUser: config.quotas.reportsPerUser,
      retentionDays: config.quotas.reportRetentionDays,
    }),
    ...accountRoutes(d.auth, persistent.reports, mail),
    ...mailRoutes(mail),
    ...adminRoutes(d.auth, d.engine, d.ws, d.hub, stores),
    ...profileRoutes(d.profiles),
    ...adminCacheRoutes({ profiles: d.profiles, identities: d.identities }),
    ...auditRoutes(audit),
    ...metricsRoutes(metrics),
    ...docsRoutes(
      () =>
        openApiDocument(router.routes, {
          title: 'ChatPulse API',
          version: '1.0.0',
          description: 'Real-time sentiment for live-stream chat.',
        }),
      () => asyncApiDocument({ version: '1.0.0', maxTextLength: config.maxTextLength }),
    ),
  );
  // The dashboard at / (exact routes; the router's /* fallback stays for the rest).
  mountStatic(app, {
    baseHeaders: d.baseHeaders,
    observe,
    addresses: d.addresses,
    draining: () => drain.draining,
    onError: (err) => log.error({ err }, 'static file request failed'),
  });
  router.mount(app);
  return router;
}

export function listen(app: TemplatedApp, config: Config): Promise<us_listen_socket> {
  return new Promise<us_listen_socket>((resolve, reject) => {
    // One process alone binds exclusively: uWS's default SO_REUSEPORT would let a second `npm start` share
    // the port and split the traffic between two servers. Cluster workers share it on purpose (the primary
    // checked it was free).
    const exclusive = config.workers === 1 ? 1 : 0; // LIBUS_LISTEN_EXCLUSIVE_PORT : LIBUS_LISTEN_DEFAULT (a type-only enum in the typings)
    const done = (socket: us_listen_socket | false) =>
      socket
        ? resolve(socket)
        : reject(new ConfigError(`PORT: cannot listen on ${config.host}:${config.port} (in use, or not an address of this host)`));
    // The native build takes (host, port, options, cb); its typings list only (port, options, cb).
    (app.listen as unknown as (h: string, p: number, o: number, cb: typeof done) => void)(config.host, config.port, exclusive, done);
  });
}
