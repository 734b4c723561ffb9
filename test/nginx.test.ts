// nginx in front of two ChatPulse processes (deploy/nginx/nginx.conf, rendered with local upstreams): the
// config passes `nginx -t`; requests alternate between the gateways; while one is killed with -9 and
// started again on its port, a stream of sentiment requests through nginx keeps succeeding (POSTs to
// /api/v1/sentiment are retried on the other gateway: classification changes nothing, so the conf allows
// `non_idempotent` there), and the restarted gateway takes traffic again once nginx's fail_timeout passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ROBERTA } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { nginxTest, renderNginx, startNginx, type NginxProcess } from './nginx-server.js';
import { WsClient } from './ws-client.js';
import { rmSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const portOf = (url: string) => new URL(url).port;

describe('deploy/nginx/nginx.conf', () => {
  it('passes `nginx -t` with the upstreams substituted', () => {
    const { dir, conf } = renderNginx(18080, ['127.0.0.1:18081', '127.0.0.1:18082']);
    try {
      const r = nginxTest(dir, conf);
      expect(r.output).toMatch(/test is successful/);
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused by `nginx -t` when broken (the check is real)', () => {
    const { dir, conf } = renderNginx(18080, ['127.0.0.1:18081 bogus_param=1']);
    try {
      expect(nginxTest(dir, conf).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nginx in front of two gateways', () => {
  let redis: RedisServer;
  let a: ServerProcess;
  let b: ServerProcess;
  let nginx: NginxProcess;
  let token: string;
  const env = (redisUrl: string, port = '0') => ({
    INFERENCE_THREADS: '1',
    MODEL_DIR: ROBERTA,
    REDIS_URL: redisUrl,
    JWT_SECRET: 'nginx-secret-nginx-secret-nginx-secret-0123456789',
    PORT: port,
    // The failover test sends thousands of requests a minute from one account.
    API_RATE_PER_MIN: '1000000',
  });
  const instanceOf = async (url: string) => (await call(url, 'GET', '/health')).headers.get('x-instance') ?? '';

  beforeAll(async () => {
    redis = await startRedisServer();
    [a, b] = await Promise.all([spawnServer(env(redis.url)), spawnServer(env(redis.url))]);
    nginx = await startNginx([`127.0.0.1:${portOf(a.url)}`, `127.0.0.1:${portOf(b.url)}`]);
    await call(nginx.url, 'POST', '/api/v1/auth/register', { body: { username: 'viewer', password: 'password123' } });
    const login = await call(nginx.url, 'POST', '/api/v1/auth/login', { body: { username: 'viewer', password: 'password123' } });
    token = (login.body as { access_token: string }).access_token;
  }, 90_000);

  afterAll(async () => {
    await (nginx as NginxProcess | undefined)?.stop();
    for (const p of [a as ServerProcess | undefined, b as ServerProcess | undefined]) p?.child.kill('SIGKILL');
    await (redis as RedisServer | undefined)?.stop();
  });

  const classify = async (text: string) => {
    const res = await call(nginx.url, 'POST', '/api/v1/sentiment', { token, body: { text } });
    return { status: res.status, by: (res.body as { predicted_by?: string }).predicted_by ?? '', header: res.headers.get('x-instance') };
  };

  it('answers /nginx-health itself and passes WebSocket upgrades through', async () => {
    const health = await fetch(`${nginx.url}/nginx-health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-instance')).toBeNull();
    const ws = await WsClient.open(nginx.url, `token=${token}`);
    ws.close();
  });

  it('alternates requests between the gateways (predicted_by names both)', async () => {
    const ids = new Set([await instanceOf(a.url), await instanceOf(b.url)]);
    expect(ids.size).toBe(2);
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await classify(`message ${i}`);
      expect(r.status).toBe(200);
      expect(r.by).toBe(r.header);
      seen.push(r.by);
    }
    expect(new Set(seen)).toEqual(ids);
    for (const id of ids) expect(seen.filter((s) => s === id).length).toBeGreaterThanOrEqual(4);
  });

  it('keeps answering while one gateway is killed with -9, and sends it traffic again once restarted', async () => {
    const idA = await instanceOf(a.url);
    const idB = await instanceOf(b.url);
    const portB = portOf(b.url);
    let sent = 0;
    let failed = 0;
    const failures: string[] = [];
    const byInstance = new Map<string, number>();
    let running = true;
    let restartedId = '';
    let firstRestartedAt = 0;
    // Four clients, each sending one request after another: POST /api/v1/sentiment and GET /api/v1/model.
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        sent++;
        try {
          const res =
            i % 2 === 0
              ? await call(nginx.url, 'POST', '/api/v1/sentiment', { token, body: { text: `client ${n} line ${i}` } })
              : await call(nginx.url, 'GET', '/api/v1/model', { token });
          const by = res.headers.get('x-instance') ?? '?';
          byInstance.set(by, (byInstance.get(by) ?? 0) + 1);
          if (res.status !== 200) {
            failed++;
            failures.push(`${i % 2 === 0 ? 'POST' : 'GET'} ${res.status}`);
          }
          if (restartedId !== '' && by === restartedId && firstRestartedAt === 0) firstRestartedAt = Date.now();
        } catch (err) {
          failed++;
          failures.push(String(err));
        }
        await sleep(5); // about 4 x 150 requests a second
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    await sleep(500);
    b.child.kill('SIGKILL');
    const killedAt = Date.now();
    await sleep(1500);
    const restartAt = Date.now();
    let restartTries = 0;
    for (;;) {
      // A single process binds its port exclusively (no SO_REUSEADDR), so after a kill -9 the port stays
      // taken while the dead process's connections sit in TIME_WAIT (up to a minute): try again until it binds.
      restartTries++;
      try {
        b = await spawnServer(env(redis.url, portB));
        break;
      } catch (err) {
        if (Date.now() - restartAt > 90_000) throw err;
        await sleep(500);
      }
    }
    const listeningAt = Date.now();
    restartedId = await instanceOf(b.url);
    expect(restartedId).not.toBe(idB);
    const deadline = Date.now() + 20_000;
    while (firstRestartedAt === 0 && Date.now() < deadline) await sleep(20);
    await sleep(500);
    running = false;
    await Promise.all(clients);

    const figures = {
      sent,
      failed,
      failures: failures.slice(0, 5),
      served: Object.fromEntries(
        [...byInstance].map(([k, v]) => [k === idA ? 'a' : k === idB ? 'b (killed)' : k === restartedId ? 'b (restarted)' : k, v]),
      ),
      killed_to_restart_ms: restartAt - killedAt,
      restart_tries: restartTries,
      restart_to_listening_ms: listeningAt - restartAt,
      listening_to_first_traffic_ms: firstRestartedAt === 0 ? null : firstRestartedAt - listeningAt,
      kill_to_first_traffic_ms: firstRestartedAt === 0 ? null : firstRestartedAt - killedAt,
    };
    console.log(`nginx failover: ${JSON.stringify(figures)}`);
    expect(failed, failures.join('\n')).toBe(0);
    expect(firstRestartedAt).toBeGreaterThan(0);
    expect(byInstance.get(restartedId) ?? 0).toBeGreaterThan(0);
  }, 150_000);
});
