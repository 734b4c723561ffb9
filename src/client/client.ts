// The REST side of the SDK: one method per contract route, grouped by resource (client.rooms.create), with
// typed answers, typed errors, and token handling (auth.login stores the pair; a 401 on a bearer request
// refreshes the access token once and retries).
import { ChatPulseError, errorFromResponse } from './errors.js';
import { LiveConnection, type LiveOptions } from './live.js';
import { jwtExpiryMs } from './jwt.js';
import type {
  ApiKeyCreated,
  ApiKeyInfo,
  BatchSentiment,
  ChannelSummary,
  HistoryMessage,
  Ingest,
  IngestSource,
  List,
  MatchQueued,
  MatchTicket,
  ModelInfo,
  Report,
  Room,
  Sentiment,
  TimeInput,
  Timeline,
  MomentList,
  TokenPair,
  UploadedFile,
  User,
} from './types.js';

export interface ClientOptions {
  /** `http(s)://host:port` (no trailing path); in a page served by ChatPulse: `location.origin`. */
  baseUrl: string;
  /** An access token to start with (e.g. one kept from an earlier login). */
  token?: string;
  /** Lets the client refresh `token` when it expires. */
  refreshToken?: string;
  /** Sent as `X-API-Key` when there is no access token. */
  apiKey?: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Passed on to live(): needed in Node 20 (`(await import('ws')).WebSocket`). */
  WebSocket?: LiveOptions['WebSocket'];
  /** Called whenever the tokens change (login, refresh, logout: null), e.g. to keep them in storage. */
  onTokens?: (tokens: { access: string; refresh?: string } | null) => void;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** false: send no credentials (register, login, refresh). */
  auth?: boolean;
}

export interface RoomInput {
  id?: string;
  title?: string;
  opens_at?: TimeInput;
  closes_at?: TimeInput;
  /** active -> countdown -> decision -> kept | ended (docs/protocol.md, "Room lifecycle"). */
  lifecycle?: boolean;
}

export interface ReportInput {
  channel: string;
  from: TimeInput;
  to: TimeInput;
  title?: string;
}

/** Raw bytes to send as a request's body (a file upload), with their type. */
interface RawBody {
  bytes: Blob | ArrayBuffer | Uint8Array;
  type: string;
}

