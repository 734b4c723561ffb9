// Two "hosts" sharing one real redis-server: host A is `node dist/src/main.js` with WORKERS=2 (a
// node:cluster primary and two gateway processes on one port), host B a second server in this process.
// Cross-process delivery, cluster-wide viewers, shared limits and revocations, a worker killed with -9,
// and Redis going away and coming back.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EPOCH_KEY } from '../src/redis/epoch.js';
import { call, createRooms, ROBERTA, startServer, type TestServer } from './helpers.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { account, WsClient, type Account } from './ws-client.js';

const SECRET = 'cluster-secret-cluster-secret-cluster-secret-0123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface HostA extends ServerProcess {
  /** Gateways alive now: those that started, less those the primary reported dead. */
  workerPids(): number[];
}

async function startHostA(redisUrl: string): Promise<HostA> {
  const host = await spawnServer(
    {
      WORKERS: '2',
      INFERENCE_THREADS: '1',
      MODEL_DIR: ROBERTA,
      REDIS_URL: redisUrl,
      JWT_SECRET: SECRET,
      CHAT_RATE_PER_30S: '5',
      PRESENCE_TTL_MS: '1500',
    },
    2,
  );
  const died = () =>
    new Set(host.log.filter((l) => l.includes('worker died: restarting')).map((l) => (JSON.parse(l) as { pid?: number }).pid));
  return { ...host, workerPids: () => host.listeningPids().filter((p) => !died().has(p)) };
}

