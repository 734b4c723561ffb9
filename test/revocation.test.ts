// Revocation reaches open sockets: logout, password change, disable, role change, account deletion and key
// deletion close the sockets they concern with 4001 `revoked` within a second; a JWT socket closes at its
// token's expiry (4001 `expired`) unless an `auth` frame renewed it; one address cannot take every socket
// slot; and a process at its socket cap stays ready. Real server, real `ws` clients.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userKeys } from '../src/auth/redis-stores.js';
import { call, createRooms, startServer, type TestServer } from './helpers.js';
import { startRedisServer } from './redis-server.js';
import { account, UpgradeRefused, WsClient } from './ws-client.js';

const LIMITS = { CHAT_RATE_PER_30S: '10000', WS_FRAME_RATE_PER_10S: '10000', WS_CONNECT_RATE_PER_MIN: '10000', AUTH_RATE_PER_MIN: '10000' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function login(url: string, username: string, password = 'password123'): Promise<{ access: string; refresh: string }> {
  const res = await call(url, 'POST', '/api/v1/auth/login', { body: { username, password } });
  expect(res.status).toBe(200);
  const body = res.body as { access_token: string; refresh_token: string };
  return { access: body.access_token, refresh: body.refresh_token };
}

/** POST /api/v1/api-keys: with the current password where the route asks for it (contract v2), else by name alone. */
async function createKey(url: string, token: string, name: string): Promise<{ id: string; key: string }> {
  let res = await call(url, 'POST', '/api/v1/api-keys', { token, body: { name, current_password: 'password123' } });
  if (res.status === 400) res = await call(url, 'POST', '/api/v1/api-keys', { token, body: { name } });
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string };
}

async function adminToken(url: string): Promise<string> {
  return (await login(url, 'admin', 'admin-password')).access;
}

/** The close code and reason, and how long after `since` the close came. */
async function closedWithin(c: WsClient, since: number, timeoutMs = 3000): Promise<{ code: number; reason: string; ms: number }> {
  const code = await c.closed(timeoutMs);
  return { code, reason: c.closeReason, ms: Date.now() - since };
}

/** Whether a chat frame on the socket is published: a watcher on the channel sees it or not. */
async function chatReaches(sender: WsClient, watcher: WsClient, channel: string, text: string): Promise<boolean> {
  try {
    sender.send({ type: 'chat', channel, text });
  } catch {
    return false; // the socket is closed: nothing can be sent
  }
  try {
    await watcher.until((fs) => fs.some((f) => f.type === 'message' && f.text === text), 1500, `message ${text}`);
    return true;
  } catch {
    return false;
  }
}

