// A real ChatPulse server on an ephemeral port, driven over HTTP: the Auth, Sentiment and Ops contract.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelInfo } from '../src/sentiment/model.js';
import { ModelRuntime } from '../src/sentiment/runtime.js';
import { normalizeText } from '../src/sentiment/engine.js';
import { call, ROBERTA, startServer, type TestServer } from './helpers.js';

interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}
interface Sentiment {
  label: string;
  score: number;
  scores: Record<string, number>;
  model: string;
  predicted_by?: string;
}
interface ErrorBody {
  error: { code: string; message: string };
}

const code = (body: unknown) => (body as ErrorBody).error.code;

async function signUp(url: string, username: string, password = 'password123'): Promise<Tokens> {
  const reg = await call(url, 'POST', '/api/v1/auth/register', { body: { username, password } });
  expect(reg.status).toBe(201);
  const login = await call(url, 'POST', '/api/v1/auth/login', { body: { username, password } });
  expect(login.status).toBe(200);
  return login.body as Tokens;
}

/** Sends bytes on a raw socket and returns whatever the server answers before closing or 1 s passes. */
function raw(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    const done = () => resolve(data);
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(() => socket.destroy(), 1000);
  });
}

describe('gateway', () => {
  let s: TestServer;
  let user: Tokens;

  beforeAll(async () => {
    s = await startServer();
    user = await signUp(s.url, 'viewer1');
  });
  afterAll(async () => s.app.stop());

  describe('ops', () => {
    it('answers /health and /ready with the contract bodies and X-Instance on every response', async () => {
      const health = await call(s.url, 'GET', '/health');
      expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(health.headers.get('x-instance')).toMatch(new RegExp(`^.+:${process.pid}$`));
      expect((await call(s.url, 'GET', '/ready')).status).toBe(200);
      const missing = await call(s.url, 'GET', '/nope');
      expect(missing.status).toBe(404);
      expect(code(missing.body)).toBe('not_found');
      expect(missing.headers.get('x-instance')).toBeTruthy();
      const wrongMethod = await call(s.url, 'DELETE', '/api/v1/sentiment');
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');
    });
  });

  describe('auth', () => {
    it('registers, refuses duplicates (case-insensitive) and invalid input', async () => {
      const reg = await call(s.url, 'POST', '/api/v1/auth/register', { body: { username: 'Streamer_9', password: 'longenough' } });
      expect(reg.status).toBe(201);
      expect(reg.body).toMatchObject({ username: 'Streamer_9', role: 'user' });
      expect(typeof (reg.body as { id: string }).id).toBe('string');
      expect(JSON.stringify(reg.body)).not.toContain('longenough');
      const dup = await call(s.url, 'POST', '/api/v1/auth/register', { body: { username: 'streamer_9', password: 'longenough' } });
      expect(dup.status).toBe(409);
      for (const body of [
        { username: 'ab', password: 'longenough' },
        { username: 'ok_name', password: 'short' },
        { username: 'x y z', password: 'longenough' },
        { username: 'okname' },
        { username: 5, password: 'longenough' },
      ]) {
        const bad = await call(s.url, 'POST', '/api/v1/auth/register', { body });
        expect(bad.status).toBe(400);
        expect(code(bad.body)).toBe('validation_failed');
      }
    });

    it('logs in with a pinned-algorithm bearer pair and refuses bad passwords', async () => {
      expect(user.token_type).toBe('bearer');
      expect(user.expires_in).toBe(900);
      const header = JSON.parse(Buffer.from(user.access_token.split('.')[0]!, 'base64url').toString()) as { alg: string };
      expect(header.alg).toBe('HS256');
      const bad = await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'viewer1', password: 'wrong-password' } });
      expect(bad.status).toBe(401);
      expect(code(bad.body)).toBe('unauthorized');
      const unknown = await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'nobody', password: 'whatever1' } });
      expect(unknown.status).toBe(401);
    });

    it('requires credentials on protected routes', async () => {
      expect((await call(s.url, 'GET', '/api/v1/auth/me')).status).toBe(401);
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { token: 'not.a.jwt' })).status).toBe(401);
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { apiKey: 'cp_nope' })).status).toBe(401);
      expect((await call(s.url, 'POST', '/api/v1/sentiment', { body: { text: 'hi' } })).status).toBe(401);
      // A refresh token is not an access token.
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { token: user.refresh_token })).status).toBe(401);
      const me = await call(s.url, 'GET', '/api/v1/auth/me', { token: user.access_token });
      expect(me).toMatchObject({ status: 200, body: { username: 'viewer1', role: 'user' } });
    });

    it('rotates refresh tokens: the old one fails after use', async () => {
      const tokens = await signUp(s.url, 'rotator');
      const next = await call(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
      expect(next.status).toBe(200);
      const pair = next.body as Tokens;
      expect(pair.access_token).not.toBe(tokens.access_token);
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { token: pair.access_token })).status).toBe(200);
      const reuse = await call(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
      expect(reuse.status).toBe(401);
    });

    it('logout revokes the presented token', async () => {
      const tokens = await signUp(s.url, 'leaver');
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { token: tokens.access_token })).status).toBe(200);
      const out = await call(s.url, 'POST', '/api/v1/auth/logout', {
        token: tokens.access_token,
        body: { refresh_token: tokens.refresh_token },
      });
      expect(out.status).toBe(204);
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { token: tokens.access_token })).status).toBe(401);
      expect((await call(s.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).status).toBe(401);
    });

    it('creates API keys shown once, stores them hashed, authenticates with X-API-Key and deletes them', async () => {
      const created = await call(s.url, 'POST', '/api/v1/api-keys', {
        token: user.access_token,
        body: { name: 'overlay', current_password: 'password123' },
      });
      expect(created.status).toBe(201);
      const key = created.body as { id: string; name: string; key: string };
      expect(key.name).toBe('overlay');
      expect(key.key).toMatch(/^cp_/);
      const list = await call(s.url, 'GET', '/api/v1/api-keys', { token: user.access_token });
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).not.toContain(key.key);
      expect((list.body as { items: Array<{ id: string }> }).items.map((k) => k.id)).toContain(key.id);
      const viaKey = await call(s.url, 'POST', '/api/v1/sentiment', { apiKey: key.key, body: { text: 'gg wp' } });
      expect(viaKey.status).toBe(200);
      const other = await signUp(s.url, 'intruder');
      expect((await call(s.url, 'DELETE', `/api/v1/api-keys/${key.id}`, { token: other.access_token })).status).toBe(404);
      expect((await call(s.url, 'DELETE', `/api/v1/api-keys/${key.id}`, { token: user.access_token })).status).toBe(204);
      expect((await call(s.url, 'POST', '/api/v1/sentiment', { apiKey: key.key, body: { text: 'gg wp' } })).status).toBe(401);
    });

    it('bootstraps the admin from ADMIN_USERNAME/ADMIN_PASSWORD and enforces roles (403)', async () => {
      const admin = await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } });
      expect(admin.status).toBe(200);
      const token = (admin.body as Tokens).access_token;
      expect((await call(s.url, 'GET', '/api/v1/auth/me', { token })).body).toMatchObject({ role: 'admin' });
      expect((await call(s.url, 'GET', '/api/v1/admin/stats', { token })).status).toBe(200);
      const denied = await call(s.url, 'GET', '/api/v1/admin/stats', { token: user.access_token });
      expect(denied.status).toBe(403);
      expect(code(denied.body)).toBe('forbidden');
    });
  });

  describe('sentiment', () => {
    let runtime: ModelRuntime;
    beforeAll(async () => {
      runtime = await ModelRuntime.load(readModelInfo(ROBERTA, 128), { intraOpNumThreads: 1 });
    });
    afterAll(async () => runtime.close());

    async function expected(text: string): Promise<number[]> {
      return Array.from(await runtime.classify([normalizeText(text)]));
    }

    it('classifies one text per the contract', async () => {
      const res = await call(s.url, 'POST', '/api/v1/sentiment', {
        token: user.access_token,
        body: { text: 'this stream is great PogChamp' },
      });
      expect(res.status).toBe(200);
      const body = res.body as Sentiment;
      expect(Object.keys(body.scores)).toEqual(['negative', 'neutral', 'positive']);
      const probs = Object.values(body.scores);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(body.score).toBe(Math.max(...probs));
      expect(body.label).toBe(Object.entries(body.scores).find(([, p]) => p === body.score)![0]);
      expect(body.model).toBe('tiny-random-roberta-3class');
      expect(body.predicted_by).toBe(res.headers.get('x-instance'));
      const exp = await expected('this stream is great PogChamp');
      probs.forEach((p, i) => expect(p).toBeCloseTo(exp[i]!, 5));
    });

    it('classifies a batch in order', async () => {
      const texts = [
        'first',
        'second message LUL',
        'first',
        '🔥🔥🔥',
        'a much longer chat line with many more words in it than the others',
      ];
      const res = await call(s.url, 'POST', '/api/v1/sentiment/batch', { token: user.access_token, body: { texts } });
      expect(res.status).toBe(200);
      const body = res.body as { results: Sentiment[]; model: string; count: number; predicted_by: string };
      expect(body.count).toBe(5);
      expect(body.predicted_by).toBe(res.headers.get('x-instance'));
      expect(body.model).toBe('tiny-random-roberta-3class');
      for (const [i, text] of texts.entries()) {
        const exp = await expected(text);
        Object.values(body.results[i]!.scores).forEach((p, k) => expect(p).toBeCloseTo(exp[k]!, 5));
      }
    });

    it('describes the model', async () => {
      const res = await call(s.url, 'GET', '/api/v1/model', { token: user.access_token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        name: 'tiny-random-roberta-3class',
        labels: ['negative', 'neutral', 'positive'],
        max_length: 128,
        quantized: false,
      });
    });

    it('refuses bad input with 400 and oversize input with 413', async () => {
      const t = user.access_token;
      const cases: Array<[unknown, number, string]> = [
        [{ text: '' }, 400, 'validation_failed'],
        [{ text: '   \n ' }, 400, 'validation_failed'],
        [{ text: 42 }, 400, 'validation_failed'],
        [{}, 400, 'validation_failed'],
        [['text'], 400, 'validation_failed'],
        [{ text: 'ok', extra: 1 }, 400, 'validation_failed'],
        [{ text: 'x'.repeat(2001) }, 413, 'payload_too_large'],
      ];
      for (const [body, status, errorCode] of cases) {
        const res = await call(s.url, 'POST', '/api/v1/sentiment', { token: t, body });
        expect([JSON.stringify(body).slice(0, 40), res.status]).toEqual([JSON.stringify(body).slice(0, 40), status]);
        expect(code(res.body)).toBe(errorCode);
      }
      expect((await call(s.url, 'POST', '/api/v1/sentiment', { token: t, body: { text: 'x'.repeat(2000) } })).status).toBe(200);
      const badJson = await call(s.url, 'POST', '/api/v1/sentiment', { token: t, raw: '{"text": "unterminated' });
      expect(badJson.status).toBe(400);
      expect(code(badJson.body)).toBe('invalid_json');
      const batchCases: Array<[unknown, number]> = [
        [{ texts: [] }, 400],
        [{ texts: ['ok', ''] }, 400],
        [{ texts: 'ok' }, 400],
        [{ texts: Array.from({ length: 257 }, (_, i) => `t${i}`) }, 413],
        [{ texts: ['ok', 'y'.repeat(2001)] }, 413],
      ];
      for (const [body, status] of batchCases) {
        expect((await call(s.url, 'POST', '/api/v1/sentiment/batch', { token: t, body })).status).toBe(status);
      }
      const ok256 = await call(s.url, 'POST', '/api/v1/sentiment/batch', {
        token: t,
        body: { texts: Array.from({ length: 256 }, (_, i) => `t${i}`) },
      });
      expect(ok256.status).toBe(200);
    });

    it('answers 1,000 concurrent requests, each with its own correct result', async () => {
      const texts = Array.from({ length: 1000 }, (_, i) => `concurrent message ${i} ${'LUL '.repeat(i % 7)}${i % 3 === 0 ? '😂' : ''}`);
      const responses = await Promise.all(
        texts.map((text) => call(s.url, 'POST', '/api/v1/sentiment', { token: user.access_token, body: { text } })),
      );
      expect(responses.filter((r) => r.status !== 200)).toEqual([]);
      const reference = await runtime.classify(texts.map(normalizeText));
      responses.forEach((r, i) => {
        const got = Object.values((r.body as Sentiment).scores);
        got.forEach((p, k) => expect(Math.abs(p - reference[i * 3 + k]!)).toBeLessThan(1e-5));
      });
      expect(s.app.engine.stats().batches).toBeLessThan(1000); // they were batched, not run one by one
    });
  });

  describe('robustness', () => {
    it('stays up after malformed HTTP, oversize bodies and garbage', async () => {
      const port = s.app.port;
      await raw(port, 'GARBAGE\r\n\r\n');
      await raw(port, `GET /health HTTP/1.1\r\nHost: x\r\n${'X-Long: ' + 'a'.repeat(20000)}\r\n\r\n`);
      await raw(port, 'POST /api/v1/sentiment HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{"te');
      const huge = await raw(port, `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{}`);
      expect(huge).toMatch(/^HTTP\/1\.1 413/);
      const streamed = await call(s.url, 'POST', '/api/v1/auth/register', {
        raw: JSON.stringify({ username: 'u'.repeat(600_000), password: 'x' }).repeat(4),
      });
      expect(streamed.status).toBe(413);
      const nonObject = await call(s.url, 'POST', '/api/v1/auth/login', { raw: 'null' });
      expect(nonObject.status).toBe(400);
      expect((await call(s.url, 'GET', '/health')).status).toBe(200);
    });
  });
});

