// The real-time side of the SDK: one WebSocket to `/ws` with typed frames and events, automatic reconnect
// (jittered exponential backoff) that resubscribes every channel, a handshake timeout, a heartbeat that
// notices a dead connection (no frame within a timeout after a ping) and replaces it, retries of
// subscriptions the server refused for a passing reason, and a stop (no endless retrying) when the server
// refuses the credentials themselves, and a token renewed in place before it expires (an `auth` frame; a
// close 4001, revoked or expired, counts as a refusal). Recovery: it keeps each channel's place in its
// history (epoch and offset), resubscribes with `since` so the server sends what was missed, and drops any
// message it already has; chats carry a `ref` and stay queued until acknowledged, resent with the same ref
// after a reconnect (the server publishes a ref once). Works with the browser's WebSocket or any constructor
// of the same shape (in Node: `ws`).
import { errorFromResponse, LiveError } from './errors.js';
import { jwtExpiryMs } from './jwt.js';
import {
  parseServerFrame,
  type AckFrame,
  type NotificationFrame,
  type RoomStateFrame,
  type AuthedFrame,
  type ClientFrame,
  type ClosedFrame,
  type DeleteFrame,
  type ErrorFrame,
  type GiftFrame,
  type LikesFrame,
  type MessageFrame,
  type MessagesFrame,
  type MomentFrame,
  type MoodFrame,
  type PongFrame,
  type PresenceFrame,
  type ServerFrame,
  type SubscribedFrame,
  type UnsubscribedFrame,
} from './types.js';

/** Parameters are checked bivariantly, so both the DOM's WebSocket and `ws` fit the shape below. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of a WebSocket the SDK uses (the browser's global, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the TCP connection without a closing handshake (a dead peer never answers one). */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface LiveCredentials {
  token?: string;
  apiKey?: string;
}

/** What a credentials function is told when it is asked. */
export interface CredentialsContext {
  /**
   * Set once per run of failed attempts: the credentials of the last attempt, which the server refused
   * (401/403). Return fresh ones (e.g. after refreshing the token) to try once more; returning the same
   * ones, or none, ends the connection with a fatal `error` event.
   */
  rejected?: LiveCredentials;
  /**
   * Set when the open connection's access token is about to expire: return a fresher token (e.g. after
   * refreshing) and the connection renews itself in place with an `auth` frame; returning the same one
   * lets the server close it at expiry (4001), after which it reconnects as after a refusal.
   */
  expiring?: LiveCredentials;
}

/** A place in a channel's history: its epoch and the offset of the last message had (see `position()`). */
export interface ChannelPosition {
  epoch: string;
  offset: number;
}

export interface ChannelOptions {
  /** Receive `messages` frames (every message of one short tick together) instead of `message`. */
  batch?: boolean;
  /**
   * Resume from a place saved earlier (`position()`, e.g. before a page reload): the first subscription asks
   * for every message after it, and a `recovered` event says whether all of them came. Ignored while the
   * channel is subscribed.
   */
  since?: ChannelPosition;
}

export interface ChatOptions {
  /**
   * The message's name for the server (1-64 characters); default a fresh random one. The server publishes a
   * ref once per user and channel within 5 minutes, so passing the ref of a chat whose outcome is unknown
   * (a rejected `timeout`) sends it again without a duplicate.
   */
  ref?: string;
  /** Attaches an image uploaded to this room (`client.rooms.upload`): the message frame then carries `file`. */
  fileId?: string;
}

/** What `chat()` resolves with: the message is in the channel's history. */
export interface ChatAck {
  ref: string;
  /** The message's id (the first one's when the ref had been published already). */
  id: string;
  /** Its offset in the channel's history. */
  offset: number;
}

/** The outcome of a resubscription with `since` (after a reconnect, or a `since` option). */
export interface RecoveredEvent {
  channel: string;
  /** True: every message after `since` follows (as `message`/`messages` events), then the live ones. */
  recovered: boolean;
  /** Why not (history trimmed, epoch changed). */
  reason?: string;
  /** Where the client was. */
  since: ChannelPosition;
  /** The channel's epoch and latest offset now. */
  epoch: string;
  offset: number;
}

/** A resubscription could not recover every missed message: some are lost to this client (the recent ones follow). */
export interface GapEvent {
  channel: string;
  reason: string;
  since: ChannelPosition;
  epoch: string;
  offset: number;
}

export interface ReconnectOptions {
  /** First delay; default 500 ms. */
  minDelayMs?: number;
  /** Cap; default 5 s. */
  maxDelayMs?: number;
  /** Growth per failed attempt; default 2. */
  factor?: number;
  /** Fraction of each delay that is random (0: none, 1: anywhere from 0 to the delay); default 0.5. */
  jitter?: number;
}

export interface HeartbeatOptions {
  /** How often to send `ping`; default 15 s. */
  intervalMs?: number;
  /** How long to wait for any frame after a ping before the connection counts as dead; default 10 s. */
  timeoutMs?: number;
}

