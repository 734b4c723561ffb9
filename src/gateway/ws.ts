// The WebSocket endpoint (`GET /ws`): credentials checked during the upgrade (a bad one never gets a
// socket), per-IP connection and frame limits, a per-process connection cap, and the dispatch of client
// frames to the channel hub; revocations and token expiry close the sockets they concern (4001), and a
// socket may renew its token in place (`auth` frame). uWS enforces the frame size (maxPayloadLength), idle timeouts with
// automatic pings, and backpressure (slow readers are skipped by publish, then closed).
import { randomBytes } from 'node:crypto';
import type { AuthService, Credentials, Principal } from '../auth/index.js';
import { RecentRevocations, REVOKED_CLOSE_CODE, revokes, type Revocation } from '../auth/revocations.js';
import { topicOf, type ChannelHub, type Fanout, type Since } from '../channels/index.js';
import { frames } from '../contract/index.js';
import { AppError, draining, rateLimited, unavailable } from '../errors.js';
import type { RateLimiter } from '../limits/index.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { AddressSlots } from './address-slots.js';
import type { ClientAddress } from './client-address.js';
import { errorBody, guarded, peerAddress, rawQuery, ResponseState, writeJson } from './http.js';
import { credentials } from './router.js';
import type { TemplatedApp, WebSocket } from './uws.js';
import { errorFrame, FrameParser, type ClientFrame } from './ws-protocol.js';

export interface WsOptions {
  maxConnections: number;
  maxSubscriptions: number;
  maxFrameBytes: number;
  idleTimeoutS: number;
  maxBackpressure: number;
  maxTextLength: number;
  /** Rate-limit refusals per socket within 10 s after which the socket is closed with 1008. */
  abuseStrikes: number;
  /** Open sockets per client address on this process. */
  maxConnectionsPerAddress: number;
  /** Loopback peers are not counted against maxConnectionsPerAddress. */
  perAddressExemptLoopback: boolean;
  /** How often every authenticated socket is re-checked (a revocation event lost on the bus); 0: never. */
  revalidateS: number;
}

export interface WsDeps {
  auth: AuthService;
  hub: ChannelHub;
  /** Upgrades per client IP. */
  connectLimiter: RateLimiter;
  /** Frames per client IP. */
  frameLimiter: RateLimiter;
  baseHeaders: Readonly<Record<string, string>>;
  log: Logger;
  /** As the router's: infrastructure failures become their AppError (503) instead of 500. */
  mapError?: (err: unknown) => AppError | null;
  /** Who the client is behind trusted proxies. */
  addresses?: ClientAddress;
  /** Where the gateway reports its counters (read at scrape time); frames out are counted by socketFanout. */
  metrics?: Pick<Metrics, 'read'>;
  /** True once a drain has begun: upgrades (even on an open keep-alive connection) are refused. */
  draining?: () => boolean;
  /** A `decide` frame: a member's decision in a lifecycle room (RoomLifecycleService.decideOn); absent: refused. */
  decide?: (principal: Principal | null, channel: string, keep: boolean) => Promise<void>;
}

interface SocketData {
  id: string;
  principal: Principal | null;
  ip: string;
  /** Joined channels -> batched? */
  subs: Map<string, boolean>;
  /** Subscriptions being checked and joined, so a racing second subscribe sees the first. */
  joining: Set<string>;
  closed: boolean;
  strikes: number[];
  /** Closes the socket at its access token's expiry (JWT sockets only). */
  expiry: NodeJS.Timeout | null;
}

export interface WsCounters {
  opened: number;
  refusedCapacity: number;
  refusedRate: number;
  refusedAuth: number;
  frames: number;
  errorFrames: number;
  closedAbuse: number;
  /** Frames over maxFrameBytes (1009). */
  closedTooBig: number;
  /** 1006: slow consumers dropped at maxBackpressure, and connections lost without a close frame. */
  closedAbnormal: number;
  /** Upgrades refused because the address holds maxConnectionsPerAddress sockets. */
  refusedAddress: number;
  /** 4001 revoked / expired. */
  closedRevoked: number;
  closedExpired: number;
  /** `auth` frames that renewed a socket's token. */
  renewed: number;
}

type Socket = WebSocket<SocketData>;

