// Quotas and bounds through the real server (issue 14): rooms, ingest streams and reports per user; rooms
// created only through the API; room times bounded before they are stored and rendered safely after; room
// timeouts that name real, non-admin users and stay capped; likes only on live channels and known messages.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { roomKeys } from '../src/channels/redis-rooms.js';
import { loadConfig } from '../src/config.js';
import { reportView } from '../src/gateway/routes/reports.js';
import { call, startServer, type TestServer } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { startTwitchIrcServer, type TwitchIrcServer } from './twitch-irc-server.js';
import { account, WsClient, type Account, type Frame } from './ws-client.js';

const YEAR_MS = 365.25 * 24 * 3_600_000;
const errorOf = (res: { body: unknown }) => (res.body as { error: { code: string; message: string } }).error;

describe('quota defaults', () => {
  it('are a tenth of the matching global cap, and ROOMS_AUTO_CREATE is gone', () => {
    const config = loadConfig({});
    expect(config.quotas).toEqual({ roomsPerUser: 1000, ingestStreamsPerUser: 10, reportsPerUser: 100, reportRetentionDays: 90 });
    expect(loadConfig({ MAX_ROOMS: '50', INGEST_MAX_STREAMS: '30' }).quotas).toMatchObject({ roomsPerUser: 5, ingestStreamsPerUser: 3 });
    expect(loadConfig({ MAX_ROOMS: '5', INGEST_MAX_STREAMS: '1' }).quotas).toMatchObject({ roomsPerUser: 1, ingestStreamsPerUser: 1 });
    expect(Object.keys(config)).not.toContain('roomsAutoCreate');
    expect(() => loadConfig({ MAX_REPORTS_PER_USER: '0' })).toThrow(/MAX_REPORTS_PER_USER/);
  });
});

describe('stored records from older versions', () => {
  it('render a report whose times no date can show with nulls instead of throwing', () => {
    const summary = { messages: 0, counts: {}, score: null, bucket_s: 60, buckets: [], most_negative: [], most_positive: [] };
    const view = reportView({
      id: 'r',
      ownerId: 'u',
      channel: 'room:a',
      title: 't',
      from: 9_007_199_254_740_991,
      to: Number.NaN,
      createdAt: -9e15,
      summary,
    });
    expect(view).toMatchObject({ from: null, to: null, created_at: null });
  });
});

