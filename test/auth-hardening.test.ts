// Issue 14, "Bodies and auth": logout without a body, API keys retired by a password change, key creation and
// account deletion behind a bearer token plus the current password, refresh-token reuse retiring every token,
// the per-account login throttle (one process, and cluster-wide over a real Redis), scrypt parameters raised
// with old hashes upgraded at login, and auth bodies refused from Content-Length or while streaming.
import { randomBytes, scrypt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthService,
  hashPassword,
  MemoryApiKeyStore,
  MemoryRevocationStore,
  MemoryUserStore,
  TokenIssuer,
  verifyPassword,
} from '../src/auth/index.js';
import { DUMMY_PASSWORD_HASH, SCRYPT_PARAMS } from '../src/auth/passwords.js';
import { call, startServer, type JsonResponse, type TestServer } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

const PASSWORD = 'password123';

interface Pair {
  access_token: string;
  refresh_token: string;
}

async function signUp(url: string, username: string, password = PASSWORD): Promise<Pair> {
  expect((await call(url, 'POST', '/api/v1/auth/register', { body: { username, password } })).status).toBe(201);
  const login = await call(url, 'POST', '/api/v1/auth/login', { body: { username, password } });
  expect(login.status).toBe(200);
  return login.body as Pair;
}

const login = (url: string, username: string, password: string) =>
  call(url, 'POST', '/api/v1/auth/login', { body: { username, password } });
const me = (url: string, creds: { token?: string; apiKey?: string }) => call(url, 'GET', '/api/v1/auth/me', creds);
const code = (r: JsonResponse) => (r.body as { error?: { code?: string } } | null)?.error?.code;