const TYPE_PREFIX = '{"type":"';
/** A serialized server frame's type, read without parsing it (the contract serializes `type` first). */
export function frameType(frame: string): string {
  return frame.startsWith(TYPE_PREFIX) ? frame.slice(TYPE_PREFIX.length, frame.indexOf('"', TYPE_PREFIX.length)) : 'unknown';
}

/** The app's sockets by topic, as the hub publishes to them; counts frames out by type when given a counter. */
export function socketFanout(app: TemplatedApp, framesOut?: Metrics['wsFramesOut']): Fanout {
  return {
    publish: (topic, frame) => {
      if (framesOut) {
        // One count per subscriber reached.
        const n = app.numSubscribers(topic);
        if (n > 0) framesOut.inc({ type: frameType(frame) }, n);
      }
      app.publish(topic, frame);
    },
    subscribers: (topic) => app.numSubscribers(topic),
  };
}

const ABUSE_WINDOW_MS = 10_000;
/** setTimeout's ceiling (~24.8 days): a later expiry re-arms when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a client refused for its address is asked to wait: a slot frees only when one of its sockets closes. */
const ADDRESS_RETRY_S = 5;

export class WsGateway {
  private readonly sockets = new Set<Socket>();
  /** Authenticated sockets by user id and by API key id: a revocation closes its sockets without a walk over all. */
  private readonly byUser = new Map<string, Set<Socket>>();
  private readonly byKey = new Map<string, Set<Socket>>();
  private readonly recent = new RecentRevocations();
  private readonly slots: AddressSlots;
  /** The periodic re-check of open sockets (revalidate), and whether one is under way. */
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  private readonly parser: FrameParser;
  private upgrading = 0;
  private connSeq = 0;
  private readonly instance = randomBytes(4).toString('hex');
  readonly counters: WsCounters = {
    opened: 0,
    refusedCapacity: 0,
    refusedRate: 0,
    refusedAuth: 0,
    frames: 0,
    errorFrames: 0,
    closedAbuse: 0,
    closedAbnormal: 0,
    closedTooBig: 0,
    refusedAddress: 0,
    closedRevoked: 0,
    closedExpired: 0,
    renewed: 0,
  };

  constructor(
    private readonly deps: WsDeps,
    private readonly options: WsOptions,
  ) {
    this.parser = new FrameParser(options.maxTextLength);
    this.slots = new AddressSlots(options.maxConnectionsPerAddress, options.perAddressExemptLoopback);
    if (options.revalidateS > 0) {
      this.sweeper = setInterval(() => void this.revalidate(), options.revalidateS * 1000);
      this.sweeper.unref();
    }
    deps.metrics?.read('ws', () => {
      const c = this.counters;
      return {
        connections: this.connections,
        subscriptions: this.subscriptions,
        framesIn: c.frames,
        drops: {
          refused_capacity: c.refusedCapacity,
          refused_rate: c.refusedRate,
          refused_auth: c.refusedAuth,
          error_frame: c.errorFrames,
          closed_abuse: c.closedAbuse,
          closed_too_big: c.closedTooBig,
          closed_abnormal: c.closedAbnormal,
          refused_address: c.refusedAddress,
          closed_revoked: c.closedRevoked,
          closed_expired: c.closedExpired,
        },
      };
    });
  }

