// TikTok LIVE ingest through tiktok-live-connector 2.5. The library hands out tiktok-live-proto v3 messages
// (ts-proto shapes: `content`, `total`, `gift.type`, int64 fields as strings; its README still shows the older
// `comment` / `totalLikeCount` / `giftDetails` names), which this file maps onto IngestEvent.
//
// Each connect attempt gets a fresh TikTokLiveConnection: the library caches the room id and fetch cursor on
// the instance, and a streamer who restarts gets a new room, so nothing is carried over from a dead socket.

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  ControlEvent,
  MemberMessageAction,
  SignConfig,
  SignatureRateLimitError,
  TikTokLiveConnection,
  UserOfflineError,
  WebcastEvent,
  createEulerClient,
  type ClientEventMap,
  type User,
  type UserIdentity,
  type WebcastChatMessage,
  type WebcastGiftMessage,
} from 'tiktok-live-connector';
import { badRequest } from '../errors.js';
import { TIKTOK_USER } from '../channels/names.js';
import type { Logger } from '../observability/log.js';
import type { IngestConnection, IngestConnector, IngestEvent, IngestStatus, IngestedChat, IngestedUser } from './source.js';

export interface TikTokConnectorOptions {
  /** Euler Stream sign-server API key (raises the free rate limits). Default: the library's SIGN_API_KEY env. */
  signApiKey?: string;
  /** Sign-server base URL. Default: the library's SIGN_API_URL env, else https://api.eulerstream.com. */
  signServerUrl?: string;
  /**
   * A TikTok account's `sessionid` cookie. It is sent to TikTok only: the connector never turns on the
   * library's `authenticateWs`, which would forward it to the third-party sign server.
   */
  sessionId?: string;
  /** The account's `tt-target-idc` cookie (e.g. `useast1a`); TikTok needs it alongside `sessionId`. */
  ttTargetIdc?: string;
  /** First reconnect delay (jittered), doubled per consecutive failure. Default 2000. */
  reconnectMinMs?: number;
  /** Cap on the reconnect delay. Default 60000. */
  reconnectMaxMs?: number;
  /** Consecutive failed connects after which the connector emits `error` and gives up. Default 10. */
  maxAttempts?: number;
  log?: Logger;
  /**
   * Builds the connection for one attempt (default: `tiktokConnectionFactory(options)`). The connector owns
   * what it returns: it attaches listeners, calls `connect()` and `disconnect()`.
   */
  createConnection?: (uniqueId: string) => TikTokLiveConnection;
  /** Told of every user an event carries (handle, display name, avatar): the profile cache's tier 1. */
  onUser?: UserSeen;
}

/** A platform user seen in an event: their login (handle), display name and avatar (an https URL) when given. */
export type UserSeen = (login: string, displayName: string, avatarUrl: string | undefined) => void;

type SignOptions = Pick<TikTokConnectorOptions, 'signApiKey' | 'signServerUrl' | 'sessionId' | 'ttTargetIdc'>;
type EulerClient = TikTokLiveConnection['apiClient'];

/** What the connector builds a real connection with; exported so that its sign and session wiring can be checked. */
export function tiktokConnectionFactory(options: SignOptions): (uniqueId: string) => TikTokLiveConnection {
  if (options.sessionId && !options.ttTargetIdc) throw new TypeError('tiktok: sessionId needs ttTargetIdc as well');
  const session = options.sessionId
    ? { cookie: { type: 'cookie' as const, value: { sessionId: options.sessionId, ttTargetIdc: options.ttTargetIdc ?? '' } } }
    : undefined;
  let signClient: EulerClient | undefined;
  return (uniqueId) => {
    if (!signClient && (options.signApiKey || options.signServerUrl)) signClient = ownSignClient(options.signApiKey, options.signServerUrl);
    return new TikTokLiveConnection(uniqueId, {
      // Not `signApiKey`: that option writes the process-wide SignConfig.apiKey (see ownSignClient).
      eulerApiInstance: signClient,
      session,
      // The sign response carries recent chat history; replaying it on every reconnect would re-ingest it.
      processInitialData: false,
      // Needed for the offline check: connect() rejects with UserOfflineError when the room is not live.
      fetchRoomInfoOnConnect: true,
    });
  };
}

