// The route table and the request pipeline. Routes are registered with uWS's own (native) router; the
// table is kept so 405s, CORS preflights and the OpenAPI document all come from one list.
import { monotonicFactory } from '../ids.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { AuthService, Principal } from '../auth/index.js';
import { AppError, forbidden, payloadTooLarge, rateLimited, unauthorized } from '../errors.js';
import type { RateLimiter } from '../limits/index.js';
import {
  decodePathSegment,
  errorBody,
  parseJson,
  rawQuery,
  readBody,
  refuseDraining,
  ResponseState,
  peerAddress,
  snapshot,
  writeHead,
  writeJson,
  writeNow,
  type RequestSnapshot,
} from './http.js';
import type { ClientAddress } from './client-address.js';
import type { AuditEvent, AuditOutcome } from '../store/audit.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'del';
export type AuthLevel = 'public' | 'user' | 'admin';

export interface RouteContext<B> {
  body: B;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  /** Null only on public routes. */
  principal: Principal | null;
  ip: string;
  /** Upload routes only: the raw body and its declared Content-Type ('' when absent). */
  upload?: { bytes: Buffer; contentType: string };
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A non-JSON reply (HTML, CSS, scripts, images): written as is with its content type; `body` is then ignored. */
  raw?: { contentType: string; body: string | Buffer };
}

type BodyOf<S> = S extends TSchema ? Static<S> : undefined;

export interface RouteSpec<S extends TSchema | undefined> {
  method: Method;
  /** uWS pattern: `/api/v1/api-keys/:id`. */
  path: string;
  auth: AuthLevel;
  summary: string;
  tag: string;
  body?: S;
  /**
   * Query parameters, validated before the handler (a failure is 400 `validation_failed`). Query values
   * are strings, so the properties are string schemas (patterns, lengths); handlers still parse `ctx.query`.
   */
  query?: TObject;
  /** The 2xx reply's body, for the OpenAPI document. */
  response?: TSchema;
  /** The 2xx reply's media type when it is not JSON (a `raw` reply), for the OpenAPI document. */
  produces?: string;
  /** Longer prose for the OpenAPI document (CommonMark). */
  description?: string;
  /** Further documented statuses: a body schema, or a description (error statuses then use the error body). */
  responses?: Record<number, TSchema | string>;
  /** Served but left out of the OpenAPI document (e.g. Swagger UI's static assets). */
  hidden?: boolean;
  /**
   * The largest body this route reads (413 past it, from Content-Length or while streaming); default
   * DEFAULT_BODY_BYTES. Only the sentiment routes need more: every other body is a few fields.
   */
  maxBodyBytes?: number;
  /** The body may be empty: it is then validated as `{}` (e.g. logout, whose refresh token is optional). */
  optionalBody?: boolean;
  /**
   * The body is raw bytes of these media types (an image upload), not JSON: read up to `maxBodyBytes` (413
   * past it, before it is buffered) and handed to the handler as `ctx.upload`; the handler checks the bytes.
   */
  upload?: readonly string[];
  /** Only a bearer token will do (the handler refuses an API key): what the OpenAPI document says. */
  bearerOnly?: boolean;
  /**
   * Asked after authentication and the rate limit, before the body is parsed: throws an AppError to refuse
   * early (the engine's admission, so that a refusal under overload costs no JSON parse of a large body).
   */
  admit?: () => void;
  /** Which limiter guards the route: per principal ('api') or per client IP ('auth'). */
  rateLimit?: 'api' | 'auth';
  /**
   * A liveness/readiness probe (public, no body, query or limit): answered on the light path, counted in
   * the metrics but not logged, since probes every few seconds would drown the request log.
   */
  probe?: boolean;
  /**
   * An audit-log event kind: every answer to this route (success, refusal or failure) is recorded with the
   * actor, `target` (from the path, the validated body or the principal; never a secret) and the outcome.
   */
  audit?: {
    kind: string;
    target?: (c: { params: Readonly<Record<string, string>>; body: unknown; principal: Principal | null }) => string | null;
  };
  handler: (ctx: RouteContext<BodyOf<S>>) => Reply | Promise<Reply>;
}

export type Route = RouteSpec<TSchema | undefined>;

/** What a request showed before its handler ran, for the audit log. */
interface Seen {
  principal: Principal | null;
  body: unknown;
}

/** Bodies of routes that do not say otherwise: auth, account, rooms, reports, ingest are a few fields each. */
export const DEFAULT_BODY_BYTES = 16 * 1024;