  /**
   * Re-checks every authenticated socket against the stores (once per token or key) and closes with 4001
   * those no longer accepted. Revocations reach sockets through the bus within a second; this catches the
   * ones the bus lost (it delivers at most once: a Redis outage drops events). Returns how many it closed.
   */
  async revalidate(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let closed = 0;
    try {
      const groups = new Map<string, Socket[]>();
      for (const ws of this.sockets) {
        const p = ws.getUserData().principal;
        if (p === null) continue;
        const key = p.via === 'jwt' ? `t:${p.tokenId ?? p.userId}:${p.role}` : `k:${p.apiKeyId ?? p.userId}:${p.role}`;
        const group = groups.get(key);
        if (group) group.push(ws);
        else groups.set(key, [ws]);
      }
      for (const group of groups.values()) {
        const principal = (group[0] as Socket).getUserData().principal as Principal;
        let valid: boolean;
        try {
          valid = await this.deps.auth.stillValid(principal);
        } catch {
          continue; // a backend outage is no verdict: the next sweep asks again
        }
        if (valid) continue;
        for (const ws of group) {
          const d = ws.getUserData();
          if (d.closed || d.principal !== principal) continue; // closed, or renewed in place meanwhile
          this.counters.closedRevoked++;
          closed++;
          ws.end(REVOKED_CLOSE_CODE, 'revoked');
        }
      }
    } finally {
      this.sweeping = false;
    }
    return closed;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Subscriptions held by open connections (read at scrape time: a walk over the sockets). */
  get subscriptions(): number {
    let n = 0;
    for (const ws of this.sockets) n += ws.getUserData().subs.size;
    return n;
  }

  get atCapacity(): boolean {
    return this.sockets.size + this.upgrading >= this.options.maxConnections;
  }

  mount(app: TemplatedApp): void {
    app.ws<SocketData>('/ws', {
      // uWS drops frames over its limit with no close frame; ours answers 1009 up to twice the limit,
      // past which uWS cuts the connection before buffering more.
      maxPayloadLength: this.options.maxFrameBytes * 2,
      idleTimeout: this.options.idleTimeoutS,
      sendPingsAutomatically: true,
      maxBackpressure: this.options.maxBackpressure,
      closeOnBackpressureLimit: 1,
      upgrade: guarded(
        this.deps.baseHeaders,
        (err) => this.deps.log.error({ err }, 'websocket upgrade failed'),
        (res, req, context) => {
          // HttpRequest dies with this callback: copy everything now.
          const key = req.getHeader('sec-websocket-key');
          const protocol = req.getHeader('sec-websocket-protocol');
          const extensions = req.getHeader('sec-websocket-extensions');
          const query = new URLSearchParams(rawQuery(req));
          const header = { authorization: req.getHeader('authorization'), apiKey: req.getHeader('x-api-key') };
          const ip = peerAddress(res, req, this.deps.addresses);
          const state = new ResponseState(res);
          const refuse = (err: AppError) => writeJson(res, state, err.status, errorBody(err), { ...this.deps.baseHeaders, ...err.headers });
          if (this.deps.draining?.() === true) {
            refuse(draining());
            return;
          }
          if (this.atCapacity) {
            this.counters.refusedCapacity++;
            refuse(unavailable('this server is at its connection limit; try another instance or retry shortly'));
            return;
          }
          if (!this.slots.take(ip)) {
            this.counters.refusedAddress++;
            refuse(
              new AppError(
                429,
                'too_many_connections',
                `this address holds ${this.slots.max} open connections already`,
                { 'Retry-After': String(ADDRESS_RETRY_S) },
                ADDRESS_RETRY_S * 1000,
              ),
            );
            return;
          }
          this.upgrading++;
          this.authorize(ip, query, header)
            .then(
              (principal) => {
                if (!state.open) {
                  this.slots.release(ip);
                  return;
                }
                state.done = true;
                const data: SocketData = {
                  id: `${this.instance}-${++this.connSeq}`,
                  principal,
                  ip,
                  subs: new Map(),
                  joining: new Set(),
                  closed: false,
                  strikes: [],
                  expiry: null,
                };
                try {
                  res.cork(() => res.upgrade(data, key, protocol, extensions, context));
                } catch (err) {
                  // The client left between the check and the upgrade: its slot is not taken after all.
                  this.slots.release(ip);
                  this.deps.log.warn({ err }, 'websocket upgrade failed');
                }
              },
              (err: unknown) => {
                this.slots.release(ip);
                const appErr = this.toAppError(err);
                if (appErr.status === 500) this.deps.log.error({ err }, 'websocket upgrade failed');
                refuse(appErr);
              },
            )
            .finally(() => this.upgrading--);
        },
      ),
      open: (ws) => {
        this.sockets.add(ws);
        this.counters.opened++;
        const d = ws.getUserData();
        if (d.principal !== null) {
          this.index(ws, d.principal, 1);
          this.armExpiry(ws, d);
        }
      },
      message: (ws, message, isBinary) => {
        this.counters.frames++;
        if (message.byteLength > this.options.maxFrameBytes) {
          this.counters.closedTooBig++;
          ws.end(1009, `frames are limited to ${this.options.maxFrameBytes} bytes`);
          return;
        }
        // The ArrayBuffer is only valid during this callback: decode (copy) now. Invalid UTF-8 becomes
        // U+FFFD here (never a throw), and the frame then fails its schema like any other bad frame.
        const data = isBinary ? null : Buffer.from(message).toString('utf8');
        this.onFrame(ws, data).catch((err: unknown) => this.deps.log.error({ err }, 'websocket frame handler failed'));
      },
      close: (ws, code) => {
        const d = ws.getUserData();
        d.closed = true;
        this.sockets.delete(ws);
        this.slots.release(d.ip);
        if (d.expiry) clearTimeout(d.expiry);
        if (d.principal !== null) this.index(ws, d.principal, -1);
        // uWS drops a consumer whose buffered output passed maxBackpressure without a close frame (1006), as
        // a vanished client looks; the closed socket can no longer be asked which it was.
        if (code === 1006) this.counters.closedAbnormal++;
        for (const channel of d.subs.keys())
          void this.deps.hub.leave(channel, d.id).catch((err: unknown) => this.deps.log.warn({ err }, 'presence leave failed'));
      },
    });
  }

  /**
   * Sends 1001 to every socket (drain), spread over `spreadMs` in ten waves so that thousands of clients
   * do not all reconnect to the other instances in the same instant.
   */
  async closeAll(spreadMs: number): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    const all = [...this.sockets];
    const waves = 10;
    const per = Math.ceil(all.length / waves);
    for (let i = 0; i < all.length; i += per) {
      for (const ws of all.slice(i, i + per)) if (!ws.getUserData().closed) ws.end(1001, 'server shutting down');
      if (i + per < all.length) await new Promise((r) => setTimeout(r, spreadMs / waves));
    }
  }