describe('limits', () => {
  it('rate limits a principal with 429 and Retry-After', async () => {
    const s = await startServer({ API_RATE_PER_MIN: '3' });
    try {
      const tokens = await signUp(s.url, 'chatty');
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await call(s.url, 'POST', '/api/v1/sentiment', { token: tokens.access_token, body: { text: `msg ${i}` } });
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers.get('retry-after');
          expect(code(res.body)).toBe('rate_limited');
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      // Another principal has its own budget.
      const other = await signUp(s.url, 'quiet');
      expect((await call(s.url, 'POST', '/api/v1/sentiment', { token: other.access_token, body: { text: 'hi' } })).status).toBe(200);
    } finally {
      await s.app.stop();
    }
  });

  it('rate limits login attempts per client IP', async () => {
    const s = await startServer({ AUTH_RATE_PER_MIN: '2' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push(
          (await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'wrong-password' } })).status,
        );
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await s.app.stop();
    }
  });

  it('sheds load past the engine queue bound with 503 overloaded and Retry-After', async () => {
    const s = await startServer({ QUEUE_MAX: '100', CACHE_SIZE: '0' });
    try {
      const tokens = await signUp(s.url, 'flooder');
      const texts = Array.from({ length: 150 }, (_, i) => `unique flood ${i}`);
      const res = await call(s.url, 'POST', '/api/v1/sentiment/batch', { token: tokens.access_token, body: { texts } });
      expect(res.status).toBe(503);
      expect(code(res.body)).toBe('overloaded');
      expect(res.headers.get('retry-after')).toBe('1');
      const fits = await call(s.url, 'POST', '/api/v1/sentiment/batch', {
        token: tokens.access_token,
        body: { texts: texts.slice(0, 100) },
      });
      expect(fits.status).toBe(200);
    } finally {
      await s.app.stop();
    }
  });

  it('answers CORS only for configured origins', async () => {
    const s = await startServer({ CORS_ORIGINS: 'https://overlay.example' });
    try {
      const allowed = await call(s.url, 'OPTIONS', '/api/v1/sentiment', {
        headers: { origin: 'https://overlay.example', 'access-control-request-method': 'POST' },
      });
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://overlay.example');
      expect(allowed.headers.get('access-control-allow-headers')).toContain('X-API-Key');
      const denied = await call(s.url, 'OPTIONS', '/api/v1/sentiment', { headers: { origin: 'https://evil.example' } });
      expect(denied.headers.get('access-control-allow-origin')).toBeNull();
      const health = await call(s.url, 'GET', '/health', { headers: { origin: 'https://overlay.example' } });
      expect(health.headers.get('access-control-allow-origin')).toBe('https://overlay.example');
    } finally {
      await s.app.stop();
    }
  });

  it('drains: in-flight requests finish, then the port closes and readiness is gone', async () => {
    const s = await startServer({ CACHE_SIZE: '0' });
    const tokens = await signUp(s.url, 'drainer');
    const texts = Array.from({ length: 256 }, (_, i) => `drain ${i} ${'word '.repeat(i % 20)}`);
    const pending = call(s.url, 'POST', '/api/v1/sentiment/batch', { token: tokens.access_token, body: { texts } });
    await new Promise((r) => setTimeout(r, 20));
    const stopped = s.app.stop();
    const res = await pending;
    expect(res.status).toBe(200);
    expect((res.body as { count: number }).count).toBe(256);
    await stopped;
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
  });
});
