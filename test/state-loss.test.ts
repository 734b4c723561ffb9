// Redis restarted empty is not "Redis is back": the cluster epoch (src/redis/epoch.ts) tells the two apart.
// With the default policy the process leaves traffic and says why until an operator acknowledges the loss;
// with STATE_LOSS_POLICY=reseed it writes a new epoch itself and re-creates the configured admin. Real
// redis-server, real ChatPulse servers.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { EPOCH_KEY } from '../src/redis/epoch.js';
import { call, startServer, type TestServer } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { account } from './ws-client.js';

/** /ready once it answers `status` (and, when given, says `saying`), or its last answer at the deadline. */
async function readyWithin(url: string, status: number, saying?: string, timeoutMs = 10_000): Promise<{ status: number; body: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(url, 'GET', '/ready');
    const said = saying === undefined || JSON.stringify(r.body).includes(saying);
    if ((r.status === status && said) || Date.now() > deadline) return r;
    await sleep(100);
  }
}

const adminLogin = (url: string) => call(url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } });

let servers: TestServer[] = [];
let redis: RedisServer | undefined;
let raw: Redis | undefined;

afterEach(async () => {
  for (const s of servers) await s.app.stop();
  servers = [];
  raw?.disconnect();
  raw = undefined;
  await redis?.stop();
  redis = undefined;
});

async function cluster(n: number, env: Record<string, string> = {}): Promise<TestServer[]> {
  redis = await startRedisServer();
  raw = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  raw.on('error', () => undefined);
  for (let i = 0; i < n; i++) servers.push(await startServer({ REDIS_URL: redis.url, ...env }));
  return servers;
}

describe('shared state lost with Redis', () => {
  it('writes the epoch once: a second process adopts the first one', async () => {
    const [a] = await cluster(1);
    const first = await raw!.get(EPOCH_KEY);
    expect(first).toMatch(/^[0-9A-Z]{26}$/);
    servers.push(await startServer({ REDIS_URL: redis!.url }));
    expect(await raw!.get(EPOCH_KEY)).toBe(first);
    expect((await call(a!.url, 'GET', '/ready')).status).toBe(200);
  });

  it('hold (default): not ready, saying why, until an operator writes a new epoch; alive meanwhile', async () => {
    const [a, b] = await cluster(2);
    const before = await account(a!.url, 'before-outage');
    expect((await call(b!.url, 'GET', '/api/v1/auth/me', { token: before.token })).status).toBe(200);

    await redis!.restart(); // empty: no persistence
    for (const s of [a!, b!]) {
      // While Redis restarts the reason is "redis is unreachable"; once it answers, the loss.
      const r = await readyWithin(s.url, 503, 'shared state lost');
      expect(r.status).toBe(503);
      expect(JSON.stringify(r.body)).toContain('shared state lost');
      expect(JSON.stringify(r.body)).toContain(EPOCH_KEY);
      expect((await call(s.url, 'GET', '/health')).status).toBe(200);
    }
    // It stays out of traffic: the connection is fine, the state is not.
    await sleep(1500);
    expect((await call(a!.url, 'GET', '/ready')).status).toBe(503);
    // The token from before the loss is refused, as it must be: its user is gone.
    expect((await call(a!.url, 'GET', '/api/v1/auth/me', { token: before.token })).status).toBe(401);

    await raw!.set(EPOCH_KEY, 'acknowledged-by-operator');
    for (const s of [a!, b!]) expect((await readyWithin(s.url, 200)).status).toBe(200);
    expect(await raw!.get(EPOCH_KEY)).toBe('acknowledged-by-operator');
    const after = await account(b!.url, 'after-outage');
    expect((await call(a!.url, 'GET', '/api/v1/auth/me', { token: after.token })).status).toBe(200);
  });

  it('reseed: writes a new epoch itself, re-creates the configured admin and stays in traffic', async () => {
    const [a] = await cluster(1, { STATE_LOSS_POLICY: 'reseed' });
    const first = await raw!.get(EPOCH_KEY);
    expect((await adminLogin(a!.url)).status).toBe(200);

    await redis!.restart();
    const deadline = Date.now() + 10_000;
    let epoch: string | null = null;
    while (Date.now() < deadline && (epoch === null || epoch === first)) {
      epoch = await raw!.get(EPOCH_KEY).catch(() => null);
      await sleep(100);
    }
    expect(epoch).not.toBeNull();
    expect(epoch).not.toBe(first);
    expect((await readyWithin(a!.url, 200)).status).toBe(200);
    const adminBack = Date.now() + 5000;
    while ((await adminLogin(a!.url)).status !== 200 && Date.now() < adminBack) await sleep(100);
    expect((await adminLogin(a!.url)).status).toBe(200);
  });

  it('refuses an unknown STATE_LOSS_POLICY at start', () => {
    expect(() => loadConfig({ STATE_LOSS_POLICY: 'ignore' })).toThrow(/STATE_LOSS_POLICY must be hold or reseed/);
  });
});