// SignConfig is one object for the whole process: createEulerClient() builds its client from it once and
// caches it, and the SDK writes the key into SignConfig.baseOptions.headers (X-Api-Key) as a side effect. So
// this connector's key and URL go into a client built from a private copy, and the globals are put back.
function ownSignClient(apiKey: string | undefined, basePath: string | undefined): EulerClient {
  const saved = { ...SignConfig };
  SignConfig.cachedInstance = undefined;
  // Typed `any` by the SDK: request options (axios's), of which only the headers are touched here.
  const baseOptions = saved.baseOptions as { headers?: Record<string, unknown> } | undefined;
  SignConfig.baseOptions = { ...baseOptions, headers: { ...baseOptions?.headers } };
  if (apiKey) SignConfig.apiKey = apiKey;
  if (basePath) SignConfig.basePath = basePath;
  try {
    return createEulerClient();
  } finally {
    Object.assign(SignConfig, saved);
  }
}

interface Settings {
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxAttempts: number;
  secrets: string[];
  log: Logger | undefined;
  createConnection: (uniqueId: string) => TikTokLiveConnection;
  onUser: UserSeen | undefined;
}

export class TikTokConnector implements IngestConnector {
  readonly source = 'tiktok';
  private readonly settings: Settings;

  constructor(options: TikTokConnectorOptions = {}) {
    this.settings = {
      reconnectMinMs: options.reconnectMinMs ?? 2_000,
      reconnectMaxMs: options.reconnectMaxMs ?? 60_000,
      maxAttempts: Math.max(1, options.maxAttempts ?? 10),
      secrets: [options.signApiKey, options.sessionId].filter((s): s is string => !!s),
      log: options.log,
      createConnection: options.createConnection ?? tiktokConnectionFactory(options),
      onUser: options.onUser,
    };
  }

  normalize(channel: string): string {
    const id = channel.trim().replace(/^@/, '').toLowerCase();
    if (!TIKTOK_USER.test(id)) throw badRequest('a TikTok username is 2 to 24 characters of a-z, 0-9, "." and "_"', 'validation_failed');
    return id;
  }

  connect(channel: string, emit: (event: IngestEvent) => void): IngestConnection {
    const session = new TikTokSession(this.normalize(channel), emit, this.settings);
    session.start();
    return { stop: () => session.stop() };
  }
}

/** One channel: connect, map, reconnect with backoff until it ends, gives up or is stopped. */
class TikTokSession {
  private conn: TikTokLiveConnection | null = null;
  private offs: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  /** Consecutive failed connects; a connect that goes live resets it. */
  private failures = 0;
  /** Ended, given up or stopped: nothing is emitted or started any more. */
  private done = false;
  private stopping: Promise<void> | null = null;
  private lastStatus: IngestStatus | null = null;
  private readonly log: Logger | undefined;

  constructor(
    private readonly uniqueId: string,
    private readonly sink: (event: IngestEvent) => void,
    private readonly settings: Settings,
  ) {
    this.log = settings.log?.child({ source: 'tiktok', channel: uniqueId });
  }