export interface LiveOptions {
  /** The server: `http(s)://host:port` or `ws(s)://host:port`, optionally ending in `/ws`. */
  url: string;
  /** Default: the global WebSocket (browsers, Node 22+). In Node 20: `(await import('ws')).WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /**
   * Static credentials, or a function asked before every (re)connect for the current ones. A refused
   * upgrade (401/403) ends the connection (state `closed`, a fatal `error` event) instead of retrying
   * forever; a function is first asked once more with `{ rejected }`, so that it can refresh a token.
   */
  credentials?: LiveCredentials | ((context: CredentialsContext) => LiveCredentials | Promise<LiveCredentials>);
  /** Channels to subscribe once connected (and after every reconnect). */
  channels?: Array<string | ({ channel: string } & ChannelOptions)>;
  /** Default delivery for `channels` and `subscribe()`. */
  batch?: boolean;
  /** `false` disables reconnecting. */
  reconnect?: ReconnectOptions | false;
  /** `false` disables the heartbeat. */
  heartbeat?: HeartbeatOptions | false;
  /**
   * How long one attempt may take to open (TCP + TLS + upgrade) before it is dropped and retried with
   * the usual backoff; default 10 s; `false` waits for the platform to give up.
   */
  connectTimeoutMs?: number | false;
  /**
   * Used after an attempt that failed before it opened, where the WebSocket does not say why (browsers
   * report a refused upgrade as a bare close 1006): `GET /api/v1/auth/me` with the attempt's credentials
   * tells a refusal (401/403) from an outage. Default: the global fetch. `ws` in Node reports the upgrade's
   * status itself, so no request is made there.
   */
  fetch?: typeof fetch;
  /**
   * Message ids remembered per channel, besides its offset, to drop a message had before; default 500. They
   * also tell a channel whose history restarted (offsets from 1 again: message frames do not carry their
   * epoch) from a repeat. 0: no duplicate guard at all, every message is delivered as it arrives (recovery
   * still resumes from the highest offset seen).
   */
  dedupe?: number;
  /** Chats kept unacknowledged at most (queued while disconnected, or awaiting their ack); beyond, chat() rejects `queue_full`. Default 1000. */
  maxPendingChats?: number;
  /**
   * How long a chat sent on an open connection may wait for its ack before it rejects with `timeout`
   * (a connection lost meanwhile resends it and starts over); default 30 s; `false` waits as long as it takes.
   */
  chatTimeoutMs?: number | false;
  /** Connect now (default) or on the first `connect()`. */
  autoConnect?: boolean;
}

export type LiveState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LiveEvents {
  open: { reconnected: boolean };
  close: { code: number; reason: string; willReconnect: boolean };
  reconnecting: { attempt: number; delayMs: number; reason: string };
  /**
   * A server `error` frame; a transport problem (`code: 'socket_error'`); or, with `fatal: true`, the
   * server refused the credentials (`code: 'unauthorized'` or `'forbidden'`, `status` 401/403): the
   * connection is `closed` and does not reconnect.
   */
  error: LiveErrorEvent;
  frame: ServerFrame;
  subscribed: SubscribedFrame;
  unsubscribed: UnsubscribedFrame;
  message: MessageFrame;
  messages: MessagesFrame;
  mood: MoodFrame;
  /** A hype or tilt moment on a subscribed channel (`kind`, `score`, `ts`, `sample` lines). */
  moment: MomentFrame;
  presence: PresenceFrame;
  likes: LikesFrame;
  delete: DeleteFrame;
  /** A TikTok gift on an ingested `tiktok:` channel. */
  gift: GiftFrame;
  closed: ClosedFrame;
  pong: PongFrame;
  /** The server took a renewed token (sent by the SDK itself before the old one expired). */
  authed: AuthedFrame;
  /** A chat was published (`chat()` resolves with it too). */
  ack: AckFrame;
  /** For this user alone, from wherever it happened (matching, room lifecycle): `kind` says which. */
  notification: NotificationFrame;
  /** A lifecycle room of a subscribed channel changed state (active, countdown, decision, kept, ended). */
  room_state: RoomStateFrame;
  /**
   * After each resubscription with `since` (every reconnect of a channel seen before), right after its
   * `subscribed` event and before the missed messages arrive as `message`/`messages` events.
   */
  recovered: RecoveredEvent;
  /** With `recovered`, when it is false: messages were missed for good (history trimmed, or lost with its epoch). */
  gap: GapEvent;
}

export type LiveEvent = keyof LiveEvents;

/** The payload of an `error` event. */
export interface LiveErrorEvent extends ErrorFrame {
  /** The HTTP status of a refused upgrade (fatal events). */
  status?: number;
  /** True when the connection ended because of it (state `closed`, no reconnect). */
  fatal?: boolean;
}

const OPEN = 1;
/**
 * Subscribe refusals that will not get better by retrying: the channel is dropped and the promise rejects.
 * (`forbidden` and `unauthorized` are left out: subscribing never answers them, and chat or like frames on
 * the same channel do, so they would be taken for a refused subscription.)
 */
const PERMANENT = new Set(['invalid_channel', 'not_found', 'too_many_subscriptions', 'invalid_frame']);
/** Subscribe refusals that may pass: the channel stays wanted and is subscribed again later. */
const RETRYABLE = new Set(['internal', 'unavailable', 'rate_limited', 'overloaded']);
// Capped at a few seconds: a restarted host is back within seconds, and a client still waiting out a 30 s
// backoff misses everything published meanwhile.
const DEFAULT_RECONNECT: Required<ReconnectOptions> = { minDelayMs: 500, maxDelayMs: 5000, factor: 2, jitter: 0.5 };
const AUTH_STATUSES = new Set([401, 403]);
/** The server's close code for a socket whose credentials were revoked or expired. */
const REVOKED_CLOSE = 4001;
/** How long before its expiry a token is renewed: a fifth of what is left, between 2 s and 60 s. */
const renewLeadMs = (leftMs: number) => Math.min(60_000, Math.max(2_000, leftMs / 5));
/**
 * The server publishes a ref once within 5 minutes of its first publication. A chat first sent longer ago
 * than this (a little less, for the time it took to reach the server) is not sent again: it might publish twice.
 */
const REF_WINDOW_MS = 5 * 60_000 - 30_000;

interface Pending {
  resolve: (frame: SubscribedFrame) => void;
  reject: (err: LiveError) => void;
}

/** Where the client is in a channel: the epoch, the highest offset delivered, and the offset it was attached at. */
interface Track {
  epoch: string;
  last: number;
  /** The channel's offset when a subscription without recovery was confirmed: what came before is not owed. */
  base: number;
}