describe('cluster over redis', () => {
  let redis: RedisServer;
  let a: HostA;
  let b: TestServer;
  let alice: Account;
  let bob: Account;
  const clients: WsClient[] = [];
  const open = async (url: string, who?: Account) => {
    const c = await WsClient.open(url, who ? `token=${who.token}` : '');
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startHostA(redis.url);
    b = await startServer({ REDIS_URL: redis.url, JWT_SECRET: SECRET, CHAT_RATE_PER_30S: '5', PRESENCE_TTL_MS: '1500' });
    alice = await account(a.url, 'alice');
    bob = await account(b.url, 'bob'); // registered on B, used on A: users live in Redis
    // Rooms exist only through the API; created on B, used on A: rooms live in Redis too.
    const admin = await account(b.url, 'admin', 'admin-password');
    await createRooms(b.url, admin.token, ['cross', 'limit', 'crash', 'drain']);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (b as TestServer | undefined)?.app.stop();
    const host = a as HostA | undefined;
    if (host && host.child.exitCode === null) {
      const exited = new Promise((r) => host.child.once('exit', r));
      host.child.kill('SIGKILL');
      await exited;
    }
    await (redis as RedisServer | undefined)?.stop();
  });

  it('spreads host A over two processes on one port', async () => {
    const instances = new Set<string>();
    for (let i = 0; i < 40 && instances.size < 2; i++) {
      const res = await fetch(`${a.url}/health`, { headers: { connection: 'close' } });
      instances.add(res.headers.get('x-instance') ?? '');
    }
    expect(instances.size).toBe(2);
    expect(a.workerPids()).toHaveLength(2);
  });

  it('shows the whole host in one /metrics scrape: both gateways, labelled by slot', async () => {
    for (let i = 0; i < 6; i++) await fetch(`${a.url}/api/v1/model`, { headers: { connection: 'close' } });
    const text = await (await fetch(`${a.url}/metrics`)).text();
    for (const slot of ['0', '1']) expect(text).toMatch(new RegExp(`chatpulse_ws_connections\\{slot="${slot}"\\} \\d+`));
    const counted = [
      ...text.matchAll(/chatpulse_http_requests_total\{method="GET",route="\/api\/v1\/model",status="401",slot="\d"\} (\d+)/g),
    ];
    expect(counted.reduce((n, m) => n + Number(m[1]), 0)).toBe(6);
  });

  it('delivers a message posted on any process to subscribers on every process and host, and counts viewers cluster-wide', async () => {
    const subsA = await Promise.all(Array.from({ length: 6 }, () => open(a.url)));
    const subB = await open(b.url);
    const viewers: number[] = [];
    for (const c of [...subsA, subB]) viewers.push((await c.subscribe('room:cross')).viewers as number);
    expect(viewers).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await sleep(300); // sharded subscriptions settle
    const fromB = await open(b.url, bob);
    fromB.send({ type: 'chat', channel: 'room:cross', text: 'hello from host B' });
    const fromA = await open(a.url, alice);
    await sleep(100);
    fromA.send({ type: 'chat', channel: 'room:cross', text: 'hello from host A' });
    for (const c of [...subsA, subB]) {
      await c.until((fs) => fs.filter((f) => f.type === 'message').length === 2, 10_000);
      expect(
        c
          .of('message')
          .map((f) => f.text)
          .sort(),
      ).toEqual(['hello from host A', 'hello from host B']);
    }
    // The first subscriber, on host A, is told of host B's viewer too (subB's own `subscribed` said 7 above).
    await (subsA[0] as WsClient).until((fs) => fs.some((f) => f.type === 'presence' && f.viewers === 7));
  });

  it('holds a user rate limit across hosts and a logout everywhere', async () => {
    const onA = await open(a.url, alice);
    const onB = await open(b.url, alice);
    for (let i = 0; i < 3; i++) onA.send({ type: 'chat', channel: 'room:limit', text: `a${i}` });
    await onA.until((fs) => fs.filter((f) => f.type === 'message').length === 3, 10_000);
    for (let i = 0; i < 3; i++) onB.send({ type: 'chat', channel: 'room:limit', text: `b${i}` });
    const refused = await onB.until((fs) => fs.find((f) => f.type === 'error'), 10_000);
    expect(refused).toMatchObject({ code: 'rate_limited' });

    const session = await account(b.url, 'carol');
    expect((await call(a.url, 'GET', '/api/v1/auth/me', { token: session.token })).status).toBe(200);
    expect((await call(b.url, 'POST', '/api/v1/auth/logout', { token: session.token, body: {} })).status).toBe(204);
    for (let i = 0; i < 4; i++) expect((await call(a.url, 'GET', '/api/v1/auth/me', { token: session.token })).status).toBe(401);
  });

  it('forgets a deleted API key on every process at once, although lookups are cached', async () => {
    const created = await call(a.url, 'POST', '/api/v1/api-keys', {
      token: alice.token,
      body: { name: 'bot', current_password: 'password123' },
    });
    const { id, key } = created.body as { id: string; key: string };
    expect((await call(b.url, 'GET', '/api/v1/auth/me', { apiKey: key })).status).toBe(200); // now cached on B
    expect((await call(a.url, 'DELETE', `/api/v1/api-keys/${id}`, { token: alice.token })).status).toBe(204);
    // Well inside the 5 s cache TTL: only the invalidation can make B refuse it.
    let status = 0;
    for (let i = 0; i < 20 && status !== 401; i++) {
      status = (await call(b.url, 'GET', '/api/v1/auth/me', { apiKey: key })).status;
      if (status !== 401) await sleep(50);
    }
    expect(status).toBe(401);
  });

  it('closes revoked sockets on every process and host within 1 s (4001): logout, password change, key deletion', async () => {
    const within = async (c: WsClient, since: number) => {
      const code = await c.closed(3000);
      return { code, reason: c.closeReason, late: Date.now() - since < 1000 };
    };
    // A logout on host B closes that token's sockets on both of host A's processes.
    const erin = await account(a.url, 'erin');
    const onA = await Promise.all(Array.from({ length: 4 }, () => open(a.url, erin)));
    for (const c of onA) {
      c.send({ type: 'ping' });
      await c.nth('pong', 0);
    }
    let t0 = Date.now();
    expect((await call(b.url, 'POST', '/api/v1/auth/logout', { token: erin.token, body: {} })).status).toBe(204);
    for (const c of onA) expect(await within(c, t0)).toEqual({ code: 4001, reason: 'revoked', late: true });

    // A password change on host A closes the user's sockets on host B.
    const frank = await account(b.url, 'frank');
    const onB = await open(b.url, frank);
    t0 = Date.now();
    const changed = await call(a.url, 'POST', '/api/v1/users/me/password', {
      token: frank.token,
      body: { current_password: 'password123', new_password: 'password456' },
    });
    expect(changed.status).toBe(200);
    expect(await within(onB, t0)).toEqual({ code: 4001, reason: 'revoked', late: true });

    // Deleting an API key on host A closes the sockets opened with it on host B.
    const token = (changed.body as { access_token: string }).access_token;
    let created = await call(a.url, 'POST', '/api/v1/api-keys', { token, body: { name: 'bot', current_password: 'password456' } });
    if (created.status === 400) created = await call(a.url, 'POST', '/api/v1/api-keys', { token, body: { name: 'bot' } });
    const { id, key } = created.body as { id: string; key: string };
    const bot = await WsClient.open(b.url, `api_key=${key}`);
    clients.push(bot);
    t0 = Date.now();
    expect((await call(a.url, 'DELETE', `/api/v1/api-keys/${id}`, { token })).status).toBe(204);
    expect(await within(bot, t0)).toEqual({ code: 4001, reason: 'revoked', late: true });
  });

  it('restarts a worker killed with -9; its viewers expire and reconnecting clients are served', async () => {
    const watcher = await open(b.url);
    await watcher.subscribe('room:crash');
    const onA = await Promise.all(Array.from({ length: 6 }, () => open(a.url)));
    for (const c of onA) await c.subscribe('room:crash');
    await watcher.until((fs) => fs.some((f) => f.type === 'presence' && f.viewers === 7), 5000);
    const [victim] = a.workerPids();
    process.kill(victim as number, 'SIGKILL');
    const lost = await Promise.all(
      onA.map((c) =>
        c.closed(5000).then(
          () => 1,
          () => 0,
        ),
      ),
    );
    const dropped = lost.reduce<number>((x, y) => x + y, 0);
    expect(dropped).toBeGreaterThan(0);
    // The dead process's viewers vanish from the cluster count within the presence TTL (1.5 s here).
    await watcher.until((fs) => fs.some((f) => f.type === 'presence' && f.viewers === 7 - dropped), 8000);
    const deadline = Date.now() + 15_000;
    while (a.workerPids().length < 2 && Date.now() < deadline) await sleep(200);
    expect(a.log.some((l) => l.includes('worker died: restarting'))).toBe(true);
    expect(a.workerPids()).toHaveLength(2);
    const again = await open(a.url);
    expect(await again.subscribe('room:crash')).toMatchObject({ type: 'subscribed' });
    const poster = await open(b.url, bob);
    poster.send({ type: 'chat', channel: 'room:crash', text: 'still here' });
    await again.until((fs) => fs.some((f) => f.type === 'message' && f.text === 'still here'), 10_000);
  });

  it('survives Redis going away: not ready but alive, then ready again with cross-host delivery', async () => {
    await redis.stop();
    const deadline = Date.now() + 10_000;
    while ((await call(b.url, 'GET', '/ready')).status !== 503 && Date.now() < deadline) await sleep(100);
    expect((await call(b.url, 'GET', '/ready')).status).toBe(503);
    expect((await call(b.url, 'GET', '/health')).status).toBe(200);
    expect((await call(a.url, 'GET', '/health')).status).toBe(200);
    // What needs shared state answers 503 with Retry-After, not 500; what does not still works.
    const me = await call(b.url, 'GET', '/api/v1/auth/me', { token: alice.token });
    expect(me.status).toBe(503);
    expect(me.headers.get('retry-after')).toBe('1');
    const watcher = await open(b.url);
    expect(await watcher.subscribe('twitch:outage')).toMatchObject({ type: 'subscribed' });
    await redis.restart();
    // Redis answers again, but empty: the processes see the cluster epoch gone and stay out of traffic,
    // saying why, until an operator acknowledges the loss by writing a new epoch.
    const lostBy = Date.now() + 15_000;
    const lost = async (url: string) => JSON.stringify((await call(url, 'GET', '/ready')).body).includes('shared state lost');
    while (!((await lost(a.url)) && (await lost(b.url))) && Date.now() < lostBy) await sleep(200);
    expect(await lost(a.url)).toBe(true);
    expect(await lost(b.url)).toBe(true);
    const operator = new Redis(redis.url);
    await operator.set(EPOCH_KEY, 'acknowledged');
    operator.disconnect();
    const back = Date.now() + 15_000;
    while (
      ((await call(b.url, 'GET', '/ready')).status !== 200 || (await call(a.url, 'GET', '/ready')).status !== 200) &&
      Date.now() < back
    )
      await sleep(200);
    expect((await call(b.url, 'GET', '/ready')).status).toBe(200);
    // Accounts went with Redis (persistence is MongoDB's job), so sign up again.
    const dave = await account(a.url, 'dave');
    await createRooms(a.url, dave.token, ['after']);
    const sub = await open(a.url);
    await sub.subscribe('room:after');
    await sleep(300);
    const pub = await open(b.url, { ...dave, token: dave.token });
    pub.send({ type: 'chat', channel: 'room:after', text: 'redis is back' });
    await sub.until((fs) => fs.some((f) => f.type === 'message' && f.text === 'redis is back'), 10_000);
  });

  it('drains every worker on SIGTERM: sockets get 1001, the primary exits 0', async () => {
    const watcher = await open(a.url);
    await watcher.subscribe('room:drain');
    const exited = new Promise<number | null>((r) => a.child.once('exit', (code) => r(code)));
    a.child.kill('SIGTERM');
    expect(await watcher.closed(10_000)).toBe(1001);
    expect(await exited).toBe(0);
    expect(a.log.filter((l) => l.includes('worker drained'))).toHaveLength(2);
  });
});