  start(): void {
    this.status('connecting');
    this.attempt();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.done = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.release();
    })();
    return this.stopping;
  }

  private attempt(): void {
    this.timer = null;
    let conn: TikTokLiveConnection;
    try {
      conn = this.settings.createConnection(this.uniqueId);
      this.conn = conn;
      this.attach(conn);
    } catch (err) {
      void this.release();
      this.failed(err);
      return;
    }
    conn.connect().then(
      () => {
        // Stopped or dropped while connecting: this socket is nobody's now.
        if (this.conn !== conn) return void conn.disconnect().catch(() => undefined);
        this.failures = 0;
        this.log?.info({ roomId: conn.roomId }, 'tiktok live');
        this.status('live');
      },
      (err: unknown) => {
        if (this.conn !== conn) return;
        void this.release();
        this.failed(err);
      },
    );
  }

  private failed(err: unknown): void {
    if (this.done) return;
    const reason = this.describe(err);
    // Offline is not a fault to retry through: connect() checks the room status first, so the stream is
    // over (or never started) and the owner may ask again later. Reported as `ended` with the reason.
    if (err instanceof UserOfflineError) {
      this.log?.info('tiktok user is not live');
      this.finish('ended', `@${this.uniqueId} is not live`);
      return;
    }
    this.failures += 1;
    this.log?.warn({ attempt: this.failures, reason }, 'tiktok connect failed');
    if (this.failures >= this.settings.maxAttempts) {
      this.finish('error', `gave up on @${this.uniqueId} after ${this.failures} failed attempts: ${reason}`);
      return;
    }
    this.retry(err);
  }

  private retry(err?: unknown): void {
    this.status('reconnecting');
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.settings;
    const base = Math.min(max, min * 2 ** Math.max(0, this.failures - 1));
    // Equal jitter, so that channels dropped together by one outage do not all come back in step.
    let delay = base / 2 + Math.random() * (base / 2);
    // The sign server says when its rate limit resets; asking before then only burns an attempt.
    if (err instanceof SignatureRateLimitError) delay = Math.max(delay, err.retryAfter);
    this.timer = setTimeout(() => this.attempt(), delay);
  }

  private attach(conn: TikTokLiveConnection): void {
    // The class's declared base (typed-emitter's default export) does not resolve under NodeNext, so
    // TypeScript sees no on/off; at runtime it extends node:events, and the library's event map types the
    // listeners' arguments. The listeners here are synchronous: node:events would not await a promise.
    if (!(conn instanceof EventEmitter)) throw new TypeError('tiktok: the connection is not an EventEmitter');
    const on = <E extends keyof ClientEventMap>(event: E, listener: (...args: Parameters<ClientEventMap[E]>) => void): void => {
      conn.on(event, listener);
      this.offs.push(() => conn.off(event, listener));
    };
    const seen = (u: User | undefined): void => {
      const login = u?.displayId;
      if (!this.settings.onUser || !login) return;
      const user = toUser(u);
      this.settings.onUser(login, user.name, user.avatarUrl);
    };
    on(WebcastEvent.CHAT, (m) => {
      seen(m.user);
      this.emit(toChat(m));
    });
    on(WebcastEvent.LIKE, (m) => {
      const total = Number(m.total);
      // An unset int64 reads "0"; passing it on would reset the stream's like counter.
      if (total > 0) this.emit({ kind: 'likes', total });
    });
    on(WebcastEvent.MEMBER, (m) => {
      // The same message type also announces subscriptions, which are not joins.
      seen(m.user);
      if (m.action !== MemberMessageAction.MEMBER_MESSAGE_ACTION_SUBSCRIBED) this.emit({ kind: 'member', user: toUser(m.user) });
    });
    on(WebcastEvent.GIFT, (m) => {
      const gift = toGift(m);
      if (!gift) return;
      seen(m.user);
      this.emit(gift);
    });
    on(WebcastEvent.ROOM_USER, (m) => this.emit({ kind: 'viewers', count: Number(m.total) || 0 }));
    // Sent for CONTROL_ACTION_STREAM_ENDED and _SUSPENDED; the library then disconnects by itself.
    on(WebcastEvent.STREAM_END, () => {
      this.log?.info('tiktok stream ended');
      this.finish('ended');
    });
    on(ControlEvent.DISCONNECTED, ({ code }) => {
      if (this.conn !== conn || this.done) return;
      this.log?.warn({ code }, 'tiktok socket closed');
      void this.release();
      this.retry();
    });
    // Informational only: it repeats the connect rejection handled above, and reports decode failures on a
    // socket that keeps working; a socket that really fails also closes, which is what triggers a reconnect.
    on(ControlEvent.ERROR, (e: { info?: unknown; exception?: unknown }) => {
      this.log?.debug({ info: String(e.info), reason: this.describe(e.exception) }, 'tiktok library error');
    });
  }

  /** Detaches from the current connection and closes it. */
  private release(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    const conn = this.conn;
    this.conn = null;
    return conn ? conn.disconnect().catch(() => undefined) : Promise.resolve();
  }

  private finish(status: IngestStatus, error?: string): void {
    this.status(status, error);
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.release();
  }

  private status(status: IngestStatus, error?: string): void {
    // A state, not a log: a second failed attempt is still `reconnecting`.
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.emit(error === undefined ? { kind: 'status', status } : { kind: 'status', status, error });
  }

  private emit(event: IngestEvent): void {
    if (!this.done) this.sink(event);
  }

  /**
   * An error as one short line without the API key or session id. Only this string is logged or emitted,
   * never the error object: the library's HTTP errors carry the request options, Cookie header included.
   */
  private describe(err: unknown): string {
    let text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
    for (const secret of this.settings.secrets) text = text.split(secret).join('[redacted]');
    return text.slice(0, 300) || 'unknown error';
  }
}