  private async authorize(
    ip: string,
    query: URLSearchParams,
    header: { authorization: string; apiKey: string },
  ): Promise<Principal | null> {
    const decision = await this.deps.connectLimiter.consume(`ip:${ip}`);
    if (!decision.allowed) {
      this.counters.refusedRate++;
      throw rateLimited(decision.retryAfterMs / 1000, 'too many connections from this address');
    }
    const token = query.get('token') ?? undefined;
    const apiKey = query.get('api_key') ?? undefined;
    let creds = token !== undefined ? { bearer: token } : apiKey !== undefined ? { apiKey } : credentials(header);
    if (creds.bearer === '' || creds.apiKey === '') creds = { bearer: '' };
    if (creds.bearer === undefined && creds.apiKey === undefined) return null; // anonymous: may watch, not post
    try {
      return await this.authenticate(creds);
    } catch (err) {
      this.counters.refusedAuth++;
      throw err;
    }
  }

  /**
   * AuthService.authenticate, once more when a revocation that may concern the result arrived meanwhile: the
   * first answer may rest on what was read before it (a cached user), and the socket would then outlive it.
   */
  private async authenticate(creds: Credentials): Promise<Principal> {
    for (let attempt = 0; ; attempt++) {
      const seq = this.recent.seq;
      const principal = await this.deps.auth.authenticate(creds);
      if (!this.recent.since(seq, principal)) return principal;
      if (attempt === 1)
        throw new AppError(503, 'unavailable', 'credentials changed while connecting; retry', { 'Retry-After': '1' }, 1000);
    }
  }

  /**
   * Closes this process's sockets that the revocation names (4001 `revoked`). Called for every revocation
   * in the cluster, this process's own included, possibly twice for one (locally, then off the bus).
   */
  revoke(r: Revocation): void {
    this.recent.add(r);
    const targets = r.apiKeyId !== undefined ? this.byKey.get(r.apiKeyId) : r.userId !== undefined ? this.byUser.get(r.userId) : undefined;
    if (targets === undefined) return;
    for (const ws of [...targets]) {
      const d = ws.getUserData();
      if (d.closed || d.principal === null || !revokes(r, d.principal)) continue;
      this.counters.closedRevoked++;
      ws.end(REVOKED_CLOSE_CODE, 'revoked');
    }
  }

  /** The users with an authenticated socket on this process (matching keeps their tickets alive). */
  connectedUsers(): IterableIterator<string> {
    return this.byUser.keys();
  }

