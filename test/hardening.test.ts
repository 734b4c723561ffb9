// Issue 14's reproductions that are the gateway's and the process model's: hostile paths, prototype names,
// and processes that must refuse a taken port and always exit on SIGTERM.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ROBERTA, ROOT, startServer, type TestServer } from './helpers.js';
import { exchange } from './raw-http.js';
import { spawnServer } from './spawn.js';
import { account, WsClient, type Account } from './ws-client.js';

describe('hostile requests', () => {
  let s: TestServer;
  let user: Account;
  beforeAll(async () => {
    s = await startServer();
    user = await account(s.url, 'hardener');
  });
  afterAll(() => s.app.stop());

  it('answers a malformed percent-escape in a path parameter with 400 and stays up', async () => {
    const paths = [
      '/api/v1/rooms/%',
      '/api/v1/rooms/%zz',
      '/api/v1/rooms/%E0%A4%A',
      '/api/v1/ingest/%ED%A0%80',
      '/api/v1/channels/%/messages',
      '/api/v1/reports/%',
      '/%',
    ];
    for (const path of paths) {
      for (const auth of ['', `Authorization: Bearer ${user.token}\r\n`]) {
        const res = await exchange(s.app.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`);
        expect([400, 401, 404], `${path} -> ${res.status} ${res.body.slice(0, 200)}`).toContain(res.status);
        expect(res.body).toMatch(/^\{"error":\{"code":"[a-z_]+","message"/);
        expect(res.headers['x-instance']).toBeDefined();
        if (path.startsWith('/api/v1/rooms/%')) expect(res.body).toContain('invalid_path');
      }
    }
    expect((await call(s.url, 'GET', '/health')).status).toBe(200);
  });

  it('refuses channel names that are Object.prototype members with 400, on REST and WebSocket', async () => {
    const names = ['constructor:x', '__proto__:x', 'toString:abc', 'hasOwnProperty:abc', 'valueOf:room'];
    for (const name of names) {
      const res = await call(s.url, 'GET', `/api/v1/channels/${encodeURIComponent(name)}/messages`, { token: user.token });
      expect(res.status, name).toBe(400);
      expect((res.body as { error: { code: string } }).error.code).toBe('invalid_channel');
    }
    const ws = await WsClient.open(s.url, `token=${user.token}`);
    for (const [i, name] of names.entries()) {
      ws.send({ type: 'subscribe', channel: name });
      ws.send({ type: 'chat', channel: name, text: 'hi' });
      ws.send({ type: 'like', channel: name });
      const errors = await ws.until((fs) => {
        const e = fs.filter((f) => f.type === 'error');
        return e.length >= (i + 1) * 3 ? e : undefined;
      });
      expect(errors.slice(i * 3).map((e) => e.code)).toEqual(['invalid_channel', 'invalid_channel', 'invalid_channel']);
    }
    ws.send({ type: 'ping' });
    await ws.until((fs) => fs.some((f) => f.type === 'pong'));
    ws.close();
  });

  it('treats __proto__ and constructor query parameters as plain unknown parameters', async () => {
    for (const q of ['__proto__=1', 'constructor=x', '__proto__[x]=1&limit=2', 'toString=1']) {
      const res = await call(s.url, 'GET', `/api/v1/channels/room:lobby/messages?${q}`, { token: user.token });
      expect([200, 400, 404], q).toContain(res.status);
    }
    expect((await call(s.url, 'GET', '/health')).status).toBe(200);
  });
});

describe('clients that leave mid-request', () => {
  it('a body abandoned half-way ends its request, so a later drain does not wait out its deadline', async () => {
    const s = await startServer({ DRAIN_TIMEOUT_MS: '120000' });
    const user = await account(s.url, 'leaver');
    const socket = connect(s.app.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /api/v1/sentiment/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: 100000\r\n\r\n{"texts":["half`,
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 300));
    // Before, the abandoned body's promise never settled: the request stayed in flight for ever and the
    // drain waited all of DRAIN_TIMEOUT_MS (here two minutes, far past this test's own limit).
    const outcome = await Promise.race([
      s.app.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('still draining'), 20_000)),
    ]);
    expect(outcome).toBe('stopped');
  });
});

describe('process model', () => {
  it('refuses to start a second single-process server on a port already in use', async () => {
    const first = await spawnServer({ MODEL_DIR: ROBERTA, INFERENCE_THREADS: '1' });
    const port = new URL(first.url).port;
    try {
      await expect(spawnServer({ MODEL_DIR: ROBERTA, INFERENCE_THREADS: '1', PORT: port })).rejects.toThrow(/exited with 1[\s\S]*in use/);
      // WORKERS>1: the primary checks the port before forking (the workers share it with SO_REUSEPORT).
      await expect(
        spawnServer({ MODEL_DIR: ROBERTA, WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:1', JWT_SECRET: 'x'.repeat(40), PORT: port }),
      ).rejects.toThrow(/exited with 1[\s\S]*in use/);
      // The first one still answers alone.
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
    } finally {
      first.child.kill('SIGTERM');
    }
  });

  it('a cluster primary whose workers crash-loop exits, and one told SIGTERM while restarting them exits too', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      WORKERS: '2',
      REDIS_URL: 'redis://127.0.0.1:1',
      JWT_SECRET: 'x'.repeat(40),
      MODEL_DIR: '/nonexistent-model',
    };
    const run = (signalAfterFirstDeath: boolean) =>
      new Promise<{ code: number | null; ms: number }>((resolve) => {
        const started = Date.now();
        const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env });
        let signalled = false;
        child.stdout.on('data', (d: Buffer) => {
          if (signalAfterFirstDeath && !signalled && d.toString().includes('worker died')) {
            signalled = true;
            child.kill('SIGTERM');
          }
        });
        const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
        child.on('exit', (code) => {
          clearTimeout(killer);
          resolve({ code, ms: Date.now() - started });
        });
      });
    const looping = await run(false);
    expect(looping.code).toBe(1); // gave up on the crash loop (a SIGKILL from the guard above would be null)
    const signalled = await run(true);
    expect(signalled.code).not.toBeNull(); // exited by itself, not killed by the test
  });
});