describe('revocation closes open sockets (4001)', () => {
  let s: TestServer;
  let admin: string;
  let watcher: WsClient;
  const clients: WsClient[] = [];
  const open = async (query: string) => {
    const c = await WsClient.open(s.url, query);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    s = await startServer(LIMITS);
    admin = await adminToken(s.url);
    await createRooms(s.url, admin, ['lobby']);
    watcher = await open('');
    await watcher.subscribe('room:lobby');
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await (s as TestServer | undefined)?.app.stop(); // unset when beforeAll failed
  });

  it("logout closes that token's sockets within 1 s, and only those; the closed socket no longer chats", async () => {
    const u = await account(s.url, 'logout-user');
    const other = await login(s.url, 'logout-user');
    const a = await open(`token=${u.token}`);
    const b = await open(`token=${other.access}`);
    expect(await chatReaches(a, watcher, 'room:lobby', 'before logout')).toBe(true);
    const t0 = Date.now();
    expect((await call(s.url, 'POST', '/api/v1/auth/logout', { token: u.token, body: {} })).status).toBe(204);
    const closed = await closedWithin(a, t0);
    expect(closed).toMatchObject({ code: 4001, reason: 'revoked' });
    expect(closed.ms).toBeLessThan(1000);
    expect(await chatReaches(a, watcher, 'room:lobby', 'after logout')).toBe(false);
    // The same user's socket on another token goes on.
    expect(b.closeCode).toBeNull();
    expect(await chatReaches(b, watcher, 'room:lobby', 'other session')).toBe(true);
    expect(s.app.ws.counters.closedRevoked).toBeGreaterThanOrEqual(1);
  });

  it("a password change closes every socket of the user (tokens and API keys) but no one else's", async () => {
    const u = await account(s.url, 'pw-user');
    const bystander = await account(s.url, 'pw-bystander');
    const key = await createKey(s.url, u.token, 'k');
    const jwtSocket = await open(`token=${u.token}`);
    const keySocket = await open(`api_key=${key.key}`);
    const other = await open(`token=${bystander.token}`);
    const anonymous = await open('');
    const t0 = Date.now();
    const res = await call(s.url, 'POST', '/api/v1/users/me/password', {
      token: u.token,
      body: { current_password: 'password123', new_password: 'password456' },
    });
    expect(res.status).toBe(200);
    for (const c of [jwtSocket, keySocket]) {
      const closed = await closedWithin(c, t0);
      expect(closed).toMatchObject({ code: 4001, reason: 'revoked' });
      expect(closed.ms).toBeLessThan(1000);
    }
    await sleep(200);
    expect(other.closeCode).toBeNull();
    expect(anonymous.closeCode).toBeNull();
    // The new pair opens a socket that chats.
    const fresh = await open(`token=${(res.body as { access_token: string }).access_token}`);
    expect(await chatReaches(fresh, watcher, 'room:lobby', 'new password')).toBe(true);
  });

  it("an admin disabling a user closes the user's sockets", async () => {
    const u = await account(s.url, 'disable-me');
    const c = await open(`token=${u.token}`);
    const t0 = Date.now();
    expect((await call(s.url, 'PATCH', `/api/v1/admin/users/${u.id}`, { token: admin, body: { disabled: true } })).status).toBe(200);
    const closed = await closedWithin(c, t0);
    expect(closed).toMatchObject({ code: 4001, reason: 'revoked' });
    expect(closed.ms).toBeLessThan(1000);
    await expect(WsClient.open(s.url, `token=${u.token}`)).rejects.toMatchObject({ status: 401 });
  });

  it("a role change closes the user's sockets, so no stale admin badge: the reconnect carries the new role", async () => {
    const u = await account(s.url, 'promoted');
    expect((await call(s.url, 'PATCH', `/api/v1/admin/users/${u.id}`, { token: admin, body: { role: 'admin' } })).status).toBe(200);
    const asAdmin = await open(`token=${u.token}`);
    expect(await chatReaches(asAdmin, watcher, 'room:lobby', 'I am admin')).toBe(true);
    expect(watcher.frames.find((f) => f.text === 'I am admin')?.user).toMatchObject({
      badges: expect.arrayContaining(['admin']) as unknown,
    });
    const t0 = Date.now();
    expect((await call(s.url, 'PATCH', `/api/v1/admin/users/${u.id}`, { token: admin, body: { role: 'user' } })).status).toBe(200);
    const closed = await closedWithin(asAdmin, t0);
    expect(closed).toMatchObject({ code: 4001, reason: 'revoked' });
    expect(closed.ms).toBeLessThan(1000);
    const again = await open(`token=${u.token}`);
    expect(await chatReaches(again, watcher, 'room:lobby', 'demoted now')).toBe(true);
    expect(watcher.frames.find((f) => f.text === 'demoted now')?.user).toMatchObject({ badges: [] });
  });

  it('deleting the account closes its sockets', async () => {
    const u = await account(s.url, 'leaving');
    const c = await open(`token=${u.token}`);
    const t0 = Date.now();
    expect((await call(s.url, 'DELETE', '/api/v1/users/me', { token: u.token, body: { current_password: 'password123' } })).status).toBe(
      204,
    );
    const closed = await closedWithin(c, t0);
    expect(closed).toMatchObject({ code: 4001, reason: 'revoked' });
    expect(closed.ms).toBeLessThan(1000);
  });

  it("deleting an API key closes the sockets opened with it, not the owner's others", async () => {
    const u = await account(s.url, 'key-owner');
    const created = await createKey(s.url, u.token, 'bot');
    const bot = await open(`api_key=${created.key}`);
    const person = await open(`token=${u.token}`);
    const t0 = Date.now();
    expect((await call(s.url, 'DELETE', `/api/v1/api-keys/${created.id}`, { token: u.token })).status).toBe(204);
    const closed = await closedWithin(bot, t0);
    expect(closed).toMatchObject({ code: 4001, reason: 'revoked' });
    expect(closed.ms).toBeLessThan(1000);
    await sleep(200);
    expect(person.closeCode).toBeNull();
  });

  it("refuses an auth frame with another user's token or a bad one, and leaves the socket as it was", async () => {
    const u = await account(s.url, 'renew-owner');
    const intruder = await account(s.url, 'renew-intruder');
    const c = await open(`token=${u.token}`);
    c.send({ type: 'auth', token: intruder.token });
    expect(await c.nth('error', 0)).toMatchObject({ code: 'wrong_user' });
    c.send({ type: 'auth', token: 'not-a-jwt' });
    expect(await c.nth('error', 1)).toMatchObject({ code: 'unauthorized' });
    expect(await chatReaches(c, watcher, 'room:lobby', 'still me')).toBe(true);
    expect(watcher.frames.find((f) => f.text === 'still me')?.user).toMatchObject({ id: u.id });
    const anonymous = await open('');
    anonymous.send({ type: 'auth', token: u.token });
    expect(await anonymous.nth('error', 0)).toMatchObject({ code: 'not_a_token' });
  });
});

