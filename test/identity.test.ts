// Who speaks, as frames show it, end to end on a real server with real `ws` clients: display names and avatars
// (uploaded, served, or initials), badges awarded in a room, rooms scheduled around an event, likes over REST.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startServer, type TestServer } from './helpers.js';
import { IMAGES, upload } from './images.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { account, WsClient, type Account, type Frame } from './ws-client.js';

interface User {
  id: string;
  name: string;
  badges: string[];
  display_name?: string | null;
  avatar_url?: string | null;
}

describe('identity, badges, event windows and likes', () => {
  let s: TestServer;
  let dir: string;
  let alice: Account;
  let bob: Account;
  const clients: WsClient[] = [];
  const open = async (who: Account) => {
    const c = await WsClient.open(s.url, `token=${who.token}`);
    clients.push(c);
    return c;
  };
  /** Sends a chat line as `who` and returns its message frame as `watcher` receives it. */
  const say = async (who: WsClient, watcher: WsClient, channel: string, text: string): Promise<Frame> => {
    who.send({ type: 'chat', channel, text });
    return watcher.until((fs) => fs.find((f) => f.type === 'message' && f.text === text));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chatpulse-identity-'));
    s = await startServer({ FILES_DIR: dir, ROOM_OPEN_BEFORE_S: '600', ROOM_CLOSE_AFTER_S: '1200' });
    [alice, bob] = await Promise.all([account(s.url, 'i_alice'), account(s.url, 'i_bob')]);
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id: 'stage' } })).status).toBe(201);
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await s.app.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('message frames carry display_name and avatar_url, null until set, current after a change', async () => {
    const [wa, wb] = await Promise.all([open(alice), open(bob)]);
    await wb.subscribe('room:stage');
    const first = (await say(wa, wb, 'room:stage', 'hello')).user as User;
    expect(first).toEqual({ id: alice.id, name: 'i_alice', badges: ['host'], display_name: null, avatar_url: null });
    // A profile change reaches the next message (the per-process cache forgets the user at once).
    expect((await call(s.url, 'PUT', '/api/v1/users/me', { token: alice.token, body: { display_name: 'Alice A.' } })).status).toBe(200);
    const named = (await say(wa, wb, 'room:stage', 'named now')).user as User;
    expect(named.display_name).toBe('Alice A.');
    expect(named.avatar_url).toBeNull();
    const up = await upload(s.url, '/api/v1/users/me/avatar', alice.token, IMAGES['image/webp'], 'image/webp', 'PUT');
    expect(up.status).toBe(200);
    expect((up.body as { avatar_url: string }).avatar_url).toBe(`/api/v1/users/${alice.id}/avatar`);
    const pictured = (await say(wa, wb, 'room:stage', 'with a face')).user as User;
    expect(pictured.avatar_url).toBe(`/api/v1/users/${alice.id}/avatar`);
    expect((await call(s.url, 'DELETE', '/api/v1/users/me/avatar', { token: alice.token })).status).toBe(204);
    expect(((await say(wa, wb, 'room:stage', 'faceless again')).user as User).avatar_url).toBeNull();
  });

  it('ingested lines show the platform name, and its avatar only when the event carries one', async () => {
    const base = { kind: 'chat' as const, sourceId: 'x1', text: 'gg', sentAt: Date.now(), emotes: [] };
    const plain = await s.app.hub.ingest('twitch', 'twitch:idstream', { ...base, user: { id: 't1', name: 'Streamer', badges: [] } });
    expect((JSON.parse(plain.frame as string) as { user: User }).user).toMatchObject({ display_name: 'Streamer', avatar_url: null });
    const avatarUrl = 'https://p16.tiktokcdn.com/a.webp';
    const pictured = await s.app.hub.ingest('tiktok', 'tiktok:idstream', {
      ...base,
      sourceId: 'x2',
      user: { id: 't2', name: 'Tok', badges: [], avatarUrl },
    });
    expect((JSON.parse(pictured.frame as string) as { user: User }).user).toMatchObject({ display_name: 'Tok', avatar_url: avatarUrl });
  });

  it('serves an uploaded avatar, else a safe initials SVG', async () => {
    const res = await fetch(`${s.url}/api/v1/users/${bob.id}/avatar`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const svg = await res.text();
    expect(svg).toContain('>IB</text>'); // i_bob: two words
    expect(svg).not.toMatch(/<script|on\w+=|href/i);
    // A hostile display name is text in the SVG, never markup.
    await call(s.url, 'PUT', '/api/v1/users/me', { token: bob.token, body: { display_name: '<script>x</script> &' } });
    const hostile = await (await fetch(`${s.url}/api/v1/users/${bob.id}/avatar`)).text();
    expect(hostile).not.toContain('<script');
    expect(hostile).toMatch(/>(&lt;|S|X|&amp;){1,2}<\/text>/);
    // Uploaded: the same bytes, image headers; the same checks as room files.
    expect((await upload(s.url, '/api/v1/users/me/avatar', bob.token, Buffer.from('<svg/>'), 'image/svg+xml', 'PUT')).status).toBe(415);
    expect((await upload(s.url, '/api/v1/users/me/avatar', bob.token, IMAGES['image/png'], 'image/png', 'PUT')).status).toBe(200);
    const img = await fetch(`${s.url}/api/v1/users/${bob.id}/avatar`);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(img.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await img.arrayBuffer()).equals(IMAGES['image/png'])).toBe(true);
    // A replaced avatar's file is gone from the store (its quota given back).
    expect((await upload(s.url, '/api/v1/users/me/avatar', bob.token, IMAGES['image/gif'], 'image/gif', 'PUT')).status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/users/${bob.id}/avatar`)).headers.get('content-type')).toBe('image/gif');
    expect((await fetch(`${s.url}/api/v1/users/01jabcdefghjkmnpqrstvwxyz0/avatar`)).status).toBe(404);
  });

  it('shows badges awarded by the host in that room only, until taken back', async () => {
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: bob.token, body: { id: 'elsewhere' } })).status).toBe(201);
    const [wa, wb] = [await open(alice), await open(bob)];
    await wa.subscribe('room:stage');
    await wa.subscribe('room:elsewhere');
    // Only the host, a moderator or an admin awards; role badges are not awarded.
    expect(
      (await call(s.url, 'POST', '/api/v1/rooms/stage/badges', { token: bob.token, body: { user_id: bob.id, badge: 'winner' } })).status,
    ).toBe(403);
    expect(
      (await call(s.url, 'POST', '/api/v1/rooms/stage/badges', { token: alice.token, body: { user_id: bob.id, badge: 'host' } })).status,
    ).toBe(400);
    expect(
      (await call(s.url, 'POST', '/api/v1/rooms/stage/badges', { token: alice.token, body: { user_id: 'nobody', badge: 'winner' } }))
        .status,
    ).toBe(404);
    const award = await call(s.url, 'POST', '/api/v1/rooms/stage/badges', {
      token: alice.token,
      body: { user_id: bob.id, badge: 'winner' },
    });
    expect(award.status).toBe(200);
    expect(award.body).toEqual({ room_id: 'stage', user_id: bob.id, badges: ['winner'] });
    expect(((await say(wb, wa, 'room:stage', 'I won')).user as User).badges).toEqual(['winner']);
    expect(((await say(wb, wa, 'room:elsewhere', 'my room')).user as User).badges).toEqual(['host']);
    const taken = await call(s.url, 'DELETE', `/api/v1/rooms/stage/badges/${bob.id}/winner`, { token: alice.token });
    expect(taken.status).toBe(200);
    expect(taken.body).toEqual({ room_id: 'stage', user_id: bob.id, badges: [] });
    expect(((await say(wb, wa, 'room:stage', 'not any more')).user as User).badges).toEqual([]);
    expect((await call(s.url, 'DELETE', `/api/v1/rooms/stage/badges/${bob.id}/winner`, { token: alice.token })).status).toBe(404);
  });

  it('schedules a room around event_at', async () => {
    const event = Date.UTC(2030, 0, 1, 20);
    const iso = (ms: number) => new Date(ms).toISOString();
    const byDefault = await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id: 'concert', event_at: iso(event) } });
    expect(byDefault.status).toBe(201);
    expect(byDefault.body).toMatchObject({ opens_at: iso(event - 600_000), closes_at: iso(event + 1_200_000), status: 'scheduled' });
    const margins = await call(s.url, 'POST', '/api/v1/rooms', {
      token: alice.token,
      body: { id: 'final', event_at: event, open_before_s: 60, close_after_s: 7200 },
    });
    expect(margins.body).toMatchObject({ opens_at: iso(event - 60_000), closes_at: iso(event + 7_200_000) });
    const both = await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { event_at: event, opens_at: event } });
    expect(both.status).toBe(400);
    const orphan = await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { open_before_s: 60 } });
    expect(orphan.status).toBe(400);
  });

  it('likes over REST answer the totals', async () => {
    const wa = await open(alice);
    await wa.subscribe('room:stage');
    const message = await say(wa, wa, 'room:stage', 'like me');
    const like = (body?: unknown) =>
      call(s.url, 'POST', '/api/v1/channels/room:stage/likes', { token: bob.token, ...(body ? { body } : {}) });
    const first = await like({});
    expect(first.status).toBe(200);
    const total = (first.body as { total: number }).total;
    expect(Object.keys(first.body as object)).toEqual(['total']);
    expect(Number.isInteger(total)).toBe(true);
    expect((await like()).body).toEqual({ total: total + 1 });
    const onMessage = await like({ message_id: message.id });
    expect(onMessage.body).toEqual({ total: total + 2, message_likes: 1 });
    expect((await like({ message_id: message.id })).status).toBe(409);
    expect((await call(s.url, 'POST', '/api/v1/channels/room:nowhere/likes', { token: bob.token, body: {} })).status).toBe(404);
    expect((await call(s.url, 'POST', '/api/v1/channels/room:stage/likes', { body: {} })).status).toBe(401);
    await wa.until((fs) => fs.some((f) => f.type === 'likes' && f.message_likes === 1));
  });
});

describe('identity across processes sharing Redis', () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startServer({ REDIS_URL: redis.url });
    b = await startServer({ REDIS_URL: redis.url });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await (a as TestServer | undefined)?.app.stop();
    await (b as TestServer | undefined)?.app.stop();
    await (redis as RedisServer | undefined)?.stop();
  });

  it("a profile change on one process shows at once in another's message frames", async () => {
    const dana = await account(a.url, 'i_dana');
    expect((await call(a.url, 'POST', '/api/v1/rooms', { token: dana.token, body: { id: 'shared' } })).status).toBe(201);
    const wb = await WsClient.open(b.url, `token=${dana.token}`);
    clients.push(wb);
    await wb.subscribe('room:shared');
    wb.send({ type: 'chat', channel: 'room:shared', text: 'before' });
    const before = await wb.until((fs) => fs.find((f) => f.type === 'message' && f.text === 'before'));
    expect((before.user as User).display_name).toBeNull(); // B has cached "no display name" now
    expect((await call(a.url, 'PUT', '/api/v1/users/me', { token: dana.token, body: { display_name: 'Dana D.' } })).status).toBe(200);
    // The change was made on A: B learns of it over the bus, well within the cache's TTL.
    await expect
      .poll(
        async () => {
          const text = `after ${Date.now()}`;
          wb.send({ type: 'chat', channel: 'room:shared', text });
          const frame = await wb.until((fs) => fs.find((f) => f.type === 'message' && f.text === text));
          return (frame.user as User).display_name;
        },
        { timeout: 3000, interval: 200 },
      )
      .toBe('Dana D.');
  });
});