/** Keeps the body type of each route tied to its schema. */
export function route<S extends TSchema | undefined = undefined>(spec: RouteSpec<S>): Route {
  return spec;
}

export interface GatewayDeps {
  auth: AuthService;
  apiLimiter: RateLimiter;
  authLimiter: RateLimiter;
  /** Headers every response carries (X-Instance). */
  baseHeaders: Readonly<Record<string, string>>;
  corsOrigins: readonly string[];
  onError: (err: unknown, req: RequestSnapshot) => void;
  /** Called around every request so a drain can wait for in-flight work. */
  inflight: { begin(): void; end(): void };
  /** Turns an infrastructure failure (e.g. Redis unreachable) into its AppError (503); null: a bug (500). */
  mapError?: (err: unknown) => AppError | null;
  /** Told of every answered request (metrics, the request log). */
  observe?: (e: RequestEvent) => void;
  /** Who the client is behind trusted proxies (per-address limits, logs). */
  addresses?: ClientAddress;
  /**
   * True once a drain has begun: requests arriving from then on are refused (503 draining) and every
   * reply, including those to requests already being handled, closes its connection.
   */
  draining?: () => boolean;
  /** Where the events of routes with an `audit` kind go (fire and forget). */
  audit?: (e: AuditEvent) => void;
}

export interface RequestEvent {
  method: string;
  /** The route's pattern (bounded cardinality), or 'unmatched'. */
  route: string;
  /** The path, without the query string (which is never logged). */
  path: string;
  status: number;
  ms: number;
  /** Absent for probes (the light path), which are not logged per request. */
  requestId?: string;
  ip?: string;
}

/** A client's request id is kept when it is short and plain; anything else is replaced by a fresh ULID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Monotonic: random bits drawn once per millisecond (src/ids.ts); request ids need uniqueness, not unpredictability.
const nextRequestId = monotonicFactory();

const UPPER: Record<Method, string> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE' };
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The client's X-Request-Id when it is short and plain, else a fresh one. */
export function requestIdOf(req: HttpRequest): string {
  const given = req.getHeader('x-request-id');
  return REQUEST_ID.test(given) ? given : nextRequestId();
}

/** A method name fit for a metric label: uWS hands any token a client sends to the fallback. */
export function methodLabel(method: string): string {
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : 'OTHER';
}