/** A chat awaiting its ack. */
interface OutgoingChat {
  ref: string;
  channel: string;
  text: string;
  fileId: string | undefined;
  resolve: (ack: ChatAck) => void;
  reject: (err: LiveError) => void;
  promise: Promise<ChatAck>;
  /** The socket it was last sent on (null: not sent yet, or to be sent again). */
  sentOn: WebSocketLike | null;
  firstSentAt: number | null;
  timer: ReturnType<typeof setTimeout> | null;
}

export class LiveConnection {
  private readonly subs = new Map<string, boolean>();
  private readonly pending = new Map<string, Pending[]>();
  private readonly handlers = new Map<LiveEvent, Set<(event: never) => void>>();
  private readonly seen = new Map<string, { ids: Set<string>; order: string[] }>();
  private readonly confirmed = new Map<string, SubscribedFrame>();
  /** Channels with a subscribe frame on the current socket and no answer yet. */
  private readonly awaiting = new Set<string>();
  /** Resubscribes scheduled after a passing refusal, and the refusals in a row per channel. */
  private readonly subRetries = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly subFailures = new Map<string, number>();
  /** Each subscribed channel's place in its history, kept across reconnects for `since`. */
  private readonly tracks = new Map<string, Track>();
  /** The `since` of the subscribe frame awaiting its answer, per channel. */
  private readonly sinceSent = new Map<string, ChannelPosition>();
  /** Chats not yet acknowledged, in the order chat() was called. */
  private readonly outbox = new Map<string, OutgoingChat>();
  /** Chats are not sent before this time (the server refused frames for a while). */
  private chatsPausedUntil = 0;
  private chatRetryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly maxPendingChats: number;
  private readonly chatTimeoutMs: number | null;
  private readonly Ctor: WebSocketConstructor;
  private readonly reconnectOpts: Required<ReconnectOptions> | null;
  private readonly heartbeatOpts: Required<HeartbeatOptions> | null;
  private readonly connectTimeoutMs: number | null;
  private readonly dedupe: number;
  private socket: WebSocketLike | null = null;
  private generation = 0;
  private attempt = 0;
  private everOpened = false;
  /** Credentials the server refused (and how), to hand to the credentials function on the next attempt. */
  /** Credentials the server turned down; `verified` false when only a 4001 said so (a role change sends it too). */
  private rejected: { creds: LiveCredentials; status: number; message: string; verified: boolean } | null = null;
  /** Whether this run of failed attempts already asked the credentials function for fresh ones. */
  private askedFresh = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private deadTimer: ReturnType<typeof setTimeout> | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  /** The access token the open socket acts as, and one sent in an `auth` frame and not yet confirmed. */
  private socketToken: string | undefined;
  private renewing: string | undefined;
  private _state: LiveState = 'idle';

  constructor(private readonly options: LiveOptions) {
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket;
    if (typeof Ctor !== 'function') {
      throw new LiveError('no_websocket', 'no WebSocket implementation: pass one as `WebSocket` (in Node 20: the `ws` package)');
    }
    this.Ctor = Ctor as WebSocketConstructor;
    this.reconnectOpts = options.reconnect === false ? null : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.heartbeatOpts = options.heartbeat === false ? null : { intervalMs: 15_000, timeoutMs: 10_000, ...options.heartbeat };
    this.connectTimeoutMs = options.connectTimeoutMs === false ? null : Math.max(1, options.connectTimeoutMs ?? 10_000);
    this.dedupe = options.dedupe ?? 500;
    this.maxPendingChats = Math.max(1, options.maxPendingChats ?? 1000);
    this.chatTimeoutMs = options.chatTimeoutMs === false ? null : Math.max(1, options.chatTimeoutMs ?? 30_000);
    for (const c of options.channels ?? []) {
      const spec: { channel: string } & ChannelOptions = typeof c === 'string' ? { channel: c } : c;
      this.subs.set(spec.channel, spec.batch ?? options.batch ?? false);
      if (spec.since) this.tracks.set(spec.channel, { epoch: spec.since.epoch, last: spec.since.offset, base: spec.since.offset });
    }
    if (options.autoConnect !== false) this.connect();
  }

  get state(): LiveState {
    return this._state;
  }

  get isOpen(): boolean {
    return this._state === 'open';
  }

  /** Subscribed channels (and those to subscribe on connect) with their delivery mode. */
  get channels(): ReadonlyMap<string, boolean> {
    return this.subs;
  }

  /** Chats not yet acknowledged by the server (queued while disconnected, or awaiting their ack). */
  get pendingChats(): number {
    return this.outbox.size;
  }

  /**
   * Where this connection is in a subscribed channel's history: the next resubscription asks for every
   * message after it. Undefined before the first `subscribed`. Save it to resume later (`since`).
   */
  position(channel: string): ChannelPosition | undefined {
    const t = this.tracks.get(channel);
    return t === undefined ? undefined : { epoch: t.epoch, offset: Math.max(t.last, t.base) };
  }

