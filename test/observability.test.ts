// Metrics, request ids and the request log on a real server; and that no credential ever reaches the log.
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatPulse, type ChatPulse } from '../src/app/index.js';
import { loadConfig } from '../src/config.js';
import { call, ROBERTA } from './helpers.js';
import { WsClient } from './ws-client.js';

describe('observability', () => {
  let app: ChatPulse;
  let url: string;
  const lines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        cb();
      },
    });
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_DIR: ROBERTA,
      INFERENCE_THREADS: '1',
      JWT_SECRET: 'observability-secret-observability-secret-0123',
      ADMIN_USERNAME: 'admin',
      ADMIN_PASSWORD: 'admin-password',
    });
    app = await startChatPulse(config, pino({ level: 'info' }, sink));
    url = `http://127.0.0.1:${app.port}`;
  });

  afterAll(async () => {
    await (app as ChatPulse | undefined)?.stop(); // unset when beforeAll failed
  });

  it('echoes a client request id, makes one otherwise, and logs one line per request', async () => {
    const given = await call(url, 'GET', '/api/v1/model', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc.123');
    const made = await call(url, 'GET', '/api/v1/model');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9A-Z]{26}$/);
    const odd = await call(url, 'GET', '/api/v1/model', { headers: { 'x-request-id': 'has spaces and {json}' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9A-Z]{26}$/);
    const entry = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.msg === 'request' && e.req_id === 'trace-abc.123');
    expect(entry).toMatchObject({ method: 'GET', route: '/api/v1/model', path: '/api/v1/model', status: 401 });
    expect(typeof entry?.ms).toBe('number');
  });

  it('logs every request but the probes: unknown routes, the dashboard and the docs too, with bounded labels', async () => {
    const logged = (id: string) =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.msg === 'request' && e.req_id === id);
    // node:http, not fetch: fetch refuses methods like TRACE.
    const seen = async (method: string, path: string, id: string) => {
      const echoed = await new Promise<string | string[] | undefined>((resolve, reject) => {
        const req = request(url + path, { method, headers: { 'x-request-id': id } }, (res) => {
          res.resume().on('end', () => resolve(res.headers['x-request-id']));
        });
        req.on('error', reject).end();
      });
      expect(echoed).toBe(id);
      await new Promise((r) => setTimeout(r, 20));
      return logged(id);
    };
    expect(await seen('GET', '/no/such/route', 'probe-404')).toMatchObject({ route: 'unmatched', status: 404, method: 'GET' });
    expect(await seen('TRACE', '/api/v1/model', 'odd-method')).toMatchObject({ route: 'unmatched', status: 405, method: 'OTHER' });
    expect(await seen('GET', '/', 'dashboard-page')).toMatchObject({ route: '/', status: 200 });
    expect(await seen('GET', '/openapi.json', 'the-document')).toMatchObject({ route: '/openapi.json', status: 200 });
    const probe = await fetch(`${url}/health`, { headers: { 'x-request-id': 'probe-health' } });
    await probe.text();
    expect(logged('probe-health')).toBeUndefined();
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/chatpulse_http_requests_total\{method="OTHER",route="unmatched",status="405",slot="0"\} 1/);
    expect(text).toMatch(/chatpulse_http_requests_total\{method="GET",route="\/health",status="200",slot="0"\} [1-9]/);
    expect(text).not.toContain('TRACE');
  });

  it('documents /metrics with the media type it answers with', async () => {
    const doc = (await call(url, 'GET', '/openapi.json')).body as {
      paths: Record<string, { get: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
    };
    const res = await fetch(`${url}/metrics`);
    await res.text();
    expect(Object.keys(doc.paths['/metrics']?.get.responses['200']?.content ?? {})).toEqual([res.headers.get('content-type')]);
  });

  it('never logs passwords, tokens or API keys', async () => {
    const password = 'SuperSecretPassw0rd!';
    await call(url, 'POST', '/api/v1/auth/register', { body: { username: 'carol', password } });
    await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'carol', password: 'wrong-password-attempt' } });
    const pair = (await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'carol', password } })).body as {
      access_token: string;
      refresh_token: string;
    };
    const key = (
      (await call(url, 'POST', '/api/v1/api-keys', { token: pair.access_token, body: { name: 'bot', current_password: password } }))
        .body as { key: string }
    ).key;
    await call(url, 'POST', '/api/v1/sentiment', { apiKey: key, body: { text: 'what a game' } });
    await call(url, 'POST', '/api/v1/sentiment', { apiKey: `${key}x`, body: { text: 'bad key' } });
    await call(url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: pair.refresh_token } });
    const ws = await WsClient.open(url, `token=${pair.access_token}`);
    ws.close();
    await call(url, 'POST', '/api/v1/users/me/password', {
      token: pair.access_token,
      body: { current_password: password, new_password: 'AnotherSecret99' },
    });
    await new Promise((r) => setTimeout(r, 100));
    const all = lines.join('\n');
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThan(5);
    for (const secret of [
      password,
      'wrong-password-attempt',
      'AnotherSecret99',
      pair.access_token,
      pair.refresh_token,
      key,
      key.slice(8),
    ]) {
      expect(all).not.toContain(secret);
    }
  });

  it('exposes Prometheus metrics for HTTP, WebSockets, the engine, the store and ingestion', async () => {
    const admin = (await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body as {
      access_token: string;
    };
    await call(url, 'POST', '/api/v1/sentiment/batch', { token: admin.access_token, body: { texts: ['one', 'two', 'three'] } });
    expect((await call(url, 'POST', '/api/v1/rooms', { token: admin.access_token, body: { id: 'metrics' } })).status).toBe(201);
    const ws = await WsClient.open(url, `token=${admin.access_token}`);
    await ws.subscribe('room:metrics');
    ws.send({ type: 'chat', channel: 'room:metrics', text: 'hello metrics' });
    await ws.until((f) => f.some((x) => x.type === 'message'));
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/chatpulse_http_requests_total\{method="POST",route="\/api\/v1\/sentiment\/batch",status="200",slot="0"\} 1/);
    expect(text).toMatch(/chatpulse_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/sentiment\/batch"[^}]*\} 1/);
    expect(text).toMatch(/chatpulse_ws_connections\{slot="0"\} 1/);
    expect(text).toMatch(/chatpulse_ws_subscriptions\{slot="0"\} 1/);
    expect(text).toMatch(/chatpulse_ws_frames_out_total\{type="message",slot="0"\} [1-9]/);
    expect(text).toMatch(/chatpulse_engine_batch_size_count\{slot="0"\} [1-9]/);
    expect(text).toMatch(/chatpulse_engine_inference_seconds_count\{slot="0"\} [1-9]/);
    expect(text).toMatch(/chatpulse_engine_queue_depth\{slot="0"\} 0/);
    expect(text).toMatch(/chatpulse_store_spool_batches\{slot="0"\} 0/);
    expect(text).toMatch(/chatpulse_store_dead_lettered_total\{slot="0"\} 0/);
    expect(text).toMatch(/chatpulse_ingest_streams\{status="live",slot="0"\} 0/);
    expect(text).toMatch(/chatpulse_ws_drops_total\{reason="closed_abuse",slot="0"\} 0/);
    expect(text).toContain('chatpulse_process_resident_memory_bytes');
    ws.close();
  });
});