describe('auth hardening over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    // A high per-address limit: every request here comes from 127.0.0.1, and the per-account throttle is under test.
    s = await startServer({ AUTH_RATE_PER_MIN: '10000', LOGIN_FAILURES_PER_ACCOUNT: '3' });
  });
  afterAll(async () => {
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (s as TestServer | undefined)?.app.stop();
  });

  it('logout with only the bearer token (no body, no content type) answers 204 and the token then fails', async () => {
    const pair = await signUp(s.url, 'bare_logout');
    expect((await me(s.url, { token: pair.access_token })).status).toBe(200);
    const res = await fetch(`${s.url}/api/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}` } });
    expect(res.status).toBe(204);
    expect((await me(s.url, { token: pair.access_token })).status).toBe(401);
  });

  it('a password change retires the API keys as well as the tokens', async () => {
    const pair = await signUp(s.url, 'key_owner');
    const created = await call(s.url, 'POST', '/api/v1/api-keys', {
      token: pair.access_token,
      body: { name: 'bot', current_password: PASSWORD },
    });
    expect(created.status).toBe(201);
    const key = (created.body as { key: string }).key;
    expect((await me(s.url, { apiKey: key })).status).toBe(200);
    const changed = await call(s.url, 'POST', '/api/v1/users/me/password', {
      token: pair.access_token,
      body: { current_password: PASSWORD, new_password: 'another-password' },
    });
    expect(changed.status).toBe(200);
    expect((await me(s.url, { apiKey: key })).status).toBe(401);
    expect((await call(s.url, 'GET', '/api/v1/api-keys', { token: (changed.body as Pair).access_token })).body).toEqual({ items: [] });
  });

  it('creating an API key needs a bearer token and the current password; a key alone cannot mint one', async () => {
    const pair = await signUp(s.url, 'minter');
    const create = (creds: { token?: string; apiKey?: string }, body: unknown) =>
      call(s.url, 'POST', '/api/v1/api-keys', { ...creds, body });
    const first = await create({ token: pair.access_token }, { name: 'one', current_password: PASSWORD });
    expect(first.status).toBe(201);
    const key = (first.body as { key: string }).key;

    const viaKey = await create({ apiKey: key }, { name: 'two', current_password: PASSWORD });
    expect([viaKey.status, code(viaKey)]).toEqual([403, 'jwt_required']);
    const wrong = await create({ token: pair.access_token }, { name: 'two', current_password: 'not-the-password' });
    expect([wrong.status, code(wrong)]).toEqual([403, 'wrong_password']);
    const missing = await create({ token: pair.access_token }, { name: 'two' });
    expect([missing.status, code(missing)]).toEqual([400, 'validation_failed']);
    // Only the first one exists.
    const list = (await call(s.url, 'GET', '/api/v1/api-keys', { token: pair.access_token })).body as { items: Array<{ name: string }> };
    expect(list.items.map((k) => k.name)).toEqual(['one']);
  });

  it('deleting the account needs a bearer token and the current password; a key alone cannot', async () => {
    const pair = await signUp(s.url, 'leaving');
    const key = (
      (await call(s.url, 'POST', '/api/v1/api-keys', { token: pair.access_token, body: { name: 'k', current_password: PASSWORD } }))
        .body as { key: string }
    ).key;
    const del = (creds: { token?: string; apiKey?: string }, body?: unknown) =>
      call(s.url, 'DELETE', '/api/v1/users/me', { ...creds, ...(body === undefined ? {} : { body }) });

    const viaKey = await del({ apiKey: key }, { current_password: PASSWORD });
    expect([viaKey.status, code(viaKey)]).toEqual([403, 'jwt_required']);
    const wrong = await del({ token: pair.access_token }, { current_password: 'not-the-password' });
    expect([wrong.status, code(wrong)]).toEqual([403, 'wrong_password']);
    const bare = await del({ token: pair.access_token });
    expect(bare.status).toBe(400);
    // Still there, key included.
    expect((await me(s.url, { apiKey: key })).status).toBe(200);

    expect((await del({ token: pair.access_token }, { current_password: PASSWORD })).status).toBe(204);
    expect((await me(s.url, { token: pair.access_token })).status).toBe(401);
    expect((await me(s.url, { apiKey: key })).status).toBe(401);
    expect((await login(s.url, 'leaving', PASSWORD)).status).toBe(401);
  });

  it('a reused refresh token retires every token of the user, other sessions included; a logged-out one does not', async () => {
    // A refresh token revoked by logout is refused, but it is no sign of theft: the other sessions live on.
    const gone = await signUp(s.url, 'logged_out');
    const kept = (await login(s.url, 'logged_out', PASSWORD)).body as Pair;
    expect(
      (await call(s.url, 'POST', '/api/v1/auth/logout', { token: gone.access_token, body: { refresh_token: gone.refresh_token } })).status,
    ).toBe(204);
    expect((await call(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: gone.refresh_token } })).status).toBe(401);
    expect((await me(s.url, { token: kept.access_token })).status).toBe(200);

    const first = await signUp(s.url, 'replayed');
    const other = (await login(s.url, 'replayed', PASSWORD)).body as Pair;
    const refresh = (token: string) => call(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: token } });
    const rotated = await refresh(first.refresh_token);
    expect(rotated.status).toBe(200);
    const thief = rotated.body as Pair;
    expect((await me(s.url, { token: thief.access_token })).status).toBe(200);

    // The spent token comes back: whoever holds the live family, it goes.
    expect((await refresh(first.refresh_token)).status).toBe(401);
    expect((await me(s.url, { token: thief.access_token })).status).toBe(401);
    expect((await refresh(thief.refresh_token)).status).toBe(401);
    expect((await me(s.url, { token: other.access_token })).status).toBe(401);
    expect((await refresh(other.refresh_token)).status).toBe(401);
    // The password still works: the user signs in again.
    expect((await login(s.url, 'replayed', PASSWORD)).status).toBe(200);
  });

  it('throttles a username after LOGIN_FAILURES_PER_ACCOUNT failures, known or not, with Retry-After; successes do not count', async () => {
    // Only failures count: a user's own typos between successful logins never add up to a lockout.
    await signUp(s.url, 'typist');
    for (let round = 0; round < 3; round++) {
      expect((await login(s.url, 'typist', 'typo-password')).status).toBe(401);
      expect((await login(s.url, 'typist', 'typo-password')).status).toBe(401);
      expect((await login(s.url, 'typist', PASSWORD)).status).toBe(200);
    }

    await signUp(s.url, 'target');
    const known: JsonResponse[] = [];
    const unknown: JsonResponse[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await login(s.url, 'target', 'wrong-password'));
      unknown.push(await login(s.url, 'no_such_user', 'wrong-password'));
    }
    expect(known.map((r) => r.status)).toEqual([401, 401, 401]);
    expect(unknown.map((r) => r.status)).toEqual([401, 401, 401]);
    // Even the right password is refused now, for the rest of the window.
    const locked = await login(s.url, 'TARGET', PASSWORD);
    const ghost = await login(s.url, 'no_such_user', PASSWORD);
    for (const r of [locked, ghost]) {
      expect(r.status).toBe(429);
      expect(code(r)).toBe('rate_limited');
      const retry = Number(r.headers.get('retry-after'));
      expect(retry).toBeGreaterThan(800);
      expect(retry).toBeLessThanOrEqual(900);
    }
    // Same answer for an account that exists and one that does not: nothing to enumerate.
    expect(locked.body).toEqual(ghost.body);
    // Other accounts are untouched.
    await signUp(s.url, 'bystander');
  });

  it('counts wrong current passwords too: a stolen session is no way around the throttle', async () => {
    const pair = await signUp(s.url, 'session_owner');
    for (let i = 0; i < 3; i++) {
      const r = await call(s.url, 'POST', '/api/v1/api-keys', {
        token: pair.access_token,
        body: { name: 'k', current_password: `guess-${i}-guess` },
      });
      expect(code(r)).toBe('wrong_password');
    }
    const r = await call(s.url, 'DELETE', '/api/v1/users/me', { token: pair.access_token, body: { current_password: PASSWORD } });
    expect(r.status).toBe(429);
    expect((await login(s.url, 'session_owner', PASSWORD)).status).toBe(429);
    expect((await me(s.url, { token: pair.access_token })).status).toBe(200);
  });
});