export class Router {
  private readonly ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false });
  readonly routes: Route[] = [];

  constructor(private readonly deps: GatewayDeps) {}

  private readonly closing = (): boolean => this.deps.draining?.() ?? false;

  /** During a drain, answers a new request with 503 draining and closes its connection; returns whether it did. */
  private refusedDraining(res: HttpResponse, req: HttpRequest, route: string): boolean {
    if (!this.closing()) return false;
    const headers = this.corsHeaders(req.getHeader('origin'));
    const requestId = requestIdOf(req);
    headers['X-Request-Id'] = requestId;
    const method = methodLabel(req.getMethod());
    const path = req.getUrl();
    refuseDraining(res, req, headers);
    this.deps.observe?.({ method, route, path, status: 503, ms: 0, requestId });
    return true;
  }

  add(...routes: Route[]): this {
    this.routes.push(...routes);
    return this;
  }

  mount(app: TemplatedApp): void {
    for (const r of this.routes) {
      if (r.probe && (r.auth !== 'public' || r.body || r.query || r.rateLimit))
        throw new Error(`probe route ${r.path} must be public, without body, query or limit`);
      const validate = r.body ? this.ajv.compile(r.body) : null;
      const validateQuery = r.query ? this.ajv.compile(r.query) : null;
      const paramNames = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] as string);
      app[r.method](
        r.path,
        this.guard(r.path, (res, req) => this.handle(r, validate, validateQuery, paramNames, res, req)),
      );
    }
    app.options(
      '/*',
      this.guard('preflight', (res, req) => this.preflight(res, req)),
    );
    app.any(
      '/*',
      this.guard('unmatched', (res, req) => this.fallback(res, req)),
    );
  }

  /**
   * Every route's uWS callback runs inside this: a synchronous throw (a malformed escape, a bug) answers
   * that request only, with the CORS headers and request id any answer carries, and is counted and logged
   * as any answer is (`guarded` is the same guard for callbacks outside the router).
   */
  private guard(route: string, fn: (res: HttpResponse, req: HttpRequest) => void): (res: HttpResponse, req: HttpRequest) => void {
    return (res, req) => {
      try {
        fn(res, req);
      } catch (err) {
        const appErr = err instanceof AppError ? err : new AppError(500, 'internal', 'internal server error');
        const headers = this.corsHeaders(req.getHeader('origin'));
        const requestId = requestIdOf(req);
        headers['X-Request-Id'] = requestId;
        const method = methodLabel(req.getMethod());
        const path = req.getUrl();
        if (appErr.status === 500) this.deps.onError(err, { ...UNKNOWN_REQUEST, method, url: path, requestId });
        try {
          writeNow(res, appErr.status, errorBody(appErr), headers, appErr.headers);
        } catch {
          return; // already answered or aborted before it threw: nothing left to tell the client
        }
        this.deps.observe?.({ method, route, path, status: appErr.status, ms: 0, requestId });
      }
    };
  }

  private corsHeaders(origin: string): Record<string, string> {
    const { corsOrigins, baseHeaders } = this.deps;
    if (origin === '' || corsOrigins.length === 0) return { ...baseHeaders };
    if (!corsOrigins.includes('*') && !corsOrigins.includes(origin)) return { ...baseHeaders };
    return {
      ...baseHeaders,
      'Access-Control-Allow-Origin': origin,
      Vary: 'Origin',
      'Access-Control-Expose-Headers': 'X-Instance, X-Request-Id, Retry-After',
    };
  }

  private handle(
    r: Route,
    validate: ValidateFunction | null,
    validateQuery: ValidateFunction | null,
    paramNames: string[],
    res: HttpResponse,
    req: HttpRequest,
  ): void {
    if (this.refusedDraining(res, req, r.path)) return;
    if (r.probe) {
      this.handleLight(r, paramNames, res, req);
      return;
    }
    const started = performance.now();
    const snap = snapshot(res, req, paramNames.length, this.deps.addresses);
    const state = new ResponseState(res, this.closing);
    const headers = this.corsHeaders(snap.origin);
    // The id the reply carries is the one every log line of this request names.
    if (!REQUEST_ID.test(snap.requestId)) snap.requestId = nextRequestId();
    const { requestId } = snap;
    headers['X-Request-Id'] = requestId;
    const params = namedParams(paramNames, snap.params);
    const seen: Seen = { principal: null, body: undefined };
    const done = (status: number) => {
      this.deps.observe?.({
        method: UPPER[r.method],
        route: r.path,
        path: snap.url,
        status,
        ms: performance.now() - started,
        requestId,
        ip: snap.ip,
      });
      if (r.audit && this.deps.audit) this.recordAudit(r.audit, status, params, seen, snap.ip, requestId);
    };
    // uWS delivers the body only to a handler attached now, in the synchronous part.
    const body = validate || r.upload ? readBody(res, state, snap.contentLength, r.maxBodyBytes ?? DEFAULT_BODY_BYTES) : null;
    body?.catch(() => undefined); // an early 401 may leave it unread; its error is reported below if awaited
    this.deps.inflight.begin();
    this.run(r, validate, validateQuery, params, snap, body, seen)
      .then(
        (rep) => {
          writeReply(res, state, rep, headers);
          done(rep.status ?? 200);
        },
        (err: unknown) => done(this.fail(res, state, headers, err, snap)),
      )
      .finally(() => this.deps.inflight.end());
  }

  /**
   * Probes (health, ready): no header snapshot, request id or log line and, when the handler answers
   * synchronously, no promise or abort bookkeeping: the reply is written while uWS still has the socket
   * corked. This is the path the /health vs bare-uWS benchmark measures.
   */
  private handleLight(r: Route, paramNames: string[], res: HttpResponse, req: HttpRequest): void {
    const started = performance.now();
    const path = req.getUrl();
    const done = (status: number) =>
      this.deps.observe?.({ method: UPPER[r.method], route: r.path, path, status, ms: performance.now() - started });
    const headers = this.deps.corsOrigins.length === 0 ? this.deps.baseHeaders : this.corsHeaders(req.getHeader('origin'));
    const params = namedParams(
      paramNames,
      Array.from(paramNames, (_, i) => decodePathSegment(req.getParameter(i))),
    );
    const query = rawQuery(req);
    const ctx: RouteContext<undefined> = {
      body: undefined,
      params,
      get query() {
        return new URLSearchParams(query);
      },
      principal: null,
      // The response, unlike the request, lives until it is answered, so the address can be read lazily.
      get ip() {
        return Buffer.from(res.getRemoteAddressAsText()).toString();
      },
    };
    let reply: Reply | Promise<Reply>;
    try {
      reply = r.handler(ctx);
    } catch (err) {
      done(this.fail(res, new ResponseState(res), { ...headers }, err, lightSnapshot(req)));
      return;
    }
    if (!(reply instanceof Promise)) {
      if (reply.raw) writeRawNow(res, reply.status ?? 200, reply.raw, headers, reply.headers);
      else writeNow(res, reply.status ?? 200, reply.body, headers, reply.headers);
      done(reply.status ?? 200);
      return;
    }
    const state = new ResponseState(res, this.closing);
    const snap = lightSnapshot(req);
    this.deps.inflight.begin();
    reply
      .then(
        (rep) => {
          writeReply(res, state, rep, headers);
          done(rep.status ?? 200);
        },
        (err: unknown) => done(this.fail(res, state, { ...headers }, err, snap)),
      )
      .finally(() => this.deps.inflight.end());
  }

  private async run(
    r: Route,
    validate: ValidateFunction | null,
    validateQuery: ValidateFunction | null,
    params: Record<string, string>,
    snap: RequestSnapshot,
    body: Promise<Buffer> | null,
    seen: Seen,
  ): Promise<Reply> {
    let principal: Principal | null = null;
    if (r.auth !== 'public') {
      principal = await this.deps.auth.authenticate(credentials(snap));
      seen.principal = principal;
      if (r.auth === 'admin' && principal.role !== 'admin') throw forbidden();
    }
    if (r.rateLimit) {
      const limiter = r.rateLimit === 'api' ? this.deps.apiLimiter : this.deps.authLimiter;
      const key = r.rateLimit === 'api' && principal ? `u:${principal.userId}` : `ip:${snap.ip}`;
      const decision = await limiter.consume(key);
      if (!decision.allowed) throw rateLimited(decision.retryAfterMs / 1000);
    }
    r.admit?.();
    const query = new URLSearchParams(snap.query);
    if (validateQuery && !validateQuery(queryObject(query))) throw validationError(validateQuery.errors ?? [], 'query');
    let parsed: unknown;
    if (validate && body) {
      const raw = await body;
      parsed = raw.length === 0 && r.optionalBody ? {} : parseJson(raw);
      if (!validate(parsed)) throw validationError(validate.errors ?? []);
      seen.body = parsed;
    }
    const upload = r.upload && body ? { bytes: await body, contentType: snap.contentType ?? '' } : undefined;
    return r.handler({ body: parsed, params, query, principal, ip: snap.ip, ...(upload ? { upload } : {}) });
  }

  private recordAudit(
    spec: NonNullable<Route['audit']>,
    status: number,
    params: Readonly<Record<string, string>>,
    seen: Seen,
    ip: string,
    requestId: string,
  ): void {
    const outcome: AuditOutcome = status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure';
    let target: string | null;
    try {
      target = spec.target ? spec.target({ params, body: seen.body, principal: seen.principal }) : (params.id ?? null);
    } catch {
      target = null;
    }
    this.deps.audit?.({ kind: spec.kind, actor: seen.principal?.userId ?? null, target, outcome, ip, request_id: requestId });
  }

  /** Answers with the error's status (returned). */
  private fail(res: HttpResponse, state: ResponseState, headers: Record<string, string>, err: unknown, snap: RequestSnapshot): number {
    const appErr = err instanceof AppError ? err : (this.deps.mapError?.(err) ?? new AppError(500, 'internal', 'internal server error'));
    if (appErr.status === 500) this.deps.onError(err, snap);
    writeJson(res, state, appErr.status, errorBody(appErr), { ...headers, ...appErr.headers });
    return appErr.status;
  }

  private preflight(res: HttpResponse, req: HttpRequest): void {
    if (this.refusedDraining(res, req, 'preflight')) return;
    const origin = req.getHeader('origin');
    const headers = this.corsHeaders(origin);
    if ('Access-Control-Allow-Origin' in headers) {
      headers['Access-Control-Allow-Methods'] = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
      headers['Access-Control-Allow-Headers'] = 'Authorization, Content-Type, X-API-Key, X-Request-Id';
      headers['Access-Control-Max-Age'] = '600';
    }
    writeJson(res, new ResponseState(res), 204, undefined, headers);
  }

  private fallback(res: HttpResponse, req: HttpRequest): void {
    if (this.refusedDraining(res, req, 'unmatched')) return;
    const url = req.getUrl();
    const headers = this.corsHeaders(req.getHeader('origin'));
    const requestId = requestIdOf(req);
    headers['X-Request-Id'] = requestId;
    const ip = peerAddress(res, req, this.deps.addresses);
    const state = new ResponseState(res);
    const allowed = this.routes.filter((r) => patternMatches(r.path, url)).map((r) => UPPER[r.method]);
    const method = methodLabel(req.getMethod());
    const observe = (status: number) => this.deps.observe?.({ method, route: 'unmatched', path: url, status, ms: 0, requestId, ip });
    if (allowed.length > 0) {
      const err = new AppError(405, 'method_not_allowed', `${method} is not allowed on ${url}`);
      writeJson(res, state, 405, errorBody(err), { ...headers, Allow: allowed.join(', ') });
      observe(405);
      return;
    }
    writeJson(res, state, 404, errorBody(new AppError(404, 'not_found', `no route for ${url}`)), headers);
    observe(404);
  }
}