describe('rooms: quota, no auto-create, bounded times, timeouts, likes', () => {
  let s: TestServer;
  let alice: Account;
  let bob: Account;
  let carol: Account;
  let admin: Account;
  const clients: WsClient[] = [];
  const open = async (who?: Account) => {
    const c = await WsClient.open(s.url, who ? `token=${who.token}` : '');
    clients.push(c);
    return c;
  };
  const createRoom = (who: Account, body: Record<string, unknown>) => call(s.url, 'POST', '/api/v1/rooms', { token: who.token, body });
  /** The first error frame after the first `skip` of them. */
  const nthError = (c: WsClient, n: number) => c.nth('error', n);

  beforeAll(async () => {
    s = await startServer({
      MAX_ROOMS_PER_USER: '3',
      WS_FRAME_RATE_PER_10S: '100000',
      CHAT_RATE_PER_30S: '100000',
      WS_CONNECT_RATE_PER_MIN: '100000',
    });
    [alice, bob, carol, admin] = await Promise.all([
      account(s.url, 'alice'),
      account(s.url, 'bob'),
      account(s.url, 'carol'),
      account(s.url, 'admin', 'admin-password'),
    ]);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await s.app.stop();
  });

  it('caps the rooms one user creates (409 quota_exceeded naming the limit); others and admins still create', async () => {
    for (const id of ['a1', 'a2', 'a3']) expect((await createRoom(alice, { id })).status).toBe(201);
    const over = await createRoom(alice, { id: 'a4' });
    expect(over.status).toBe(409);
    expect(errorOf(over).code).toBe('quota_exceeded');
    expect(errorOf(over).message).toContain('MAX_ROOMS_PER_USER');
    expect(errorOf(over).message).toContain('3');
    expect((await call(s.url, 'GET', '/api/v1/rooms/a4', { token: alice.token })).status).toBe(404);
    expect((await createRoom(bob, { id: 'b1' })).status).toBe(201);
    for (const id of ['ad1', 'ad2', 'ad3', 'ad4']) expect((await createRoom(admin, { id })).status).toBe(201);
  });

  it('never creates a room by a chat, a like or a subscribe: each answers not_found', async () => {
    const user = await open(carol);
    user.send({ type: 'chat', channel: 'room:ghost', text: 'is anyone here' });
    expect(await nthError(user, 0)).toMatchObject({ code: 'not_found', channel: 'room:ghost' });
    user.send({ type: 'like', channel: 'room:ghost' });
    expect(await nthError(user, 1)).toMatchObject({ code: 'not_found', channel: 'room:ghost' });
    const anon = await open();
    expect(await anon.subscribe('room:ghost')).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await user.subscribe('room:ghost')).toMatchObject({ type: 'error', code: 'not_found' });
    expect((await call(s.url, 'GET', '/api/v1/rooms/ghost', { token: carol.token })).status).toBe(404);
    const all = await call(s.url, 'GET', '/api/v1/rooms?limit=100', { token: carol.token });
    expect((all.body as { items: Array<{ id: string }> }).items.map((r) => r.id)).not.toContain('ghost');
  });

  it('refuses room times no date can show or no schedule needs (400) before anything is stored', async () => {
    const now = Date.now();
    const bad: Array<[string, Record<string, unknown>]> = [
      ['max-safe', { opens_at: 9_007_199_254_740_991 }],
      ['max-safe-close', { closes_at: 9_007_199_254_740_991 }],
      ['far', { opens_at: now + 11 * YEAR_MS }],
      ['far-iso', { closes_at: new Date(now + 11 * YEAR_MS).toISOString() }],
      ['old', { opens_at: '1999-12-31T23:59:59Z' }],
      ['epoch', { opens_at: 0 }],
      ['backwards', { opens_at: now + 3_600_000, closes_at: now + 60_000 }],
      ['same', { opens_at: now + 3_600_000, closes_at: now + 3_600_000 }],
    ];
    for (const [id, times] of bad) {
      const res = await createRoom(bob, { id, ...times });
      expect(res.status, id).toBe(400);
      expect(errorOf(res).code, id).toBe('validation_failed');
      expect((await call(s.url, 'GET', `/api/v1/rooms/${id}`, { token: bob.token })).status, id).toBe(404);
    }
    // In range: nine years ahead is a valid (if patient) schedule.
    const ok = await createRoom(bob, { id: 'patient', opens_at: now + 9 * YEAR_MS });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'scheduled' });
    expect((await call(s.url, 'GET', '/api/v1/rooms?limit=100', { token: bob.token })).status).toBe(200);
  });

  it('times out only real users, never an admin or the host, and moderators only by the host', async () => {
    const room = await createRoom(bob, { id: 'mods' });
    expect(room.status).toBe(201);
    expect((await call(s.url, 'POST', '/api/v1/rooms/mods/moderators', { token: bob.token, body: { username: 'carol' } })).status).toBe(
      200,
    );
    const timeout = (who: Account, userId: string) =>
      call(s.url, 'POST', '/api/v1/rooms/mods/timeouts', { token: who.token, body: { user_id: userId, duration_s: 60 } });

    const onAdmin = await timeout(carol, admin.id);
    expect(onAdmin.status).toBe(403);
    expect(errorOf(onAdmin).code).toBe('forbidden');
    expect((await timeout(bob, admin.id)).status).toBe(403); // not by the host either
    expect((await timeout(carol, bob.id)).status).toBe(403); // the host
    for (const made_up of ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'nobody', '__proto__', 'constructor', 'toString']) {
      const res = await timeout(carol, made_up);
      expect(res.status, made_up).toBe(404);
      expect(errorOf(res).code, made_up).toBe('not_found');
    }
    expect((await timeout(carol, alice.id)).status).toBe(200);
    // The room still reads and lists after the prototype names were tried.
    expect((await call(s.url, 'GET', '/api/v1/rooms/mods', { token: alice.token })).status).toBe(200);
    const ws = await open(alice);
    ws.send({ type: 'chat', channel: 'room:mods', text: 'can I talk' });
    expect(await nthError(ws, 0)).toMatchObject({ code: 'timed_out' });
  });

  it('counts likes only on open rooms and on message ids that exist there', async () => {
    expect((await createRoom(carol, { id: 'likes' })).status).toBe(201);
    expect((await createRoom(carol, { id: 'soon', opens_at: Date.now() + 3_600_000 })).status).toBe(201);
    const watcher = await open();
    await watcher.subscribe('room:likes');
    const liker = await open(bob);
    const host = await open(carol);
    host.send({ type: 'chat', channel: 'room:likes', text: 'like me' });
    host.send({ type: 'chat', channel: 'room:likes', text: 'delete me' });
    await watcher.until((fs) => fs.filter((f) => f.type === 'message').length === 2);
    const [real, doomed] = watcher.of('message', 'room:likes') as [Frame, Frame];

    let errors = 0;
    const refusedLike = async (frame: Record<string, unknown>) => {
      liker.send({ type: 'like', ...frame });
      return nthError(liker, errors++);
    };
    // A made-up but well-formed ULID, something that is no id at all, and a real id of another channel.
    expect(await refusedLike({ channel: 'room:likes', message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })).toMatchObject({ code: 'not_found' });
    expect(await refusedLike({ channel: 'room:likes', message_id: 'made-up' })).toMatchObject({ code: 'not_found' });
    expect(await refusedLike({ channel: 'room:soon', message_id: real.id })).toMatchObject({ code: 'not_found' });
    expect(await refusedLike({ channel: 'room:soon' })).toMatchObject({ code: 'not_found' });
    // Ingested kinds count only while the stream is being ingested.
    expect(await refusedLike({ channel: 'twitch:nobodyhere' })).toMatchObject({ code: 'not_found' });
    expect(await refusedLike({ channel: 'tiktok:nobodyhere', message_id: real.id })).toMatchObject({ code: 'not_found' });
    // A deleted message can no longer be liked.
    expect((await call(s.url, 'DELETE', `/api/v1/rooms/likes/messages/${doomed.id as string}`, { token: carol.token })).status).toBe(204);
    await watcher.nth('delete', 0);
    expect(await refusedLike({ channel: 'room:likes', message_id: doomed.id })).toMatchObject({ code: 'not_found' });

    liker.send({ type: 'like', channel: 'room:likes', message_id: real.id });
    const counted = await watcher.until((fs) => fs.find((f) => f.type === 'likes' && f.message_id === real.id));
    // Only the one real like counted: none of the refused ones reached the shared totals.
    expect(counted).toMatchObject({ total: 1, message_likes: 1 });

    expect((await call(s.url, 'POST', '/api/v1/rooms/likes/close', { token: carol.token })).status).toBe(200);
    expect(await refusedLike({ channel: 'room:likes' })).toMatchObject({ code: 'not_found' });
  });
});