describe('per-account login throttle, cluster-wide', () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await startRedisServer();
    const env = {
      REDIS_URL: redis.url,
      JWT_SECRET: 'cluster-secret-cluster-secret-0123456789',
      AUTH_RATE_PER_MIN: '10000',
      LOGIN_FAILURES_PER_ACCOUNT: '4',
    };
    a = await startServer(env);
    b = await startServer(env);
  }, 60_000);
  afterAll(async () => {
    await (a as TestServer | undefined)?.app.stop();
    await (b as TestServer | undefined)?.app.stop();
    await (redis as RedisServer | undefined)?.stop();
  });

  it('adds up the failures of every process: one budget per username, not one per process', async () => {
    await signUp(a.url, 'shared_target');
    expect((await login(a.url, 'shared_target', 'wrong-password')).status).toBe(401);
    expect((await login(b.url, 'shared_target', 'wrong-password')).status).toBe(401);
    expect((await login(a.url, 'shared_target', 'wrong-password')).status).toBe(401);
    expect((await login(b.url, 'shared_target', 'wrong-password')).status).toBe(401);
    expect((await login(a.url, 'shared_target', PASSWORD)).status).toBe(429);
    expect((await login(b.url, 'shared_target', PASSWORD)).status).toBe(429);
  });
});