/** Writes a handler's reply from a callback outside uWS's synchronous part: JSON, or `raw` as is. */
function writeReply(res: HttpResponse, state: ResponseState, rep: Reply, headers: Readonly<Record<string, string>>): void {
  const status = rep.status ?? 200;
  const all = { ...headers, ...rep.headers };
  const raw = rep.raw;
  if (!raw) {
    writeJson(res, state, status, rep.body, all);
    return;
  }
  if (!state.open) return;
  state.done = true;
  const close = state.closeAfter;
  res.cork(() => writeRawNow(res, status, raw, all, undefined, close));
}

/** A raw (non-JSON) reply, written where uWS has the socket corked. */
function writeRawNow(
  res: HttpResponse,
  status: number,
  raw: NonNullable<Reply['raw']>,
  headers: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> | undefined,
  close = false,
): void {
  writeHead(res, status, headers, extra);
  if (status === 204 || status === 304) {
    res.endWithoutBody(undefined, close);
    return;
  }
  res.writeHeader('Content-Type', raw.contentType);
  res.end(raw.body, close);
}

/** The query string as the object its schema validates: each name's first value, as the raw string. */
function queryObject(query: URLSearchParams): Record<string, string> {
  // No prototype: a `__proto__` or `constructor` parameter is a plain (unknown) key, not an inherited one.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of query) if (!Object.hasOwn(out, key)) out[key] = value;
  return out;
}