  /** Adds a handler; returns the function that removes it. */
  on<K extends LiveEvent>(event: K, handler: (e: LiveEvents[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  /** Resolves with the next event of a kind that passes `filter`; rejects after `timeoutMs`. */
  next<K extends LiveEvent>(event: K, filter: (e: LiveEvents[K]) => boolean = () => true, timeoutMs = 10_000): Promise<LiveEvents[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new LiveError('timeout', `no ${event} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(event, (e) => {
        if (!filter(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  /** Opens the connection (a no-op while one is open or being opened). */
  connect(): void {
    if (this._state === 'closed') throw new LiveError('closed', 'this connection was closed for good; create a new one');
    if (this._state === 'connecting' || this._state === 'open') return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    void this.open();
  }

  /**
   * Subscribes (now if connected, else on connect), and again after every reconnect.
   *
   * Resolves with the `subscribed` frame once the server confirms, however many attempts that takes.
   * Rejects with a LiveError only when the subscription is over for good: a final refusal (`invalid_channel`,
   * `not_found`, `too_many_subscriptions`, `invalid_frame`; the channel leaves `channels`), `unsubscribe()`
   * (`unsubscribed`), or the end of the connection (`closed`, or `unauthorized`/`forbidden` when the server
   * refused the credentials). A refusal that may pass (`internal`, `unavailable`, `overloaded`,
   * `rate_limited`) does not settle it: the channel stays in `channels`, the refusal arrives as an `error`
   * event, and the subscribe is sent again after the server's `retry_after_ms`, else after a jittered
   * backoff (the `reconnect` delays), for as long as the channel is wanted.
   */
  subscribe(channel: string, options: ChannelOptions = {}): Promise<SubscribedFrame> {
    const batch = options.batch ?? this.options.batch ?? false;
    const previous = this.subs.get(channel);
    this.subs.set(channel, batch);
    const last = this.confirmed.get(channel);
    if (options.since && !last)
      this.tracks.set(channel, { epoch: options.since.epoch, last: options.since.offset, base: options.since.offset });
    if (this.isOpen && last && !this.pending.has(channel)) {
      // Already subscribed: the server switches delivery silently (no second `subscribed`).
      if (previous !== batch) this.send({ type: 'subscribe', channel, batch });
      return Promise.resolve(last);
    }
    const inFlight = this.pending.has(channel) || this.awaiting.has(channel) || this.subRetries.has(channel);
    const result = new Promise<SubscribedFrame>((resolve, reject) => {
      const list = this.pending.get(channel) ?? [];
      list.push({ resolve, reject });
      this.pending.set(channel, list);
    });
    if (this.isOpen && !inFlight) this.sendSubscribe(channel, batch);
    return result;
  }

  /** Stops receiving a channel (and forgets it for reconnects). */
  unsubscribe(channel: string): void {
    if (!this.subs.delete(channel)) return;
    this.seen.delete(channel);
    this.tracks.delete(channel);
    this.sinceSent.delete(channel);
    this.confirmed.delete(channel);
    this.awaiting.delete(channel);
    this.cancelSubRetry(channel);
    this.subFailures.delete(channel);
    this.rejectPending(channel, new LiveError('unsubscribed', `unsubscribed from ${channel}`, channel));
    if (this.isOpen) this.send({ type: 'unsubscribe', channel });
    this.flushChats(); // chats held for this channel's subscription go now
  }

  /**
   * Posts into a native room (`room:<id>`); needs credentials. Resolves with the ack (`id`, `offset`) once
   * the message is in the channel's history; it also arrives as a `message` event. Sent now if connected,
   * else queued and sent on (re)connect; on a subscribed channel, after its resubscription. A chat not yet
   * acknowledged when the connection drops is sent again with the same ref, which the server publishes once.
   *
   * Rejects with a LiveError: the server's refusal (`forbidden`, `unauthorized`, `rate_limited`, ...; also an
   * `error` event), `queue_full` (`maxPendingChats` unacknowledged already), `timeout` (no answer within
   * `chatTimeoutMs`; resend with the same `ref` to be safe), `unconfirmed` (sent, then disconnected beyond the
   * server's 5-minute dedupe window: it may or may not have been published), `closed` (close(), or the end of
   * the connection). Throws a LiveError `closed` at once on a closed connection. Ignoring the promise is safe:
   * a rejection not handled is not reported as unhandled.
   */
  chat(channel: string, text: string, options: ChatOptions = {}): Promise<ChatAck> {
    if (this._state === 'closed') throw new LiveError('closed', 'this connection was closed for good; create a new one', channel);
    const ref = options.ref ?? newRef();
    const queued = this.outbox.get(ref);
    if (queued) return queued.promise;
    let result: Promise<ChatAck>;
    if (ref.length < 1 || ref.length > 64)
      result = Promise.reject(new LiveError('invalid_frame', 'chat: ref must be 1-64 characters', channel));
    else if (!/\S/.test(text))
      result = Promise.reject(new LiveError('invalid_frame', 'chat: text must contain a non-space character', channel));
    else if (this.outbox.size >= this.maxPendingChats)
      result = Promise.reject(
        new LiveError('queue_full', `${this.outbox.size} chats await their ack already (maxPendingChats); try again later`, channel),
      );
    else {
      let resolve!: (ack: ChatAck) => void;
      let reject!: (err: LiveError) => void;
      result = new Promise<ChatAck>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.outbox.set(ref, {
        ref,
        channel,
        text,
        fileId: options.fileId,
        resolve,
        reject,
        promise: result,
        sentOn: null,
        firstSentAt: null,
        timer: null,
      });
      this.flushChats();
    }
    result.catch(() => undefined); // callers that ignore the promise get the refusal as an `error` event only
    return result;
  }

  /** A like for the channel, or for one message of it. */
  like(channel: string, messageId?: string): void {
    this.sendOrThrow(messageId === undefined ? { type: 'like', channel } : { type: 'like', channel, message_id: messageId });
  }

  /** A member's decision while a lifecycle room is in `decision`: `room_state` frames follow when it changes the state. */
  decide(channel: string, keep: boolean): void {
    this.sendOrThrow({ type: 'decide', channel, keep });
  }

  ping(): void {
    this.sendOrThrow({ type: 'ping' });
  }

  /** Ends the connection for good: no reconnect; pending subscribes reject. */
  close(code = 1000, reason = 'client closed'): void {
    if (this._state === 'closed') return;
    const wasOpen = this.isOpen;
    this._state = 'closed';
    this.stopTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.detach();
    if (socket) {
      try {
        socket.close(code, reason);
      } catch {
        socket.terminate?.();
      }
    }
    for (const channel of [...this.pending.keys()])
      this.rejectPending(channel, new LiveError('closed', 'the connection was closed', channel));
    this.rejectChats('closed', 'the connection was closed before the server acknowledged this chat');
    if (wasOpen) this.emit('close', { code, reason, willReconnect: false });
  }

  // ------------------------------------------------------------------------------------- internals

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this._state = 'connecting';
    const rejected = this.rejected;
    this.rejected = null;
    let creds: LiveCredentials;
    try {
      creds = await this.currentCredentials(rejected === null ? {} : { rejected: rejected.creds });
    } catch (err) {
      if (this.stale(generation)) return;
      this.emit('error', { type: 'error', code: 'credentials_failed', message: messageOf(err) });
      this.lost(1006, `credentials: ${messageOf(err)}`);
      return;
    }
    if (this.stale(generation)) return;
    // The same credentials again are tried once more after a 4001 (an API key across a role change, a token
    // whose refresh failed for a passing reason): a real refusal then ends it at the upgrade (askedFresh).
    if (rejected !== null && (!hasCredentials(creds) || (rejected.verified && sameCredentials(creds, rejected.creds)))) {
      this.authFailed(rejected.status, `${rejected.message}, and no fresh credentials came`);
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.Ctor(this.urlWith(creds));
    } catch (err) {
      this.emit('error', { type: 'error', code: 'socket_error', message: messageOf(err) });
      this.lost(1006, messageOf(err));
      return;
    }
    this.socket = socket;
    /** The upgrade's HTTP status where the WebSocket reports it (`ws`: "Unexpected server response: 401"). */
    let upgradeStatus: number | undefined;
    if (this.connectTimeoutMs !== null) {
      const timeoutMs = this.connectTimeoutMs;
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        if (this.socket !== socket || this._state !== 'connecting') return;
        this.drop(socket, 'connect timeout');
        this.lost(4008, `connect timeout: not open within ${timeoutMs} ms`);
      }, timeoutMs);
    }
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.clearConnectTimer();
      this._state = 'open';
      this.attempt = 0;
      this.askedFresh = false;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.startHeartbeat();
      this.socketToken = creds.token || undefined;
      this.renewing = undefined;
      this.scheduleRenew();
      for (const [channel, batch] of this.subs) this.sendSubscribe(channel, batch);
      this.flushChats(); // those of subscribed channels wait for their `subscribed`
      this.emit('open', { reconnected });
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.alive();
      const data = typeof ev.data === 'string' ? ev.data : String(ev.data);
      const frame = parseServerFrame(data);
      if (frame) this.dispatch(frame);
    };
    socket.onerror = (ev) => {
      if (this.socket !== socket) return;
      const message = ev instanceof Error ? ev.message : isErrorEvent(ev) ? ev.message : 'WebSocket error';
      const status = /unexpected server response: (\d{3})/i.exec(message)?.[1];
      if (status !== undefined) upgradeStatus = Number(status);
      this.emit('error', { type: 'error', code: 'socket_error', message });
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      const opened = this._state === 'open';
      this.detach();
      if (opened && ev.code === REVOKED_CLOSE && hasCredentials(creds)) this.revoked(creds, ev.code, ev.reason);
      else if (opened || !hasCredentials(creds)) this.lost(ev.code, ev.reason);
      else void this.failedBeforeOpen(generation, creds, upgradeStatus, ev.code, ev.reason);
    };
  }

  /**
   * An attempt with credentials closed before it opened: a refused upgrade (401/403) or an outage, which
   * browsers do not tell apart (both are a bare 1006). Retrying a refusal forever would hide it, so find
   * out which, and on a refusal ask once for fresh credentials, else end the connection.
   */
  private async failedBeforeOpen(
    generation: number,
    creds: LiveCredentials,
    upgradeStatus: number | undefined,
    code: number,
    reason: string,
  ): Promise<void> {
    const refusal =
      upgradeStatus !== undefined
        ? { status: upgradeStatus, message: `the upgrade was refused with HTTP ${upgradeStatus}` }
        : await this.checkCredentials(creds);
    if (generation !== this.generation || this._state !== 'connecting') return; // closed (or reconnected) meanwhile
    if (refusal === null || !AUTH_STATUSES.has(refusal.status)) {
      this.lost(code, reason);
      return;
    }
    if (typeof this.options.credentials === 'function' && !this.askedFresh) {
      this.askedFresh = true;
      this.rejected = { creds, ...refusal, verified: true };
      void this.open();
      return;
    }
    this.authFailed(refusal.status, refusal.message);
  }

  /**
   * The server closed an open connection because its credentials were revoked or expired (4001): as after a
   * refused upgrade, a credentials function is asked once for fresh ones and the connection reopens at once.
   * Otherwise it reconnects as after any loss: the same credentials may still be good (a role change closes
   * sockets too), and if the server refuses them the upgrade's 401 ends the connection with a fatal `error`.
   */
  private revoked(creds: LiveCredentials, code: number, reason: string): void {
    if (typeof this.options.credentials !== 'function' || this.askedFresh || this._state === 'closed') {
      this.lost(code, reason);
      return;
    }
    this.stopTimers();
    this.confirmed.clear();
    this.askedFresh = true;
    this.rejected = {
      creds,
      status: 401,
      message: `the server closed the connection: credentials ${reason === '' ? 'revoked' : reason}`,
      verified: false,
    };
    this.emit('close', { code, reason, willReconnect: true });
    void this.open();
  }

  /** Renews the socket's access token shortly before it expires (only where credentials is a function). */
  private scheduleRenew(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    const token = this.socketToken;
    const exp = token === undefined ? undefined : jwtExpiryMs(token);
    if (exp === undefined || typeof this.options.credentials !== 'function') return;
    const left = exp - Date.now();
    this.renewTimer = setTimeout(
      () => {
        this.renewTimer = null;
        void this.renew(token as string);
      },
      Math.min(2 ** 31 - 1, Math.max(0, left - renewLeadMs(left))),
    );
  }

  private async renew(token: string): Promise<void> {
    const generation = this.generation;
    let creds: LiveCredentials;
    try {
      creds = await this.currentCredentials({ expiring: { token } });
    } catch {
      return; // the server closes the socket at expiry, and the reconnect asks again
    }
    if (generation !== this.generation || !this.isOpen || this.socketToken !== token) return;
    if (!creds.token || creds.token === token) return;
    this.renewing = creds.token;
    this.send({ type: 'auth', token: creds.token });
  }

  /** `GET /api/v1/auth/me` with these credentials: the refusal's status and message, or null when not refused. */
  private async checkCredentials(creds: LiveCredentials): Promise<{ status: number; message: string } | null> {
    const fetchImpl = this.options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (typeof fetchImpl !== 'function') return null;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds.token) headers.authorization = `Bearer ${creds.token}`;
    else if (creds.apiKey) headers['x-api-key'] = creds.apiKey;
    try {
      const init: RequestInit = { headers };
      if (this.connectTimeoutMs !== null) init.signal = AbortSignal.timeout(this.connectTimeoutMs);
      const res = await fetchImpl(`${this.httpBase()}/api/v1/auth/me`, init);
      if (!AUTH_STATUSES.has(res.status)) {
        await res.body?.cancel().catch(() => undefined);
        return null;
      }
      const err = await errorFromResponse(res);
      return { status: res.status, message: err.message };
    } catch {
      return null; // unreachable: an outage, not a refusal
    }
  }

  /** The server refused the credentials for good: say so once and stop. */
  private authFailed(status: number, detail: string): void {
    const code = status === 403 ? 'forbidden' : 'unauthorized';
    const message = `the server refused this connection's credentials (${status}): ${detail}; not reconnecting`;
    this._state = 'closed';
    this.stopTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.emit('error', { type: 'error', code, message, status, fatal: true });
    for (const channel of [...this.pending.keys()]) this.rejectPending(channel, new LiveError(code, message, channel));
    this.rejectChats(code, message);
  }

  /** A newer attempt started, or close() was called, while this one awaited its credentials. */
  private stale(generation: number): boolean {
    return generation !== this.generation || this._state !== 'connecting';
  }

  /** The server's `http(s)://host:port`, for REST calls. */
  private httpBase(): string {
    const url = new URL(this.options.url.replace(/^ws(s?):/i, 'http$1:'));
    return `${url.protocol}//${url.host}`;
  }

  private urlWith(creds: LiveCredentials): string {
    let base = this.options.url.replace(/^http(s?):/i, 'ws$1:').replace(/\/+$/, '');
    if (!/\/ws$/.test(base)) base += '/ws';
    const query = creds.token
      ? `token=${encodeURIComponent(creds.token)}`
      : creds.apiKey
        ? `api_key=${encodeURIComponent(creds.apiKey)}`
        : '';
    return query === '' ? base : `${base}${base.includes('?') ? '&' : '?'}${query}`;
  }

  private async currentCredentials(context: CredentialsContext): Promise<LiveCredentials> {
    const c = this.options.credentials;
    return typeof c === 'function' ? c(context) : (c ?? {});
  }

  /** The socket went away (or never opened): tell listeners and schedule the next attempt. */
  private lost(code: number, reason: string): void {
    const wasOpen = this._state === 'open';
    this.stopTimers();
    this.confirmed.clear();
    if (this._state === 'closed') return;
    const willReconnect = this.reconnectOpts !== null;
    if (wasOpen) this.emit('close', { code, reason, willReconnect });
    if (!willReconnect) {
      this._state = 'closed';
      for (const channel of [...this.pending.keys()])
        this.rejectPending(channel, new LiveError('closed', 'the connection closed', channel));
      this.rejectChats('closed', 'the connection closed before the server acknowledged this chat');
      return;
    }
    this._state = 'reconnecting';
    const delayMs = this.backoff(++this.attempt);
    this.emit('reconnecting', { attempt: this.attempt, delayMs, reason: reason === '' ? `closed (${code})` : reason });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this._state === 'reconnecting') void this.open();
    }, delayMs);
  }

  private backoff(attempt: number): number {
    const o = this.reconnectOpts ?? DEFAULT_RECONNECT;
    const base = Math.min(o.maxDelayMs, o.minDelayMs * o.factor ** (attempt - 1));
    const jitter = Math.min(1, Math.max(0, o.jitter));
    return Math.round(base * (1 - jitter * Math.random()));
  }

  private detach(): WebSocketLike | null {
    const socket = this.socket;
    this.socket = null;
    this.clearConnectTimer();
    if (socket) {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = null;
      // Not null: `ws` reports closing a socket that is still connecting as an error, and an error
      // event without a listener would be thrown.
      socket.onerror = () => undefined;
    }
    return socket;
  }

  private startHeartbeat(): void {
    const hb = this.heartbeatOpts;
    if (!hb) return;
    this.pingTimer = setInterval(() => {
      if (!this.isOpen || this.deadTimer) return;
      this.send({ type: 'ping' });
      this.deadTimer = setTimeout(() => this.dead(hb.timeoutMs), hb.timeoutMs);
    }, hb.intervalMs);
  }

  /** Any frame proves the connection alive. */
  private alive(): void {
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.deadTimer = null;
  }

  private dead(timeoutMs: number): void {
    this.deadTimer = null;
    const socket = this.socket;
    if (!socket) return;
    this.drop(socket, 'heartbeat timeout');
    this.lost(4000, `heartbeat timeout: no answer within ${timeoutMs} ms`);
  }

  /** Detaches a socket and ends it: a dead or silent peer never completes a closing handshake, so drop it outright where possible. */
  private drop(socket: WebSocketLike, reason: string): void {
    if (this.socket === socket) this.detach();
    if (socket.terminate) socket.terminate();
    else {
      try {
        socket.close(4000, reason);
      } catch {
        // already closing
      }
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  /** Every timer of the current socket, and the resubscribes it had scheduled. */
  private stopTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.pingTimer = null;
    this.deadTimer = null;
    this.renewTimer = null;
    this.clearConnectTimer();
    for (const timer of this.subRetries.values()) clearTimeout(timer);
    this.subRetries.clear();
    this.subFailures.clear();
    this.awaiting.clear();
    this.sinceSent.clear();
    // Chats in flight stay queued (sent again on the next socket); only their ack deadlines go.
    for (const c of this.outbox.values()) this.clearChatTimer(c);
    if (this.chatRetryTimer) clearTimeout(this.chatRetryTimer);
    this.chatRetryTimer = null;
    this.chatsPausedUntil = 0;
  }

  /** A subscribe frame whose answer (`subscribed` or a refusal) is awaited; with `since` where the channel's place is known. */
  private sendSubscribe(channel: string, batch: boolean): void {
    this.cancelSubRetry(channel);
    this.awaiting.add(channel);
    const since = this.position(channel);
    if (since) this.sinceSent.set(channel, since);
    else this.sinceSent.delete(channel);
    this.send(since ? { type: 'subscribe', channel, batch, since } : { type: 'subscribe', channel, batch });
  }

  /**
   * Sends every queued chat not yet sent on the open socket, in order: those of a subscribed channel once its
   * (re)subscription is confirmed, so that what was missed arrives before the resent message's own frame.
   */
  private flushChats(): void {
    const socket = this.socket;
    if (!socket || !this.isOpen || socket.readyState !== OPEN || this.outbox.size === 0) return;
    const now = Date.now();
    if (now < this.chatsPausedUntil) return; // the retry timer flushes
    for (const c of [...this.outbox.values()]) {
      if (c.sentOn === socket) continue;
      if (this.subs.has(c.channel) && !this.confirmed.has(c.channel)) continue;
      if (c.firstSentAt !== null && now - c.firstSentAt > REF_WINDOW_MS) {
        this.settleChat(c).reject(
          new LiveError(
            'unconfirmed',
            "sent, but not acknowledged within the server's 5-minute dedupe window: it may or may not have been published",
            c.channel,
          ),
        );
        continue;
      }
      c.sentOn = socket;
      c.firstSentAt ??= now;
      this.send({ type: 'chat', channel: c.channel, text: c.text, ref: c.ref, ...(c.fileId === undefined ? {} : { file_id: c.fileId }) });
      this.clearChatTimer(c);
      const timeoutMs = this.chatTimeoutMs;
      if (timeoutMs !== null)
        c.timer = setTimeout(() => {
          c.timer = null;
          if (this.outbox.get(c.ref) !== c || c.sentOn !== socket) return;
          this.settleChat(c).reject(
            new LiveError('timeout', `no answer to chat ${c.ref} within ${timeoutMs} ms; resend with the same ref to be safe`, c.channel),
          );
        }, timeoutMs);
    }
  }

  /** Sends again, after `delayMs`, every chat in flight on this socket (the server refused frames it could not name). */
  private resendChatsLater(delayMs: number): void {
    for (const c of this.outbox.values()) {
      this.clearChatTimer(c);
      c.sentOn = null;
    }
    this.chatsPausedUntil = Date.now() + delayMs;
    if (this.chatRetryTimer) clearTimeout(this.chatRetryTimer);
    this.chatRetryTimer = setTimeout(() => {
      this.chatRetryTimer = null;
      this.chatsPausedUntil = 0;
      this.flushChats();
    }, delayMs);
  }

  /** Takes a chat out of the queue; returns its callbacks. */
  private settleChat(c: OutgoingChat): OutgoingChat {
    this.clearChatTimer(c);
    this.outbox.delete(c.ref);
    return c;
  }

  private clearChatTimer(c: OutgoingChat): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
  }

  private rejectChats(code: string, message: string): void {
    for (const c of [...this.outbox.values()]) this.settleChat(c).reject(new LiveError(code, message, c.channel));
  }

  private cancelSubRetry(channel: string): void {
    const timer = this.subRetries.get(channel);
    if (timer) clearTimeout(timer);
    this.subRetries.delete(channel);
  }

  /** Subscribes again after a refusal that may pass, unless the channel is no longer wanted by then. */
  private retrySubscribe(channel: string, retryAfterMs: number | undefined): void {
    this.awaiting.delete(channel);
    const failures = (this.subFailures.get(channel) ?? 0) + 1;
    this.subFailures.set(channel, failures);
    const delayMs = retryAfterMs !== undefined && retryAfterMs > 0 ? retryAfterMs : this.backoff(failures);
    this.cancelSubRetry(channel);
    this.subRetries.set(
      channel,
      setTimeout(() => {
        this.subRetries.delete(channel);
        const batch = this.subs.get(channel);
        if (batch === undefined || !this.isOpen || this.confirmed.has(channel) || this.awaiting.has(channel)) return;
        this.sendSubscribe(channel, batch);
      }, delayMs),
    );
  }

  private send(frame: ClientFrame): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private sendOrThrow(frame: ClientFrame): void {
    if (!this.socket || !this.isOpen || this.socket.readyState !== OPEN) {
      throw new LiveError('not_connected', `cannot send ${frame.type}: the connection is ${this._state}`);
    }
    this.send(frame);
  }

  private rejectPending(channel: string, err: LiveError): void {
    const list = this.pending.get(channel);
    this.pending.delete(channel);
    for (const p of list ?? []) p.reject(err);
  }

  private dispatch(frame: ServerFrame): void {
    let recovery: RecoveredEvent | null = null;
    switch (frame.type) {
      case 'subscribed': {
        this.awaiting.delete(frame.channel);
        this.cancelSubRetry(frame.channel);
        this.subFailures.delete(frame.channel);
        this.confirmed.set(frame.channel, frame);
        const since = this.sinceSent.get(frame.channel);
        this.sinceSent.delete(frame.channel);
        if (this.subs.has(frame.channel)) this.attached(frame);
        if (since && frame.recovered !== undefined) {
          recovery = { channel: frame.channel, recovered: frame.recovered, since, epoch: frame.epoch, offset: frame.offset };
          if (!frame.recovered) recovery.reason = frame.reason ?? 'not every missed message is kept';
        }
        const list = this.pending.get(frame.channel);
        this.pending.delete(frame.channel);
        for (const p of list ?? []) p.resolve(frame);
        break;
      }
      case 'ack': {
        const c = this.outbox.get(frame.ref);
        if (c) this.settleChat(c).resolve({ ref: frame.ref, id: frame.id, offset: frame.offset });
        break;
      }
      case 'error': {
        const channel = frame.channel;
        const chat = frame.ref === undefined ? undefined : this.outbox.get(frame.ref);
        if (frame.ref !== undefined) {
          // The answer to one of our chats, never to a subscribe.
          if (chat) this.settleChat(chat).reject(new LiveError(frame.code, frame.message, channel ?? chat.channel, frame.retry_after_ms));
        } else if (channel !== undefined && this.awaiting.has(channel)) {
          if (PERMANENT.has(frame.code)) {
            this.awaiting.delete(channel);
            this.subs.delete(channel);
            this.tracks.delete(channel);
            this.subFailures.delete(channel);
            this.rejectPending(channel, new LiveError(frame.code, frame.message, channel, frame.retry_after_ms));
            this.flushChats(); // those held for this subscription: the server answers them itself
          } else if (RETRYABLE.has(frame.code)) {
            this.retrySubscribe(channel, frame.retry_after_ms);
          }
        } else if (channel === undefined && frame.code === 'rate_limited') {
          // The per-address frame limit refuses before the frame is read, so the refusal names no channel:
          // send again every subscribe still unanswered (one that was not refused is answered by then, or
          // the server ignores the repeat), and every chat in flight (the server publishes a ref once).
          for (const waiting of [...this.awaiting]) this.retrySubscribe(waiting, frame.retry_after_ms);
          if (this.outbox.size > 0) this.resendChatsLater(frame.retry_after_ms ?? this.backoff(1));
        }
        break;
      }
      case 'authed':
        if (this.renewing !== undefined) {
          this.socketToken = this.renewing;
          this.renewing = undefined;
          this.scheduleRenew();
        }
        break;
      case 'message':
        if (!this.fresh(frame)) return;
        break;
      case 'messages': {
        const items = frame.items.filter((m) => this.fresh(m));
        if (items.length === 0) return;
        frame = items.length === frame.items.length ? frame : { ...frame, items };
        break;
      }
      default:
        break;
    }
    this.emit('frame', frame);
    this.emit(frame.type, frame);
    if (recovery) {
      this.emit('recovered', recovery);
      if (!recovery.recovered)
        this.emit('gap', {
          channel: recovery.channel,
          reason: recovery.reason ?? '',
          since: recovery.since,
          epoch: recovery.epoch,
          offset: recovery.offset,
        });
    }
    if (frame.type === 'subscribed') this.flushChats(); // chats held for this channel's resubscription
  }

  /**
   * A channel's subscription was confirmed: where the client stands in its history now. Recovered, it goes
   * on from the offset it had (the missed messages follow); otherwise it was attached at the channel's
   * current offset (the recent messages that follow are a courtesy), in a new epoch from scratch.
   */
  private attached(frame: SubscribedFrame): void {
    if (typeof frame.epoch !== 'string' || typeof frame.offset !== 'number') return; // a server without recovery
    const t = this.tracks.get(frame.channel);
    if (!t || t.epoch !== frame.epoch) this.tracks.set(frame.channel, { epoch: frame.epoch, last: 0, base: frame.offset });
    else if (frame.recovered !== true) t.base = Math.max(t.base, frame.offset);
  }

  /**
   * False for a message had before: on a subscribed channel one at or below the last offset delivered whose
   * id is remembered, elsewhere one whose id is. An unknown message at or below that offset means the
   * channel's history restarted under this subscription (offsets from 1 again): it is delivered, and the
   * channel goes on from it (its next resubscription then reports the epoch change).
   */
  private fresh(m: MessageFrame): boolean {
    const t = this.tracks.get(m.channel);
    const offset = typeof m.offset === 'number' ? m.offset : null; // null: a server without offsets
    if (this.dedupe <= 0) {
      if (t && offset !== null) t.last = Math.max(t.last, offset);
      return true;
    }
    let seen = this.seen.get(m.channel);
    if (!seen) this.seen.set(m.channel, (seen = { ids: new Set(), order: [] }));
    if (seen.ids.has(m.id)) return false;
    if (t && offset !== null) {
      if (offset <= t.last) t.base = 0; // a restarted history: nothing of the old one is owed any more
      t.last = offset;
    }
    seen.ids.add(m.id);
    seen.order.push(m.id);
    if (seen.order.length > this.dedupe) seen.ids.delete(seen.order.shift() as string);
    return true;
  }

  private emit<K extends LiveEvent>(event: K, payload: LiveEvents[K]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as (e: LiveEvents[K]) => void)(payload);
      } catch (err) {
        // A listener's bug must not break the connection; surface it asynchronously.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}

/** A fresh chat ref: the time in base 36 and 80 random bits (29 characters). */
function newRef(): string {
  const bytes = new Uint8Array(10);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => unknown } }).crypto;
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `${Date.now().toString(36)}-${hex}`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function hasCredentials(c: LiveCredentials): boolean {
  return Boolean(c.token) || Boolean(c.apiKey);
}

function sameCredentials(a: LiveCredentials, b: LiveCredentials): boolean {
  return (a.token || undefined) === (b.token || undefined) && (a.apiKey || undefined) === (b.apiKey || undefined);
}

function isErrorEvent(ev: unknown): ev is { message: string } {
  return typeof ev === 'object' && ev !== null && typeof (ev as { message?: unknown }).message === 'string';
}