describe('rooms kept in Redis by an older version', () => {
  let redis: RedisServer;
  let client: Redis;
  let s: TestServer;
  let host: Account;
  let bob: Account;

  /** Writes a room as a driver would have (JSON plus its index entry), bypassing today's checks. */
  const plant = async (id: string, json: string) => {
    await client.set(roomKeys().record(id), json);
    await client.zadd(roomKeys().index, await client.incr(roomKeys().seq), id);
  };
  const record = (id: string, over: Record<string, unknown> = {}) =>
    JSON.stringify({
      id,
      title: id,
      ownerId: host.id,
      moderators: [],
      opensAt: null,
      closesAt: null,
      closedAt: null,
      createdAt: Date.now(),
      timeouts: {},
      ...over,
    });

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
    s = await startServer({ REDIS_URL: redis.url, MAX_ROOMS_PER_USER: '2' });
    host = await account(s.url, 'hoster');
    bob = await account(s.url, 'bobby');
  });
  afterAll(async () => {
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (s as TestServer | undefined)?.app.stop();
    (client as Redis | undefined)?.disconnect();
    await (redis as RedisServer | undefined)?.stop();
  });

  it('lists and reads rooms whose stored times no date can show (null), and skips unreadable ones', async () => {
    await plant(
      'ancient',
      record('ancient', { opensAt: 9_007_199_254_740_991, closesAt: 9_007_199_254_740_992, createdAt: 9_007_199_254_740_991 }),
    );
    await plant('garbled', '{not json');
    await plant('partial', JSON.stringify({ id: 'partial' }));
    const list = await call(s.url, 'GET', '/api/v1/rooms?limit=100', { token: bob.token });
    expect(list.status).toBe(200);
    const items = (list.body as { items: Array<Record<string, unknown>> }).items;
    expect(items.map((r) => r.id)).toEqual(['ancient', 'partial']);
    expect(items[0]).toMatchObject({ id: 'ancient', opens_at: null, closes_at: null, created_at: null, status: 'scheduled' });
    expect(items[1]).toMatchObject({ id: 'partial', title: 'partial', owner_id: null, moderators: [], created_at: null, status: 'open' });
    const one = await call(s.url, 'GET', '/api/v1/rooms/ancient', { token: bob.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ opens_at: null });
  });

  it('caps rooms per user across the shared store', async () => {
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: bob.token, body: { id: 'r1' } })).status).toBe(201);
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: bob.token, body: { id: 'r2' } })).status).toBe(201);
    const over = await call(s.url, 'POST', '/api/v1/rooms', { token: bob.token, body: { id: 'r3' } });
    expect(over.status).toBe(409);
    expect(errorOf(over).code).toBe('quota_exceeded');
  });

  it('caps the unexpired timeouts of a room, expired ones pruned before counting', async () => {
    const future = Date.now() + 3_600_000;
    const full = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`made-up-${i}`, future]));
    await plant('full', record('full', { timeouts: full }));
    const timeout = (room: string) =>
      call(s.url, 'POST', `/api/v1/rooms/${room}/timeouts`, { token: host.token, body: { user_id: bob.id, duration_s: 60 } });
    const over = await timeout('full');
    expect(over.status).toBe(409);
    expect(errorOf(over).code).toBe('quota_exceeded');

    const stale = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`made-up-${i}`, Date.now() - 1000]));
    await plant('stale', record('stale', { timeouts: stale }));
    expect((await timeout('stale')).status).toBe(200);
    const kept = JSON.parse((await client.get(roomKeys().record('stale'))) as string) as { timeouts: Record<string, number> };
    expect(Object.keys(kept.timeouts)).toEqual([bob.id]);
  });
});