function toChat(m: WebcastChatMessage): IngestedChat {
  const user = toUser(m.user, m.userIdentity);
  const createTime = m.common?.createTime;
  return {
    kind: 'chat',
    sourceId: nonZero(m.common?.msgId) ?? fallbackId(user.id, createTime, m.content),
    user,
    text: m.content,
    sentAt: epochMs(createTime) ?? Date.now(),
    // TikTok's emotes (`emotes[].index`) are images inserted at a position, not spans over text, so there is
    // nothing in `text` for an EmoteSpan to cover.
    emotes: [],
  };
}

function toGift(m: WebcastGiftMessage): IngestEvent | null {
  // A streakable gift (type 1) is re-sent with a growing repeatCount while the streak runs, then once more
  // with repeatEnd set and the final count: only that last message is the finished gift.
  if (m.gift?.type === 1 && !m.repeatEnd) return null;
  const count = Math.max(1, m.repeatCount);
  return {
    kind: 'gift',
    user: toUser(m.user, m.userIdentity),
    gift: m.gift?.name || `gift ${m.giftId}`,
    count,
    diamonds: (m.gift?.diamondCount ?? 0) * count,
  };
}

function toUser(u: User | undefined, identity?: UserIdentity): IngestedUser {
  const id = nonZero(u?.id) ?? u?.idStr ?? '';
  // `displayId` is the @handle (uniqueId); `nickname` the display name.
  const user: IngestedUser = { id, name: u?.nickname || u?.displayId || id || 'unknown', badges: badgesOf(u, identity) };
  // The event's own avatar, when it carries one (only an https URL: it ends up in an <img> of every viewer).
  const avatar = u?.avatarThumb?.urlList[0];
  if (typeof avatar === 'string' && /^https:\/\/[^\s"'<>]+$/.test(avatar) && avatar.length <= 1024) user.avatarUrl = avatar;
  return user;
}

/** Chat and gift messages say how the sender relates to the streamer; other messages only carry the user. */
function badgesOf(u: User | undefined, identity: UserIdentity | undefined): string[] {
  const badges: string[] = [];
  if (identity?.isAnchor) badges.push('broadcaster');
  if (identity?.isModeratorOfAnchor || u?.userAttr?.isAdmin) badges.push('moderator');
  if (identity?.isSubscriberOfAnchor) badges.push('subscriber');
  if (identity?.isFollowerOfAnchor) badges.push('follower');
  // "Has sent this streamer gifts", not a rank: TikTok sends no top-gifter flag per message.
  if (identity?.isGiftGiverOfAnchor) badges.push('gifter');
  return badges;
}

/** int64 fields arrive as decimal strings, "0" when unset. */
function nonZero(value: string | undefined): string | undefined {
  return value && value !== '0' ? value : undefined;
}

/** TikTok stamps messages in epoch ms; seconds are accepted too, should a message carry them. */
function epochMs(value: string | undefined): number | undefined {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) return undefined;
  return n < 1e12 ? n * 1000 : n;
}

/** For a message without msgId: the same message seen twice (e.g. after a reconnect) gets the same id. */
function fallbackId(userId: string, createTime: string | undefined, text: string): string {
  return `tt-${createHash('sha256')
    .update(`${userId}\n${createTime ?? ''}\n${text}`)
    .digest('hex')
    .slice(0, 24)}`;
}