describe('scrypt parameters', () => {
  it('hashes new passwords, and the dummy hash unknown usernames are checked against, with N=2^14 r=8 p=5', async () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 16384, r: 8, p: 5 });
    expect(await hashPassword(PASSWORD)).toMatch(/^scrypt\$16384\$8\$5\$/);
    expect(DUMMY_PASSWORD_HASH).toMatch(/^scrypt\$16384\$8\$5\$/);
  });

  it('upgrades a hash made with the old parameters at the next successful login, and only then', async () => {
    const users = new MemoryUserStore();
    const revocations = new MemoryRevocationStore();
    const auth = new AuthService({
      users,
      apiKeys: new MemoryApiKeyStore(),
      revocations,
      tokens: new TokenIssuer({ secret: 'test-secret-that-is-at-least-32-bytes-long!!', accessTtlS: 60, refreshTtlS: 60 }),
    });
    try {
      // The format stored before this change: scrypt$16384$8$1$salt$digest.
      const salt = randomBytes(16);
      const digest = await new Promise<Buffer>((ok, fail) =>
        scrypt(PASSWORD, salt, 64, { N: 16384, r: 8, p: 1 }, (e, k) => (e ? fail(e) : ok(k))),
      );
      const old = `scrypt$16384$8$1$${salt.toString('base64')}$${digest.toString('base64')}`;
      await users.create({ id: 'U1', username: 'veteran', passwordHash: old, role: 'user', createdAt: Date.now(), disabled: false });

      await expect(auth.login('veteran', 'wrong-password')).rejects.toMatchObject({ status: 401 });
      expect((await users.findById('U1'))?.passwordHash).toBe(old);

      await auth.login('veteran', PASSWORD);
      const upgraded = (await users.findById('U1'))?.passwordHash ?? '';
      expect(upgraded).toMatch(/^scrypt\$16384\$8\$5\$/);
      expect(await verifyPassword(PASSWORD, upgraded)).toBe(true);
      await expect(auth.login('veteran', PASSWORD)).resolves.toMatchObject({ token_type: 'bearer' });
      // Already current: a further login leaves it alone.
      expect((await users.findById('U1'))?.passwordHash).toBe(upgraded);
    } finally {
      revocations.close();
    }
  });
});

/** Writes `head` on a raw socket; resolves with what the server answered once it answers (or closes). */
function rawRequest(port: number, head: string, onConnect?: (socket: Socket) => void): Promise<{ text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (/\r\n\r\n/.test(text)) resolve({ text, socket });
    });
    socket.on('close', () => resolve({ text, socket }));
    socket.on('connect', () => {
      socket.write(head);
      onConnect?.(socket);
    });
  });
}

describe('auth bodies', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await (s as TestServer | undefined)?.app.stop();
  });

  it('refuses a 1 MB login body from its Content-Length with 413 before reading it', async () => {
    // Only the headers are sent: an answer can only come from the declared length.
    const { text, socket } = await rawRequest(
      s.app.port,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n',
    );
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toContain('payload_too_large');
  });

  it('refuses a chunked login body with 413 while it streams, long before 1 MB', async () => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const { text, socket } = await rawRequest(
      s.app.port,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      (sock) => {
        const chunk = 'a'.repeat(4096);
        const push = () => {
          if (sock.destroyed || sent >= 1024 * 1024) return;
          sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
          sent += chunk.length;
          timer = setTimeout(push, 2);
        };
        push();
      },
    );
    clearTimeout(timer);
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(1024 * 1024);
  });

  it('bounds every string and array of every non-sentiment request body', async () => {
    type Json = { [k: string]: Json } | Json[] | string | number | boolean | null;
    const doc = (await call(s.url, 'GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Json }> } }>>;
      components: { schemas: Record<string, Json> };
    };
    const unbounded: string[] = [];
    const walk = (node: Json, where: string, seen: Set<string>): void => {
      if (Array.isArray(node)) {
        node.forEach((n, i) => walk(n, `${where}[${i}]`, seen));
        return;
      }
      if (node === null || typeof node !== 'object') return;
      const ref = node.$ref;
      if (typeof ref === 'string') {
        const name = ref.split('/').pop() as string;
        if (!seen.has(name)) walk(doc.components.schemas[name] ?? null, `${where}->${name}`, new Set([...seen, name]));
        return;
      }
      if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined && node.const === undefined)
        unbounded.push(`${where}: string without maxLength`);
      if (node.type === 'array' && node.maxItems === undefined) unbounded.push(`${where}: array without maxItems`);
      if (node.type === 'object' && node.additionalProperties !== false && node.maxProperties === undefined)
        unbounded.push(`${where}: open object`);
      for (const [k, v] of Object.entries(node)) if (k !== 'enum' && k !== 'examples' && k !== 'example') walk(v, `${where}.${k}`, seen);
    };
    let bodies = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (path.startsWith('/api/v1/sentiment')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const schema = op.requestBody?.content['application/json']?.schema;
        if (schema === undefined) continue;
        bodies++;
        walk(schema, `${method.toUpperCase()} ${path}`, new Set());
      }
    }
    expect(bodies).toBeGreaterThan(5);
    expect(unbounded).toEqual([]);
  });
});