  /** Sends a ready frame to every socket of the user on this process (personal notifications). */
  notify(userId: string, frame: string): void {
    const targets = this.byUser.get(userId);
    if (targets === undefined) return;
    for (const ws of targets) this.send(ws, frame);
  }

  private index(ws: Socket, p: Principal, delta: 1 | -1): void {
    const entries: Array<[Map<string, Set<Socket>>, string]> = [[this.byUser, p.userId]];
    if (p.apiKeyId !== undefined) entries.push([this.byKey, p.apiKeyId]);
    for (const [map, id] of entries) {
      let set = map.get(id);
      if (delta === 1) {
        if (!set) map.set(id, (set = new Set()));
        set.add(ws);
      } else if (set) {
        set.delete(ws);
        if (set.size === 0) map.delete(id);
      }
    }
  }

  /** A JWT socket ends at its token's `exp` (4001 `expired`) unless an `auth` frame renews it first. */
  private armExpiry(ws: Socket, d: SocketData): void {
    if (d.expiry) clearTimeout(d.expiry);
    d.expiry = null;
    const exp = d.principal?.via === 'jwt' ? d.principal.tokenExp : undefined;
    if (exp === undefined) return;
    d.expiry = setTimeout(
      () => {
        d.expiry = null;
        if (d.closed) return;
        if (Date.now() < exp * 1000) this.armExpiry(ws, d);
        else this.expire(ws);
      },
      Math.min(MAX_TIMER_MS, Math.max(0, exp * 1000 - Date.now())),
    );
    d.expiry.unref();
  }

  private expire(ws: Socket): void {
    this.counters.closedExpired++;
    ws.end(REVOKED_CLOSE_CODE, 'expired');
  }

  /** `{"type":"auth","token"}`: the socket goes on as the new token, which must be the same user's. */
  private async renew(ws: Socket, d: SocketData, token: string): Promise<void> {
    const current = d.principal;
    if (current === null || current.via !== 'jwt')
      throw new AppError(400, 'not_a_token', 'only a connection opened with an access token can renew it');
    const next = await this.authenticate({ bearer: token });
    if (next.userId !== current.userId)
      throw new AppError(403, 'wrong_user', 'the token belongs to another user; this connection is unchanged');
    if (d.closed || d.principal !== current) return; // closed, or renewed by a concurrent frame, meanwhile
    d.principal = next;
    this.armExpiry(ws, d);
    this.counters.renewed++;
    this.send(ws, frames.authed((next.tokenExp ?? 0) * 1000));
  }

  private send(ws: Socket, frame: string): void {
    if (ws.getUserData().closed) return;
    ws.cork(() => ws.send(frame));
  }

  private refuse(ws: Socket, err: AppError, channel?: string, ref?: string): void {
    const d = ws.getUserData();
    if (d.closed) return;
    this.counters.errorFrames++;
    this.send(ws, errorFrame(err, channel, ref));
    if (err.code !== 'rate_limited') return;
    const now = Date.now();
    d.strikes = d.strikes.filter((t) => now - t < ABUSE_WINDOW_MS);
    d.strikes.push(now);
    if (d.strikes.length > this.options.abuseStrikes) {
      this.counters.closedAbuse++;
      ws.end(1008, 'rate limits exceeded repeatedly');
    }
  }

  private async onFrame(ws: Socket, data: string | null): Promise<void> {
    const d = ws.getUserData();
    let channel: string | undefined;
    let ref: string | undefined;
    try {
      const decision = await this.deps.frameLimiter.consume(`ip:${d.ip}`);
      // Revoked or expired while the limiter answered: nothing more is done as that user.
      if (d.closed) return;
      const exp = d.principal?.tokenExp;
      if (d.principal?.via === 'jwt' && exp !== undefined && Date.now() >= exp * 1000) {
        this.expire(ws);
        return;
      }
      if (!decision.allowed) throw rateLimited(decision.retryAfterMs / 1000, 'too many frames from this address');
      if (data === null) throw new AppError(400, 'unsupported', 'binary frames are not supported: send JSON text frames');
      const frame = this.parser.parse(data);
      if ('channel' in frame) channel = frame.channel;
      if (frame.type === 'chat') ref = frame.ref;
      await this.dispatch(ws, d, frame);
    } catch (err) {
      const appErr = this.toAppError(err);
      if (appErr.status === 500) this.deps.log.error({ err }, 'websocket frame failed');
      this.refuse(ws, appErr, channel, ref ?? refOf(data));
    }
  }