function namedParams(names: readonly string[], values: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  names.forEach((name, i) => (params[name] = values[i] as string));
  return params;
}

/** What the guard can say of a request whose own snapshot failed. */
const UNKNOWN_REQUEST: RequestSnapshot = {
  method: '',
  url: '',
  query: '',
  authorization: '',
  apiKey: '',
  origin: '',
  contentLength: '',
  ip: '',
  params: [],
  requestId: '',
};

function lightSnapshot(req: HttpRequest): RequestSnapshot {
  return {
    method: req.getMethod(),
    url: req.getUrl(),
    query: '',
    authorization: '',
    apiKey: '',
    origin: '',
    contentLength: '',
    ip: '',
    params: [],
    requestId: '',
  };
}

function patternMatches(pattern: string, url: string): boolean {
  const a = pattern.split('/');
  const b = url.split('/');
  return a.length === b.length && a.every((seg, i) => seg.startsWith(':') || seg === b[i]);
}

export function credentials(snap: { authorization: string; apiKey: string }): { bearer?: string; apiKey?: string } {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(snap.authorization);
  if (match) return { bearer: match[1] };
  if (snap.apiKey !== '') return { apiKey: snap.apiKey };
  if (snap.authorization !== '') throw unauthorized('Authorization must be "Bearer <access token>"');
  return {};
}

/**
 * Size limits on a body are 413 per the contract; every other schema failure (and every query failure)
 * is 400 with the field named.
 */
function validationError(errors: ErrorObject[], part: 'body' | 'query' = 'body'): AppError {
  const first = errors[0];
  if (!first) return new AppError(400, 'validation_failed', `invalid request ${part}`);
  const where = first.instancePath === '' ? part : `${part}${first.instancePath.replace(/\//g, '.')}`;
  const message = `${where} ${first.message ?? 'is invalid'}`;
  if (part === 'body' && (first.keyword === 'maxLength' || first.keyword === 'maxItems')) return payloadTooLarge(message);
  if (first.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperty?: string }).additionalProperty;
    return new AppError(400, 'validation_failed', `${where} has an unknown field "${extra ?? ''}"`);
  }
  return new AppError(400, 'validation_failed', message);
}