describe('token expiry closes the socket (4001 expired) unless renewed in place', { concurrent: true }, () => {
  let s: TestServer;

  beforeAll(async () => {
    // The shortest lifetime the configuration allows.
    s = await startServer({ ...LIMITS, ACCESS_TOKEN_TTL_S: '10' });
    await createRooms(s.url, await adminToken(s.url), ['renew']);
  });

  afterAll(async () => {
    await (s as TestServer | undefined)?.app.stop(); // unset when beforeAll failed
  });

  it("closes a socket at its token's expiry", async () => {
    const u = await account(s.url, 'expiring');
    const exp = JSON.parse(Buffer.from(u.token.split('.')[1] as string, 'base64url').toString()) as { exp: number };
    const c = await WsClient.open(s.url, `token=${u.token}`);
    const code = await c.closed(15_000);
    expect({ code, reason: c.closeReason }).toEqual({ code: 4001, reason: 'expired' });
    const late = Date.now() - exp.exp * 1000;
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
  });

  it('keeps a socket renewed with a fresh token before expiry open past the old expiry, chatting as the user', async () => {
    const u = await account(s.url, 'renewing');
    const watcher = await WsClient.open(s.url);
    await watcher.subscribe('room:renew');
    const c = await WsClient.open(s.url, `token=${u.token}`);
    const oldExp = (JSON.parse(Buffer.from(u.token.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp * 1000;
    await sleep(3000); // a later login: a token with a later expiry
    const fresh = await login(s.url, 'renewing');
    c.send({ type: 'auth', token: fresh.access });
    const authed = await c.nth('authed', 0);
    const newExp = (JSON.parse(Buffer.from(fresh.access.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp * 1000;
    expect(authed.expires_at).toBe(newExp);
    expect(newExp).toBeGreaterThan(oldExp);
    await sleep(Math.max(0, oldExp - Date.now()) + 1000);
    expect(c.closeCode).toBeNull();
    expect(await chatReaches(c, watcher, 'room:renew', 'renewed')).toBe(true);
    // The renewed token is now the one that counts: logging it out closes the socket.
    expect((await call(s.url, 'POST', '/api/v1/auth/logout', { token: fresh.access })).status).toBe(204);
    expect(await c.closed(3000)).toBe(4001);
    watcher.close();
  });
});

describe('per-address socket slots and readiness at the cap', () => {
  const refusal = async (p: Promise<WsClient>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UpgradeRefused);
    return err as UpgradeRefused;
  };

  it('refuses the N+1th socket of one forwarded client address with 429 and Retry-After; other addresses still connect', async () => {
    const s = await startServer({ ...LIMITS, TRUSTED_PROXIES: '127.0.0.1', WS_MAX_CONNECTIONS_PER_ADDRESS: '2' });
    const clients: WsClient[] = [];
    try {
      const from = (address: string) => WsClient.open(s.url, '', { 'x-forwarded-for': address });
      clients.push(await from('203.0.113.7'), await from('203.0.113.7'));
      const refused = await refusal(from('203.0.113.7'));
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'too_many_connections', message: expect.any(String) as unknown } });
      clients.push(await from('203.0.113.8'));
      // A closed socket gives its slot back.
      const first = clients.shift() as WsClient;
      first.close();
      await first.closed();
      clients.push(await from('203.0.113.7'));
      expect(s.app.ws.counters.refusedAddress).toBe(1);
    } finally {
      for (const c of clients) c.close();
      await s.app.stop();
    }
  });

  it('counts loopback peers only when WS_PER_ADDRESS_EXEMPT_LOOPBACK=false (by default they are exempt)', async () => {
    const exempt = await startServer({ ...LIMITS, WS_MAX_CONNECTIONS_PER_ADDRESS: '1' });
    const counted = await startServer({ ...LIMITS, WS_MAX_CONNECTIONS_PER_ADDRESS: '1', WS_PER_ADDRESS_EXEMPT_LOOPBACK: 'false' });
    const clients: WsClient[] = [];
    try {
      clients.push(await WsClient.open(exempt.url), await WsClient.open(exempt.url));
      clients.push(await WsClient.open(counted.url));
      expect((await refusal(WsClient.open(counted.url))).status).toBe(429);
    } finally {
      for (const c of clients) c.close();
      await exempt.app.stop();
      await counted.app.stop();
    }
  });

  it('stays ready at the process socket cap: upgrades get 503, REST and /ready go on', async () => {
    const s = await startServer({ ...LIMITS, WS_MAX_CONNECTIONS: '1' });
    try {
      const c = await WsClient.open(s.url);
      const refused = await refusal(WsClient.open(s.url));
      expect(refused.status).toBe(503);
      expect((await call(s.url, 'GET', '/ready')).status).toBe(200);
      expect((await call(s.url, 'GET', '/health')).status).toBe(200);
      c.close();
    } finally {
      await s.app.stop();
    }
  });
});

describe('a revocation the bus lost still reaches the socket', () => {
  it('re-checks open sockets every WS_REVALIDATE_S and closes one whose user was disabled behind its back (4001)', async () => {
    const redis = await startRedisServer();
    const s = await startServer({ ...LIMITS, REDIS_URL: redis.url, WS_REVALIDATE_S: '1' });
    const raw = new Redis(redis.url);
    try {
      const u = await account(s.url, 'missed-event');
      const other = await account(s.url, 'bystander');
      const victim = await WsClient.open(s.url, `token=${u.token}`);
      const bystander = await WsClient.open(s.url, `token=${other.token}`);
      // The change lands in the shared store with no event on the bus (as when another host wrote it
      // while this one's subscriber was reconnecting): only the sweep can notice it.
      const key = `${userKeys().idPrefix}${u.id}`;
      const record = JSON.parse((await raw.get(key)) as string) as Record<string, unknown>;
      await raw.set(key, JSON.stringify({ ...record, disabled: true }));
      // Users are cached per process for 5 s; the sweep runs every second after that.
      const code = await victim.closed(15_000);
      expect(code).toBe(4001);
      expect(victim.closeReason).toBe('revoked');
      expect(bystander.closeCode).toBeNull();
      bystander.close();
    } finally {
      raw.disconnect();
      await s.app.stop();
      await redis.stop();
    }
  });
});