describe('ingest streams per user', () => {
  let irc: TwitchIrcServer;
  let s: TestServer;

  beforeAll(async () => {
    irc = await startTwitchIrcServer();
    s = await startServer({
      TWITCH_IRC_URL: irc.url,
      INGEST_MAX_STREAMS: '10',
      INGEST_MAX_STREAMS_PER_USER: '2',
      INGEST_SCAN_MS: '200',
      INGEST_LEASE_TTL_MS: '2000',
    });
  });
  afterAll(async () => {
    await (s as TestServer | undefined)?.app.stop();
    await (irc as TwitchIrcServer | undefined)?.close();
  });

  it('caps the streams one user has defined (409 quota_exceeded); deleting one frees its slot', async () => {
    const [alice, bob, admin] = await Promise.all([
      account(s.url, 'alice'),
      account(s.url, 'bob'),
      account(s.url, 'admin', 'admin-password'),
    ]);
    const start = (who: Account, channel: string) =>
      call(s.url, 'POST', '/api/v1/ingest', { token: who.token, body: { source: 'twitch', channel } });
    const first = await start(alice, 'chan_one');
    expect(first.status).toBe(201);
    expect((await start(alice, 'chan_two')).status).toBe(201);
    const over = await start(alice, 'chan_three');
    expect(over.status).toBe(409);
    expect(errorOf(over).code).toBe('quota_exceeded');
    expect(errorOf(over).message).toContain('INGEST_MAX_STREAMS_PER_USER');
    // Someone else's quota is their own; a stream already ingested is returned as is, counting for nobody new.
    expect((await start(bob, 'chan_three')).status).toBe(201);
    expect((await start(alice, 'chan_three')).status).toBe(200);
    // A non-admin deletes only their own; deleting one frees the slot.
    expect((await call(s.url, 'DELETE', `/api/v1/ingest/${(first.body as { id: string }).id}`, { token: bob.token })).status).toBe(403);
    expect((await call(s.url, 'DELETE', `/api/v1/ingest/${(first.body as { id: string }).id}`, { token: alice.token })).status).toBe(204);
    expect((await start(alice, 'chan_four')).status).toBe(201);
    // Admins are bounded by INGEST_MAX_STREAMS only.
    for (const channel of ['adm_one', 'adm_two', 'adm_three']) expect((await start(admin, channel)).status).toBe(201);
  });
});

