// The SDK against a real server: REST calls and typed errors, token refresh, and the live connection:
// its own chat message with sentiment, server refusals, reconnect + resubscribe after a server restart on
// the same port, a heartbeat that notices a connection that went silent, a stop (not endless retries) when
// the server refuses the credentials, resubscribes after a refusal that passes (Redis away), and a
// handshake timeout against a TCP server that never answers.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ChatPulseClient,
  ChatPulseError,
  LiveConnection,
  LiveError,
  type LiveEvents,
  type MessageFrame,
  type Room,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../src/client/index.js';
import { call, createRooms, startServer, type TestServer } from './helpers.js';
import { roomKeys } from '../src/channels/redis-rooms.js';
import { startRedisServer } from './redis-server.js';
import { freePort } from '../bench/lib/processes.js';

const LABELS = ['negative', 'neutral', 'positive'];
const LIMITS = {
  CHAT_RATE_PER_30S: '10000',
  WS_FRAME_RATE_PER_10S: '10000',
  WS_CONNECT_RATE_PER_MIN: '10000',
  AUTH_RATE_PER_MIN: '10000',
  MOOD_TICK_MS: '200',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `ws` as a browser shows it: errors are bare events (a refused upgrade is indistinguishable from an outage,
 * both end in close 1006) and there is no terminate().
 */
const BrowserLikeWebSocket: WebSocketConstructor = class implements WebSocketLike {
  readonly #ws: WebSocket;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(url: string) {
    this.#ws = new WebSocket(url);
    this.#ws.onopen = () => this.onopen?.({ type: 'open' });
    this.#ws.onmessage = (e) => this.onmessage?.({ data: e.data });
    this.#ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
    this.#ws.onerror = () => this.onerror?.({ type: 'error' });
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  send(data: string): void {
    this.#ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
};

/** Records every event of a live connection, for assertions after the fact. */
function record(conn: LiveConnection): {
  events: Array<{ kind: keyof LiveEvents; e: unknown }>;
  count: (kind: keyof LiveEvents) => number;
} {
  const events: Array<{ kind: keyof LiveEvents; e: unknown }> = [];
  for (const kind of ['open', 'close', 'reconnecting', 'error', 'subscribed', 'message'] as const)
    conn.on(kind, (e) => events.push({ kind, e }));
  return { events, count: (kind) => events.filter((x) => x.kind === kind).length };
}

describe('client SDK', () => {
  let s: TestServer;
  let admin: ChatPulseClient;
  const conns: LiveConnection[] = [];
  const track = (c: LiveConnection) => (conns.push(c), c);

  beforeAll(async () => {
    s = await startServer(LIMITS);
    admin = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    await admin.auth.login('admin', 'admin-password');
    // Rooms exist only through the API (a chat or subscribe never creates one).
    await createRooms(s.url, admin.accessToken as string, ['sdk-live', 'sdk-batch', 'other', 'heartbeat', 'sdk-auth']);
  });
  afterAll(async () => {
    for (const c of conns) c.close();
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (s as TestServer | undefined)?.app.stop();
  });

  it('registers, signs in and calls the sentiment API', async () => {
    const c = new ChatPulseClient({ baseUrl: s.url });
    const user = await c.auth.register('sdk_user', 'password123');
    expect(user).toMatchObject({ username: 'sdk_user', role: 'user' });
    const pair = await c.auth.login('sdk_user', 'password123');
    expect(pair.token_type).toBe('bearer');
    expect(c.accessToken).toBe(pair.access_token);
    expect((await c.auth.me()).id).toBe(user.id);

    const one = await c.sentiment.predict('what a great play, love it');
    expect(LABELS).toContain(one.label);
    expect(Object.values(one.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const batch = await c.sentiment.batch(['good', 'bad', 'ok']);
    expect(batch.count).toBe(3);
    expect(batch.results).toHaveLength(3);
    const model = await c.model.get();
    expect(model.labels).toEqual(expect.arrayContaining(LABELS));

    const key = await c.apiKeys.create('sdk', 'password123');
    const viaKey = new ChatPulseClient({ baseUrl: s.url, apiKey: key.key });
    expect((await viaKey.auth.me()).username).toBe('sdk_user');
    const room = await c.rooms.create({ id: 'sdk-room', title: 'SDK' });
    expect(room).toMatchObject({ id: 'sdk-room', channel: 'room:sdk-room', status: 'open' });
    expect((await c.rooms.get('sdk-room')).title).toBe('SDK');
    expect((await c.rooms.list()).items.map((r) => r.id)).toContain('sdk-room');
  });

  it('turns error bodies into typed ChatPulseErrors (401, 400, 404, 413)', async () => {
    const anon = new ChatPulseClient({ baseUrl: s.url });
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => {
          throw new Error('expected a failure');
        },
        (err: unknown) => err as ChatPulseError,
      );

    const noCreds = await failure(anon.auth.me());
    expect(noCreds).toBeInstanceOf(ChatPulseError);
    expect(noCreds).toMatchObject({ status: 401, code: 'unauthorized' });
    expect((await failure(anon.auth.login('admin', 'wrong-password'))).status).toBe(401);

    const empty = await failure(admin.sentiment.predict('   '));
    expect(empty).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(empty.message).toMatch(/text/);
    expect(await failure(admin.sentiment.predict('x'.repeat(5000)))).toMatchObject({ status: 413 });
    expect(await failure(admin.rooms.get('no-such-room'))).toMatchObject({ status: 404, code: 'not_found' });

    const down = new ChatPulseClient({ baseUrl: 'http://127.0.0.1:1' });
    expect(await failure(down.model.get())).toMatchObject({ status: 0, code: 'network_error' });
  });

  it('gives the status and headers of an answer where they say more than its body', async () => {
    const created = await admin.response<Room>('POST', '/api/v1/rooms', { body: { id: 'sdk-status', title: 'Status' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'sdk-status', title: 'Status' });
    expect(created.headers.get('x-instance')).toMatch(/:\d+$/);
    const read = await admin.response<Room>('GET', '/api/v1/rooms/sdk-status');
    expect(read.status).toBe(200);
    expect(read.body.id).toBe('sdk-status');
    const key = await admin.apiKeys.create('status', 'admin-password');
    expect(await admin.response('DELETE', `/api/v1/api-keys/${key.id}`)).toMatchObject({ status: 204, body: undefined });
    // Refusals reject as from request(), and the methods built on it keep their typed errors.
    await expect(admin.response('GET', '/api/v1/rooms/nope')).rejects.toMatchObject({
      name: 'ChatPulseError',
      status: 404,
      code: 'not_found',
    });
    await expect(admin.ingest.get('no-such-ingest')).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('refreshes the access token once on a 401, then signs out for good', async () => {
    const seed = new ChatPulseClient({ baseUrl: s.url });
    await seed.auth.register('refresher', 'password123');
    const pair = await seed.auth.login('refresher', 'password123');
    const calls: string[] = [];
    const c = new ChatPulseClient({
      baseUrl: s.url,
      token: 'not-a-valid-token',
      refreshToken: pair.refresh_token,
      fetch: (input, init) => {
        calls.push(`${init?.method ?? 'GET'} ${(input instanceof Request ? input.url : String(input)).replace(s.url, '')}`);
        return fetch(input, init);
      },
    });
    expect((await c.auth.me()).username).toBe('refresher');
    expect(calls).toEqual(['GET /api/v1/auth/me', 'POST /api/v1/auth/refresh', 'GET /api/v1/auth/me']);
    expect(c.accessToken).not.toBe('not-a-valid-token');

    const token = c.accessToken as string;
    await c.auth.logout();
    expect(c.accessToken).toBeUndefined();
    const revoked = new ChatPulseClient({ baseUrl: s.url, token });
    await expect(revoked.auth.me()).rejects.toMatchObject({ status: 401 });
    // A refresh token the server refuses: the original 401 comes back and the tokens are forgotten.
    const stale = new ChatPulseClient({ baseUrl: s.url, token: 'nope', refreshToken: 'also-nope' });
    await expect(stale.auth.me()).rejects.toMatchObject({ status: 401 });
    expect(stale.refreshToken).toBeUndefined();
  });

  it('receives its own chat message with sentiment, and typed server refusals', async () => {
    const conn = track(admin.live({ channels: ['room:sdk-live'] }));
    await conn.next('subscribed', (f) => f.channel === 'room:sdk-live');
    expect(conn.isOpen).toBe(true);
    const got = conn.next('message', (m) => m.text === 'this stream is amazing, love it');
    void conn.chat('room:sdk-live', 'this stream is amazing, love it');
    const own = await got;
    expect(own).toMatchObject({ type: 'message', channel: 'room:sdk-live', user: { name: 'admin' } });
    expect(LABELS).toContain(own.sentiment.label);
    expect(own.sentiment.score).toBeGreaterThan(0);
    expect(typeof own.ts).toBe('number');

    const mood = await conn.next('mood', (m) => m.channel === 'room:sdk-live');
    expect(Object.values(mood.counts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);

    const likes = conn.next('likes', (l) => l.message_id === own.id);
    conn.like('room:sdk-live', own.id);
    expect(await likes).toMatchObject({ message_likes: 1 });

    await expect(conn.subscribe('nonsense')).rejects.toMatchObject({ name: 'LiveError', code: 'invalid_channel' });
    expect(conn.channels.has('nonsense')).toBe(false);
    const refused = conn.next('error', (e) => e.channel === 'twitch:somestreamer');
    void conn.chat('twitch:somestreamer', 'hi');
    expect(await refused).toMatchObject({ code: 'forbidden' });

    // Batched delivery.
    await conn.subscribe('room:sdk-batch', { batch: true });
    const batch = conn.next('messages', (f) => f.channel === 'room:sdk-batch');
    void conn.chat('room:sdk-batch', 'one');
    void conn.chat('room:sdk-batch', 'two');
    expect((await batch).items[0]).toMatchObject({ type: 'message', text: 'one' });

    // Anonymous: may watch, may not post.
    const anon = track(new LiveConnection({ url: s.url, WebSocket, channels: ['room:sdk-live'] }));
    await anon.next('subscribed');
    const denied = anon.next('error');
    void anon.chat('room:sdk-live', 'hello?');
    expect(await denied).toMatchObject({ code: 'unauthorized' });
    // Closed while still connecting: nothing is left behind and nothing throws later.
    const early = new LiveConnection({ url: s.url, WebSocket, channels: ['room:sdk-live'] });
    const pendingSub = early.subscribe('room:other');
    early.close();
    await expect(pendingSub).rejects.toMatchObject({ code: 'closed' });
    await sleep(100);
    expect(early.state).toBe('closed');

    conn.close();
    expect(conn.state).toBe('closed');
    expect(() => conn.chat('room:sdk-live', 'after close')).toThrow(LiveError);
  });

  it('reconnects with backoff and resubscribes after the server restarts on the same port', async () => {
    // An explicit port: uWS sets SO_REUSEADDR only then, and without it the first server's TIME_WAIT
    // connections would keep the port from being bound again for a minute. Accounts and rooms live in
    // Redis, as in any deployment that restarts: the client's token is still good on the new process (with
    // per-process memory it would race the client's own re-login, and lose it to a slow scrypt).
    const redis = await startRedisServer();
    const port = await freePort();
    const env = { ...LIMITS, PORT: String(port), REDIS_URL: redis.url };
    const first = await startServer(env);
    const c = new ChatPulseClient({ baseUrl: first.url, WebSocket });
    await c.auth.login('admin', 'admin-password');
    await createRooms(first.url, c.accessToken as string, ['restart', 'restart-2']);
    const conn = track(
      c.live({ channels: ['room:restart', 'room:restart-2'], reconnect: { minDelayMs: 100, maxDelayMs: 400 }, heartbeat: false }),
    );
    const log = record(conn);
    await conn.next('subscribed', (f) => f.channel === 'room:restart-2');
    const before = conn.next('message', (m) => m.text === 'before the restart');
    void conn.chat('room:restart', 'before the restart');
    await before;

    await first.app.stop();
    await conn.next('reconnecting');
    expect(conn.state).not.toBe('open');
    await sleep(500); // a few refused attempts while nothing listens
    const second = await startServer(env);
    try {
      expect(second.app.port).toBe(port);
      await conn.next('open', (o) => o.reconnected, 15_000);
      await conn.next('subscribed', (f) => f.channel === 'room:restart-2');
      expect([...conn.channels.keys()]).toEqual(['room:restart', 'room:restart-2']);

      const attempts = log.events.filter((x) => x.kind === 'reconnecting').map((x) => (x.e as LiveEvents['reconnecting']).delayMs);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      for (const d of attempts) expect(d).toBeLessThanOrEqual(400);
      expect(log.events.find((x) => x.kind === 'close')?.e).toMatchObject({ code: 1001, willReconnect: true });

      const after = conn.next('message', (m) => m.text === 'after the restart');
      void conn.chat('room:restart', 'after the restart'); // posting needs a token the new process accepts
      expect((await after).channel).toBe('room:restart');
    } finally {
      conn.close();
      await second.app.stop();
      await redis.stop();
    }
  });

  it('notices a dead connection with its heartbeat and replaces it', async () => {
    // A TCP proxy that can go silent: the old connection stays up but nothing crosses it any more.
    const pairs: Array<[Socket, Socket]> = [];
    const target = new URL(s.url);
    const proxy: Server = createServer((down) => {
      const up = connect(Number(target.port), target.hostname);
      down.pipe(up);
      up.pipe(down);
      down.on('error', () => undefined);
      up.on('error', () => undefined);
      pairs.push([down, up]);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as { port: number }).port;
    const conn = track(
      new LiveConnection({
        url: `http://127.0.0.1:${proxyPort}`,
        WebSocket,
        credentials: { token: admin.accessToken as string },
        channels: ['room:heartbeat'],
        heartbeat: { intervalMs: 200, timeoutMs: 300 },
        reconnect: { minDelayMs: 50, maxDelayMs: 200 },
      }),
    );
    try {
      await conn.next('subscribed');
      await sleep(700); // pings answered: still the first connection
      expect(pairs).toHaveLength(1);
      const [down, up] = pairs[0] as [Socket, Socket];
      down.unpipe(up);
      up.unpipe(down);
      down.pause();
      up.pause();
      const t0 = Date.now();
      const why = await conn.next('reconnecting', () => true, 5000);
      expect(why.reason).toMatch(/heartbeat/);
      expect(Date.now() - t0).toBeLessThan(2000);
      await conn.next('subscribed', (f) => f.channel === 'room:heartbeat', 5000);
      expect(pairs.length).toBe(2);
      const got = conn.next('message', (m: MessageFrame) => m.text === 'still here');
      void conn.chat('room:heartbeat', 'still here');
      await got;
    } finally {
      conn.close();
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise((r) => proxy.close(r));
    }
  });

  it('stops, with a fatal error, when the server refuses the credentials; refreshes a revoked token once first', async () => {
    const failsWith = async (conn: LiveConnection, status: number, message?: RegExp) => {
      const log = record(conn);
      const pendingSub = conn.subscribe('room:sdk-auth');
      const fatal = await conn.next('error', (e) => e.fatal === true, 10_000);
      expect(fatal).toMatchObject({ type: 'error', code: status === 403 ? 'forbidden' : 'unauthorized', status });
      if (message) expect(fatal.message).toMatch(message);
      expect(conn.state).toBe('closed');
      await expect(pendingSub).rejects.toMatchObject({ name: 'LiveError', code: 'unauthorized' });
      const attempts = log.count('reconnecting');
      await sleep(600); // several backoff delays: no further attempt
      expect(log.count('reconnecting')).toBe(attempts);
      expect(log.count('open')).toBe(0);
      expect(() => conn.connect()).toThrow(LiveError);
      return attempts;
    };
    const fast = { reconnect: { minDelayMs: 50, maxDelayMs: 100 }, heartbeat: false } as const;

    // A deleted API key, with `ws` (it reports the upgrade's 401): no retry at all.
    const key = await admin.apiKeys.create('sdk-revoked', 'admin-password');
    await admin.apiKeys.delete(key.id);
    expect(await failsWith(track(new LiveConnection({ url: s.url, WebSocket, credentials: { apiKey: key.key }, ...fast })), 401)).toBe(0);

    // A revoked token where the socket says nothing (browsers): the SDK asks the REST API, which explains.
    const user = new ChatPulseClient({ baseUrl: s.url });
    await user.auth.register('sdk_revoked', 'password123');
    const pair = await user.auth.login('sdk_revoked', 'password123');
    expect((await call(s.url, 'POST', '/api/v1/auth/logout', { token: pair.access_token, body: {} })).status).toBe(204);
    const browser = track(
      new LiveConnection({ url: s.url, WebSocket: BrowserLikeWebSocket, credentials: { token: pair.access_token }, ...fast }),
    );
    expect(await failsWith(browser, 401, /revoked/)).toBe(0);

    // Through a client: the revoked access token is refreshed once, and the connection opens with the new one.
    const refreshing = new ChatPulseClient({ baseUrl: s.url, token: pair.access_token, refreshToken: pair.refresh_token, WebSocket });
    const live = track(refreshing.live({ channels: ['room:sdk-auth'], ...fast }));
    await live.next('subscribed', (f) => f.channel === 'room:sdk-auth');
    expect(refreshing.accessToken).not.toBe(pair.access_token);
    const mine = live.next('message', (m) => m.text === 'refreshed');
    void live.chat('room:sdk-auth', 'refreshed');
    expect((await mine).user.name).toBe('sdk_revoked');
    live.close();

    // ... and when the refresh is refused too, it stops; the same in a browser.
    for (const ctor of [WebSocket, BrowserLikeWebSocket]) {
      const stale = new ChatPulseClient({ baseUrl: s.url, token: pair.access_token, refreshToken: 'not-a-refresh-token', WebSocket: ctor });
      await failsWith(track(stale.live(fast)), 401);
      expect(stale.accessToken).toBeUndefined();
    }
  });

  it('subscribes again after a refusal that passes (Redis away), and drops a channel refused for good', async () => {
    const redis = await startRedisServer();
    let srv: TestServer | null = null;
    try {
      srv = await startServer({ ...LIMITS, REDIS_URL: redis.url });
      const conn = track(
        new LiveConnection({ url: srv.url, WebSocket, heartbeat: false, reconnect: { minDelayMs: 100, maxDelayMs: 500 } }),
      );
      await conn.next('open');
      const login = await call(srv.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } });
      await createRooms(srv.url, (login.body as { access_token: string }).access_token, ['sdk-outage']);
      const reader = new Redis(redis.url);
      const saved = (await reader.get(roomKeys().record('sdk-outage'))) as string;
      reader.disconnect();
      await redis.stop();
      let settled = false;
      const sub = conn.subscribe('room:sdk-outage');
      void sub.then(
        () => (settled = true),
        () => (settled = true),
      );
      // Rooms live in Redis: the server refuses with `unavailable` (and retry_after_ms) while it is away.
      const refusal = await conn.next('error', (e) => e.channel === 'room:sdk-outage', 15_000);
      expect(refusal).toMatchObject({ code: 'unavailable' });
      expect(settled).toBe(false);
      expect(conn.channels.has('room:sdk-outage')).toBe(true);
      // Still refused on the retry (the connection itself stays open), then Redis comes back.
      await conn.next('error', (e) => e.channel === 'room:sdk-outage' && e.code === 'unavailable', 15_000);
      // It comes back empty: the room is written again the moment it answers (queued on a client that
      // retries every 5 ms, ahead of the server's own reconnect backoff), as a restored Redis would hold it.
      const planter = new Redis(redis.url, { retryStrategy: () => 5, maxRetriesPerRequest: null });
      planter.on('error', () => undefined);
      const planted = Promise.all([planter.set(roomKeys().record('sdk-outage'), saved), planter.zadd(roomKeys().index, 1, 'sdk-outage')]);
      await redis.restart();
      await planted;
      planter.disconnect();
      expect(await sub).toMatchObject({ type: 'subscribed', channel: 'room:sdk-outage' });
      expect(conn.isOpen).toBe(true);
      expect(conn.channels.has('room:sdk-outage')).toBe(true);
      // A final refusal rejects and forgets the channel, as before.
      await expect(conn.subscribe('room:not valid')).rejects.toMatchObject({ code: 'invalid_channel' });
      expect(conn.channels.has('room:not valid')).toBe(false);
      conn.close();
    } finally {
      await srv?.app.stop();
      await redis.stop();
    }
  });

  it('gives up on a handshake that never completes and retries with backoff', async () => {
    // Accepts TCP connections and never answers the HTTP upgrade.
    const accepted: Socket[] = [];
    const ended = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.on('close', () => ended.add(socket));
      socket.resume(); // read (and ignore) the upgrade request, so that the client's FIN is seen
      accepted.push(socket);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      for (const ctor of [WebSocket, BrowserLikeWebSocket]) {
        const before = accepted.length;
        const conn = track(
          new LiveConnection({
            url,
            WebSocket: ctor,
            connectTimeoutMs: 300,
            heartbeat: false,
            reconnect: { minDelayMs: 50, maxDelayMs: 100 },
          }),
        );
        expect(conn.state).toBe('connecting');
        const why = await conn.next('reconnecting', () => true, 10_000);
        expect(why).toMatchObject({ attempt: 1 });
        expect(why.reason).toMatch(/connect timeout/);
        // The abandoned attempt's TCP connection is closed, and the next attempt follows the backoff.
        await conn.next('reconnecting', (r) => r.attempt === 2, 10_000);
        expect(accepted.length - before).toBeGreaterThanOrEqual(2);
        const first = accepted[before] as Socket;
        for (let i = 0; i < 100 && !ended.has(first); i++) await sleep(50);
        expect(ended.has(first)).toBe(true);
        conn.close();
        expect(conn.state).toBe('closed');
      }
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe('client SDK: token renewal and revocation of the live connection', { concurrent: true }, () => {
  let s: TestServer;
  let admin: ChatPulseClient;
  const conns: LiveConnection[] = [];
  const track = (c: LiveConnection) => (conns.push(c), c);
  const expiryMs = (jwt: string) =>
    (JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp * 1000;

  beforeAll(async () => {
    s = await startServer({ ...LIMITS, ACCESS_TOKEN_TTL_S: '10' });
    admin = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    await admin.auth.login('admin', 'admin-password');
    const { access_token } = (await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } }))
      .body as { access_token: string };
    await createRooms(s.url, access_token, ['sdk-renew', 'sdk-role', 'sdk-static', 'sdk-off']);
  });
  afterAll(async () => {
    for (const c of conns) c.close();
    await (s as TestServer | undefined)?.app.stop();
  });

  it('renews its access token in place before it expires: the connection never closes and still chats', async () => {
    const c = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    await c.auth.register('sdk_renew', 'password123');
    await c.auth.login('sdk_renew', 'password123');
    const first = c.accessToken as string;
    const live = track(c.live({ channels: ['room:sdk-renew'], heartbeat: false }));
    const log = record(live);
    const authed: number[] = [];
    live.on('authed', (f) => authed.push(f.expires_at));
    await live.next('subscribed', (f) => f.channel === 'room:sdk-renew');
    await sleep(Math.max(0, expiryMs(first) - Date.now()) + 1500);
    expect(log.count('close')).toBe(0);
    expect(live.isOpen).toBe(true);
    expect(c.accessToken).not.toBe(first);
    expect(authed[0]).toBe(expiryMs(c.accessToken as string));
    const mine = live.next('message', (m) => m.text === 'past the first expiry');
    void live.chat('room:sdk-renew', 'past the first expiry');
    expect((await mine).user.name).toBe('sdk_renew');
  });

  it('on close 4001 (a role change) refreshes once and reconnects, with the new role', async () => {
    const c = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    const me = await c.auth.register('sdk_promoted', 'password123');
    await c.auth.login('sdk_promoted', 'password123');
    const live = track(c.live({ channels: ['room:sdk-role'], heartbeat: false, reconnect: { minDelayMs: 50, maxDelayMs: 100 } }));
    await live.next('subscribed', (f) => f.channel === 'room:sdk-role');
    const closed = live.next('close');
    const reopened = live.next('open', (e) => e.reconnected);
    await admin.request('PATCH', `/api/v1/admin/users/${me.id}`, { body: { role: 'admin' } });
    expect(await closed).toMatchObject({ code: 4001, reason: 'revoked', willReconnect: true });
    await reopened;
    await live.next('subscribed', (f) => f.channel === 'room:sdk-role');
    const mine = live.next('message', (m) => m.text === 'promoted');
    void live.chat('room:sdk-role', 'promoted');
    expect((await mine).user.badges).toContain('admin');
  });

  /** A user with an API key; `live` opened on it is closed by a role change (4001) and must come back as an admin. */
  async function keyedUser(name: string): Promise<{ id: string; key: string }> {
    const c = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    const me = await c.auth.register(name, 'password123');
    await c.auth.login(name, 'password123');
    const created = await call(s.url, 'POST', '/api/v1/api-keys', {
      token: c.accessToken as string,
      body: { name, current_password: 'password123' },
    });
    return { id: me.id, key: (created.body as { key: string }).key };
  }
  async function survivesRoleChange(live: LiveConnection, userId: string, text: string): Promise<void> {
    await live.next('subscribed', (f) => f.channel === 'room:sdk-static');
    const closed = live.next('close');
    const reopened = live.next('open', (e) => e.reconnected);
    await admin.request('PATCH', `/api/v1/admin/users/${userId}`, { body: { role: 'admin' } });
    expect(await closed).toMatchObject({ code: 4001, reason: 'revoked', willReconnect: true });
    await reopened;
    const mine = live.next('message', (m) => m.text === text);
    void live.chat('room:sdk-static', text);
    expect((await mine).user.badges).toContain('admin');
  }

  it('with static credentials, reconnects after a 4001 when they are still good (an API key across a role change)', async () => {
    const { id, key } = await keyedUser('sdk_static');
    const live = track(
      new LiveConnection({
        url: s.url,
        WebSocket,
        credentials: { apiKey: key },
        channels: ['room:sdk-static'],
        heartbeat: false,
        reconnect: { minDelayMs: 50, maxDelayMs: 100 },
      }),
    );
    await survivesRoleChange(live, id, 'key still good');
  });

  it('client.live() on an API key also reconnects after a 4001 from a role change (the key is still good)', async () => {
    const { id, key } = await keyedUser('sdk_keyed');
    const keyed = new ChatPulseClient({ baseUrl: s.url, WebSocket, apiKey: key });
    await survivesRoleChange(
      track(keyed.live({ channels: ['room:sdk-static'], heartbeat: false, reconnect: { minDelayMs: 50, maxDelayMs: 100 } })),
      id,
      'keyed and still good',
    );
  });

  it('on close 4001 whose refresh is refused too (account disabled), stops with a fatal unauthorized error', async () => {
    const c = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    const me = await c.auth.register('sdk_disabled', 'password123');
    await c.auth.login('sdk_disabled', 'password123');
    const live = track(c.live({ channels: ['room:sdk-off'], heartbeat: false, reconnect: { minDelayMs: 50, maxDelayMs: 100 } }));
    const log = record(live);
    await live.next('subscribed', (f) => f.channel === 'room:sdk-off');
    const fatal = live.next('error', (e) => e.fatal === true);
    await admin.request('PATCH', `/api/v1/admin/users/${me.id}`, { body: { disabled: true } });
    expect(await fatal).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(live.state).toBe('closed');
    expect(log.events.find((e) => e.kind === 'close')?.e).toMatchObject({ code: 4001 });
    await sleep(300);
    expect(log.count('open')).toBe(1);
  });
});