/** A successful answer in full (see `response()`). */
export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export class ChatPulseClient {
  readonly baseUrl: string;
  private access: string | undefined;
  private refreshTok: string | undefined;
  private key: string | undefined;
  private refreshing: Promise<boolean> | null = null;
  private signingIn: Promise<unknown> | null = null;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.access = options.token;
    this.refreshTok = options.refreshToken;
    this.key = options.apiKey;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  get accessToken(): string | undefined {
    return this.access;
  }

  get refreshToken(): string | undefined {
    return this.refreshTok;
  }

  get apiKey(): string | undefined {
    return this.key;
  }

  /** True when requests carry credentials (a token or an API key). */
  get signedIn(): boolean {
    return this.access !== undefined || this.key !== undefined;
  }

  setTokens(access: string | undefined, refresh?: string): void {
    this.access = access;
    this.refreshTok = access === undefined ? undefined : refresh;
    this.options.onTokens?.(access === undefined ? null : { access, ...(refresh === undefined ? {} : { refresh }) });
  }

  setApiKey(key: string | undefined): void {
    this.key = key;
  }

  // One namespace per resource (the route's first segment after /api/v1): `create`, `list`, `get` and
  // `delete` for its collection and items, the route's own word for anything else (auth.login,
  // channels.timeline, sentiment.batch). Arrow properties, so a method taken off its namespace still works.

  readonly auth = {
    register: (username: string, password: string): Promise<User> =>
      this.request('POST', '/api/v1/auth/register', { body: { username, password }, auth: false }),

    /** Signs in and keeps the token pair for every later call (and for live()). */
    login: async (username: string, password: string): Promise<TokenPair> => {
      const call = this.request<TokenPair>('POST', '/api/v1/auth/login', { body: { username, password }, auth: false });
      this.signingIn = call;
      try {
        const pair = await call;
        this.setTokens(pair.access_token, pair.refresh_token);
        return pair;
      } finally {
        if (this.signingIn === call) this.signingIn = null;
      }
    },

    /** Rotates the token pair with the refresh token. */
    refresh: async (): Promise<TokenPair> => {
      if (this.refreshTok === undefined) throw new ChatPulseError(401, 'unauthorized', 'no refresh token: sign in again');
      const pair = await this.request<TokenPair>('POST', '/api/v1/auth/refresh', { body: { refresh_token: this.refreshTok }, auth: false });
      this.setTokens(pair.access_token, pair.refresh_token);
      return pair;
    },

    /** Revokes the access token (and the refresh token) on the server and forgets both. */
    logout: async (): Promise<void> => {
      if (this.access === undefined) return;
      const body = this.refreshTok === undefined ? {} : { refresh_token: this.refreshTok };
      try {
        // No refresh-and-retry here: an access token the server refuses is as good as logged out.
        const res = await this.send('POST', '/api/v1/auth/logout', { body }, true);
        if (res.status !== 401) await parse<unknown>(res);
      } finally {
        this.setTokens(undefined);
      }
    },

    /** The caller (the user behind the token or API key). */
    me: (): Promise<User> => this.request('GET', '/api/v1/auth/me'),
  };

  readonly account = {
    /**
     * Deletes the account with its API keys and reports; needs an access token (not an API key) and the
     * current password. The client forgets its tokens afterwards.
     */
    delete: async (currentPassword: string): Promise<void> => {
      await this.request<unknown>('DELETE', '/api/v1/users/me', { body: { current_password: currentPassword } });
      this.setTokens(undefined);
    },
  };

  readonly apiKeys = {
    /** Needs a signed-in client (an access token, not an API key) and the account's current password. */
    create: (name: string, currentPassword: string): Promise<ApiKeyCreated> =>
      this.request('POST', '/api/v1/api-keys', { body: { name, current_password: currentPassword } }),
    list: (): Promise<List<ApiKeyInfo>> => this.request('GET', '/api/v1/api-keys'),
    delete: (id: string): Promise<void> => this.request('DELETE', `/api/v1/api-keys/${encodeURIComponent(id)}`),
  };

  readonly sentiment = {
    predict: (text: string): Promise<Sentiment> => this.request('POST', '/api/v1/sentiment', { body: { text } }),
    /** Results in the order of `texts`. */
    batch: (texts: string[]): Promise<BatchSentiment> => this.request('POST', '/api/v1/sentiment/batch', { body: { texts } }),
  };

  readonly model = {
    /** The served model: name, labels, max length, quantization, engine counters. */
    get: (): Promise<ModelInfo> => this.request('GET', '/api/v1/model'),
  };

  readonly channels = {
    list: (): Promise<List<ChannelSummary>> => this.request('GET', '/api/v1/channels'),

    /** Newest first; pass the answer's `next` as `before` for the previous page. */
    messages: (channel: string, query: { limit?: number; before?: string } = {}): Promise<List<HistoryMessage>> =>
      this.request('GET', `/api/v1/channels/${encodeURIComponent(channel)}/messages`, {
        query: { limit: query.limit, before: query.before },
      }),

    /** Sentiment counts per bucket (`bucket` in seconds) between `from` and `to`. */
    timeline: (channel: string, query: { from?: TimeInput; to?: TimeInput; bucket?: number } = {}): Promise<Timeline> =>
      this.request('GET', `/api/v1/channels/${encodeURIComponent(channel)}/timeline`, {
        query: { from: timeParam(query.from), to: timeParam(query.to), bucket: query.bucket },
      }),

    /** Hype and tilt moments, newest first (default: the last 24 hours, at most 100). */
    moments: (channel: string, query: { from?: TimeInput; to?: TimeInput; limit?: number } = {}): Promise<MomentList> =>
      this.request('GET', `/api/v1/channels/${encodeURIComponent(channel)}/moments`, {
        query: { from: timeParam(query.from), to: timeParam(query.to), limit: query.limit },
      }),
  };

  readonly reports = {
    create: (input: ReportInput): Promise<Report> => {
      const body = {
        channel: input.channel,
        from: timeBody(input.from),
        to: timeBody(input.to),
        ...(input.title === undefined ? {} : { title: input.title }),
      };
      return this.request('POST', '/api/v1/reports', { body });
    },
    list: (query: { limit?: number; before?: string } = {}): Promise<List<Report>> =>
      this.request('GET', '/api/v1/reports', { query: { limit: query.limit, before: query.before } }),
    get: (id: string): Promise<Report> => this.request('GET', `/api/v1/reports/${encodeURIComponent(id)}`),
    delete: (id: string): Promise<void> => this.request('DELETE', `/api/v1/reports/${encodeURIComponent(id)}`),
  };

  readonly ingest = {
    /**
     * Starts ingesting a Twitch or TikTok chat; its messages appear on `<source>:<channel>`. A stream already
     * ingested is answered as it is (200 instead of 201: `response()` shows the status).
     */
    create: (input: { source: IngestSource; channel: string }): Promise<Ingest> => this.request('POST', '/api/v1/ingest', { body: input }),
    list: (): Promise<List<Ingest>> => this.request('GET', '/api/v1/ingest'),
    get: (id: string): Promise<Ingest> => this.request('GET', `/api/v1/ingest/${encodeURIComponent(id)}`),
    /** Stops ingesting (its creator or an admin). */
    delete: (id: string): Promise<void> => this.request('DELETE', `/api/v1/ingest/${encodeURIComponent(id)}`),
  };

  readonly rooms = {
    create: (input: RoomInput = {}): Promise<Room> => {
      const body: Record<string, unknown> = {};
      if (input.id !== undefined) body.id = input.id;
      if (input.title !== undefined) body.title = input.title;
      if (input.opens_at !== undefined) body.opens_at = timeBody(input.opens_at);
      if (input.closes_at !== undefined) body.closes_at = timeBody(input.closes_at);
      if (input.lifecycle !== undefined) body.lifecycle = input.lifecycle;
      return this.request('POST', '/api/v1/rooms', { body });
    },
    /** A member ends a lifecycle room's `active` period early: the room goes to `countdown`. */
    countdown: (id: string): Promise<Room> => this.request('POST', `/api/v1/rooms/${encodeURIComponent(id)}/countdown`),
    /** A member's decision while a lifecycle room is in `decision` (as the live connection's `decide`). */
    decide: (id: string, keep: boolean): Promise<Room> =>
      this.request('POST', `/api/v1/rooms/${encodeURIComponent(id)}/decision`, { body: { keep } }),
    list: (query: { limit?: number; after?: string } = {}): Promise<List<Room>> =>
      this.request('GET', '/api/v1/rooms', { query: { limit: query.limit, after: query.after } }),
    get: (id: string): Promise<Room> => this.request('GET', `/api/v1/rooms/${encodeURIComponent(id)}`),
    /**
     * Uploads an image (PNG, JPEG, GIF or WebP; `type` defaults to the Blob's own) to a room you may post in;
     * attach it to a chat with `live.chat(channel, text, { fileId: file.id })`.
     */
    upload: async (id: string, file: Blob | ArrayBuffer | Uint8Array, type?: string): Promise<UploadedFile> => {
      const contentType = type ?? (file instanceof Blob ? file.type : '');
      const res = await this.fetchWithRefresh(
        'POST',
        `/api/v1/rooms/${encodeURIComponent(id)}/files`,
        {},
        { bytes: file, type: contentType },
      );
      return parse<UploadedFile>(res);
    },
  };

  readonly files = {
    /** An uploaded file's bytes (a room's files are served to signed-in callers only): `id` or its `url`. */
    get: async (idOrUrl: string): Promise<Blob> => {
      const path = idOrUrl.startsWith('/') ? idOrUrl : `/api/v1/files/${encodeURIComponent(idOrUrl)}`;
      const res = await this.fetchWithRefresh('GET', path, {});
      if (!res.ok) throw await errorFromResponse(res);
      return res.blob();
    },
  };

  readonly match = {
    /** Queues the caller for a one-to-one private room; a `matched` notification on `live()` names it. */
    join: (input: { interests?: string[]; languages?: string[] } = {}): Promise<MatchQueued> =>
      this.request('POST', '/api/v1/match', { body: input }),
    /** The caller's ticket (rejects with a 404 ChatPulseError when not queued). */
    get: (): Promise<MatchTicket> => this.request('GET', '/api/v1/match'),
    /** Leaves the queue (a 404 when not queued). */
    leave: (): Promise<void> => this.request('DELETE', '/api/v1/match'),
  };

  // ------------------------------------------------------------------------------------- real time

  /**
   * A live connection to `/ws` with this client's credentials: the current access token (refreshed first
   * when it has expired) or API key on every (re)connect. When the server refuses them (a revoked token,
   * a deleted key), the connection takes the tokens of a sign-in under way, else refreshes the token once;
   * if that does not help, it ends with a fatal `error` event (`unauthorized`) instead of retrying forever.
   * Before the access token expires the connection renews it in place (refreshed here, sent as an `auth`
   * frame), and a connection the server closes with 4001 (revoked, expired) is treated as a refusal.
   */
  live(options: Omit<LiveOptions, 'url' | 'credentials'> = {}): LiveConnection {
    const WebSocket = options.WebSocket ?? this.options.WebSocket;
    return new LiveConnection({
      fetch: this.fetchImpl,
      ...options,
      ...(WebSocket === undefined ? {} : { WebSocket }),
      url: this.baseUrl,
      credentials: async ({ rejected, expiring }) => {
        if (rejected !== undefined) {
          await this.signingIn?.catch(() => undefined);
          if (rejected.token !== undefined && rejected.token === this.access && this.refreshTok !== undefined) await this.tryRefresh();
        } else if (expiring !== undefined) {
          if (expiring.token !== undefined && expiring.token === this.access && this.refreshTok !== undefined) await this.tryRefresh();
        } else if (this.access !== undefined && this.refreshTok !== undefined && expiresWithin(this.access, 5)) {
          await this.tryRefresh();
        }
        if (this.access !== undefined) return { token: this.access };
        return this.key === undefined ? {} : { apiKey: this.key };
      },
    });
  }

  // ------------------------------------------------------------------------------------- transport

  /** Any route: resolves with the parsed JSON body (undefined for 204); rejects with ChatPulseError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.response<T>(method, path, options)).body;
  }

  /**
   * request() with the answer's status and headers too, for when they say more than the body: 201 (created)
   * vs 200 (already there), or `X-Instance` (the process that answered).
   */
  async response<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const res = await this.fetchWithRefresh(method, path, options);
    return { status: res.status, headers: res.headers, body: await parse<T>(res) };
  }

  private async fetchWithRefresh(method: string, path: string, options: RequestOptions, raw?: RawBody): Promise<Response> {
    const auth = options.auth !== false;
    const usedToken = auth ? this.access : undefined;
    let res = await this.send(method, path, options, auth, raw);
    if (res.status === 401 && usedToken !== undefined && this.refreshTok !== undefined) {
      // Another call may have refreshed already; else refresh once, then retry once.
      const fresh = this.access !== usedToken || (await this.tryRefresh());
      if (fresh) res = await this.send(method, path, options, auth, raw);
    }
    return res;
  }

  private tryRefresh(): Promise<boolean> {
    const used = this.refreshTok;
    this.refreshing ??= this.auth
      .refresh()
      .then(
        () => true,
        (err: unknown) => {
          // A refresh token the server refuses is useless: forget the pair (network trouble keeps it), unless
          // a sign-in replaced it meanwhile.
          const refused = err instanceof ChatPulseError && (err.status === 401 || err.status === 400);
          if (refused && this.refreshTok === used) this.setTokens(undefined);
          return false;
        },
      )
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async send(method: string, path: string, options: RequestOptions, auth: boolean, raw?: RawBody): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth && this.access !== undefined) headers.authorization = `Bearer ${this.access}`;
    else if (auth && this.key !== undefined) headers['x-api-key'] = this.key;
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    } else if (raw !== undefined) {
      headers['content-type'] = raw.type;
      init.body = raw.bytes as RequestInit['body']; // a Uint8Array on any ArrayBuffer is a valid body
    }
    let url = this.baseUrl + path;
    if (options.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs !== '') url += `?${qs}`;
    }
    try {
      return await this.fetchImpl(url, init);
    } catch (err) {
      throw new ChatPulseError(0, 'network_error', `${method} ${path} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

async function parse<T>(res: Response): Promise<T> {
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ChatPulseError(res.status, 'invalid_response', 'the server answered with a body that is not JSON');
  }
}

function timeParam(t: TimeInput | undefined): string | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? String(t.getTime()) : String(t);
}

function timeBody(t: TimeInput): number | string {
  return t instanceof Date ? t.getTime() : t;
}

/** True when a JWT's `exp` is within `seconds` from now (false when it cannot be read). */
function expiresWithin(jwt: string, seconds: number): boolean {
  const exp = jwtExpiryMs(jwt);
  return exp !== undefined && exp - Date.now() < seconds * 1000;
}