  private toAppError(err: unknown): AppError {
    if (err instanceof AppError) return err;
    return this.deps.mapError?.(err) ?? new AppError(500, 'internal', 'internal server error');
  }

  private async dispatch(ws: Socket, d: SocketData, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ping':
        this.send(ws, frames.pong());
        return;
      case 'subscribe':
        return this.subscribe(ws, d, frame.channel, frame.batch === true, frame.since);
      case 'unsubscribe': {
        const batch = d.subs.get(frame.channel);
        if (batch === undefined) throw new AppError(400, 'not_subscribed', `not subscribed to ${frame.channel}`);
        d.subs.delete(frame.channel);
        if (!d.closed) ws.unsubscribe(topicOf(frame.channel, batch));
        await this.deps.hub.leave(frame.channel, d.id);
        this.send(ws, frames.unsubscribed(frame.channel));
        return;
      }
      case 'chat': {
        const published = await this.deps.hub.chat(d.principal, frame.channel, frame.text, frame.ref, frame.file_id);
        // The sender always sees its own message: through its subscription, else directly.
        if (!d.subs.has(frame.channel) && published.frame !== null) this.send(ws, published.frame);
        if (frame.ref !== undefined) this.send(ws, frames.ack(frame.ref, published.id, published.offset));
        return;
      }
      case 'like':
        await this.deps.hub.like(d.principal, frame.channel, frame.message_id);
        return;
      case 'auth':
        return this.renew(ws, d, frame.token);
      case 'decide':
        if (!this.deps.decide) throw new AppError(400, 'unsupported', 'room lifecycles are not served here');
        return this.deps.decide(d.principal, frame.channel, frame.keep);
    }
  }

  private async subscribe(ws: Socket, d: SocketData, channel: string, batch: boolean, since?: Since): Promise<void> {
    const current = d.subs.get(channel);
    if (current !== undefined) {
      // Already subscribed: switching between batched and per-message delivery is allowed.
      if (current !== batch && !d.closed) {
        ws.unsubscribe(topicOf(channel, current));
        ws.subscribe(topicOf(channel, batch));
        d.subs.set(channel, batch);
      }
      return;
    }
    if (d.joining.has(channel)) return;
    if (d.subs.size + d.joining.size >= this.options.maxSubscriptions) {
      throw new AppError(400, 'too_many_subscriptions', `a connection may hold at most ${this.options.maxSubscriptions} subscriptions`);
    }
    d.joining.add(channel);
    let joined = false;
    try {
      await this.deps.hub.checkSubscribe(channel);
      const viewers = await this.deps.hub.join(channel, d.id);
      joined = true;
      await this.deps.hub.welcome(channel, batch, since, (welcome) => {
        if (d.closed) return;
        d.subs.set(channel, batch);
        // Subscribe, confirm and replay in one synchronous, corked block: no live message can slip in between.
        ws.cork(() => {
          ws.subscribe(topicOf(channel, batch));
          const { epoch, offset, recovered, reason } = welcome;
          ws.send(frames.subscribed({ channel, viewers, epoch, offset, recovered, reason }));
          for (const frame of welcome.frames) ws.send(frame);
        });
      });
    } finally {
      d.joining.delete(channel);
      // Refused after joining, or closed meanwhile (the close handler did not know of it): leave again.
      if (joined && !d.subs.has(channel)) await this.deps.hub.leave(channel, d.id);
    }
  }
}

/**
 * The `ref` of a chat frame refused before it was parsed (too long, invalid, rate-limited), so the client
 * learns which message was refused: read only on this error path, and only a string the contract allows.
 */
function refOf(data: string | null | undefined): string | undefined {
  if (typeof data !== 'string' || !data.includes('"ref"')) return undefined;
  try {
    const frame: unknown = JSON.parse(data);
    if (typeof frame !== 'object' || frame === null || !('ref' in frame)) return undefined;
    const { ref } = frame;
    return typeof ref === 'string' && ref.length >= 1 && ref.length <= 64 ? ref : undefined;
  } catch {
    return undefined;
  }
}