describe('reports per user, with retention', () => {
  let s: TestServer;

  beforeAll(async () => {
    // Tokens outlive the clock jump below.
    s = await startServer({ MAX_REPORTS_PER_USER: '2', REPORT_RETENTION_DAYS: '1', ACCESS_TOKEN_TTL_S: String(10 * 86_400) });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await (s as TestServer | undefined)?.app.stop();
  });

  it('caps the reports one user keeps (409 quota_exceeded), and forgets those past retention', async () => {
    const [alice, bob] = await Promise.all([account(s.url, 'alice'), account(s.url, 'bob')]);
    const now = Date.now();
    const create = (who: Account) =>
      call(s.url, 'POST', '/api/v1/reports', { token: who.token, body: { channel: 'room:anything', from: now - 3_600_000, to: now } });
    const r1 = await create(alice);
    expect(r1.status).toBe(201);
    expect((await create(alice)).status).toBe(201);
    const over = await create(alice);
    expect(over.status).toBe(409);
    expect(errorOf(over).code).toBe('quota_exceeded');
    expect(errorOf(over).message).toContain('MAX_REPORTS_PER_USER');
    expect((await create(bob)).status).toBe(201);
    const id1 = (r1.body as { id: string }).id;
    expect((await call(s.url, 'DELETE', `/api/v1/reports/${id1}`, { token: alice.token })).status).toBe(204);
    const r3 = await create(alice);
    expect(r3.status).toBe(201);

    // Two days on, every report is past a one-day retention: not listed, not readable, not counted.
    const later = Date.now() + 2 * 86_400_000;
    vi.spyOn(Date, 'now').mockImplementation(() => later);
    expect((await call(s.url, 'GET', `/api/v1/reports/${(r3.body as { id: string }).id}`, { token: alice.token })).status).toBe(404);
    expect((await call(s.url, 'GET', '/api/v1/reports', { token: alice.token })).body).toEqual({ items: [] });
    expect((await create(alice)).status).toBe(201);
    expect((await create(alice)).status).toBe(201);
    expect((await create(alice)).status).toBe(409);
    vi.restoreAllMocks();
  });

  it('holds the quota against a burst of concurrent creates by one user (counted, then created, one at a time)', async () => {
    const carol = await account(s.url, 'carol');
    const now = Date.now();
    const burst = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(s.url, 'POST', '/api/v1/reports', { token: carol.token, body: { channel: 'room:anything', from: now - 3_600_000, to: now } }),
      ),
    );
    expect(burst.filter((r) => r.status === 201)).toHaveLength(2);
    expect(burst.filter((r) => r.status === 409)).toHaveLength(6);
    expect(((await call(s.url, 'GET', '/api/v1/reports', { token: carol.token })).body as { items: unknown[] }).items).toHaveLength(2);
  });
});
