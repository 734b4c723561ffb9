// Two ChatPulse gateways sharing their state through a real Redis Cluster (REDIS_CLUSTER_NODES, 3 masters):
// accounts, rooms, presence and chat cross from one to the other exactly as they do through one Redis.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { call, createRooms, startServer, type TestServer } from './helpers.js';
import { startRedisCluster, type RedisCluster } from './redis-server.js';
import { account, WsClient, type Account } from './ws-client.js';

describe('gateways on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let a: TestServer;
  let b: TestServer;
  let alice: Account;
  let bob: Account;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const env = { REDIS_CLUSTER_NODES: cluster.nodes.slice(0, 2).join(','), PRESENCE_TTL_MS: '1500' };
    a = await startServer(env);
    b = await startServer(env);
    alice = await account(a.url, 'alice');
    bob = await account(b.url, 'bob'); // registered on B, used on A
    const admin = await account(b.url, 'admin', 'admin-password');
    await createRooms(b.url, admin.token, ['cross']);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await (a as TestServer | undefined)?.app.stop();
    await (b as TestServer | undefined)?.app.stop();
    await (cluster as RedisCluster | undefined)?.stop();
  });

  it('is ready, and shares accounts and rooms between gateways', async () => {
    for (const s of [a, b]) expect((await call(s.url, 'GET', '/ready')).status).toBe(200);
    expect((await call(a.url, 'GET', '/api/v1/auth/me', { token: bob.token })).status).toBe(200);
    expect((await call(b.url, 'GET', '/api/v1/auth/me', { token: alice.token })).status).toBe(200);
    const rooms = await call(a.url, 'GET', '/api/v1/rooms', { token: alice.token });
    expect(rooms.status).toBe(200);
    expect(JSON.stringify(rooms.body)).toContain('"cross"');
  });

  it('counts viewers across gateways and delivers chat posted on either to both', async () => {
    const onA = await WsClient.open(a.url, '');
    const onB = await WsClient.open(b.url, '');
    clients.push(onA, onB);
    expect((await onA.subscribe('room:cross')).viewers).toBe(1);
    expect((await onB.subscribe('room:cross')).viewers).toBe(2);
    await sleep(300); // sharded subscriptions settle
    const fromB = await WsClient.open(b.url, `token=${bob.token}`);
    clients.push(fromB);
    fromB.send({ type: 'chat', channel: 'room:cross', text: 'hello over the cluster', ref: 'c1' });
    // Appended first (the ack), then delivered by each gateway's subscription.
    expect(await fromB.until((fs) => fs.find((f) => f.type === 'ack' || f.type === 'error'), 10_000)).toMatchObject({
      type: 'ack',
      ref: 'c1',
    });
    for (const c of [onA, onB]) await c.until((fs) => fs.some((f) => f.type === 'message'), 10_000);
  });
});

describe('REDIS_CLUSTER_NODES settings', () => {
  const base = { JWT_SECRET: 'x'.repeat(40) };

  it('takes a list of host:port seed nodes', () => {
    const config = loadConfig({ ...base, REDIS_CLUSTER_NODES: ' redis-0.redis:6379, 10.0.0.7:7000,[::1]:6380 ' });
    expect(config.redisClusterNodes).toEqual(['redis-0.redis:6379', '10.0.0.7:7000', '[::1]:6380']);
    expect(config.redis).toEqual({ clusterNodes: ['redis-0.redis:6379', '10.0.0.7:7000', '[::1]:6380'] });
    expect(loadConfig({ ...base, REDIS_URL: 'redis://r:6379' }).redis).toEqual({ url: 'redis://r:6379' });
    expect(loadConfig({}).redis).toBeUndefined();
  });

  it('passes REDIS_USERNAME/REDIS_PASSWORD to the cluster nodes only', () => {
    const env = { ...base, REDIS_CLUSTER_NODES: 'r:6379', REDIS_USERNAME: 'chatpulse', REDIS_PASSWORD: 'secret' };
    expect(loadConfig(env).redis).toEqual({ clusterNodes: ['r:6379'], username: 'chatpulse', password: 'secret' });
    // A URL carries its own credentials.
    expect(loadConfig({ ...base, REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'other' }).redis).toEqual({ url: 'redis://r:6379' });
  });

  it('refuses what is not a list of host:port, too many seeds, duplicates and both settings at once', () => {
    for (const bad of ['r', 'r:', 'r:0', 'r:65536', 'r:6379,', 'redis://r:6379', 'r:6379,,s:6379', 'a b:1', '::1:6379']) {
      expect(() => loadConfig({ ...base, REDIS_CLUSTER_NODES: bad }), bad).toThrow(
        /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/,
      );
    }
    const many = Array.from({ length: 65 }, (_, i) => `r${i}:6379`).join(',');
    expect(() => loadConfig({ ...base, REDIS_CLUSTER_NODES: many })).toThrow(/at most 64 seed nodes/);
    expect(() => loadConfig({ ...base, REDIS_CLUSTER_NODES: 'r:1,r:1' })).toThrow(/lists a node twice/);
    expect(() => loadConfig({ ...base, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:6379' })).toThrow(/mutually exclusive/);
  });

  it('holds a cluster to the rules of REDIS_URL: JWT_SECRET required, WORKERS > 1 allowed', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'r:6379' })).toThrow(/REDIS_CLUSTER_NODES needs JWT_SECRET/);
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: 'r:6379', WORKERS: '2' }).workers).toBe(2);
    expect(() => loadConfig({ ...base, WORKERS: '2' })).toThrow(/WORKERS > 1 needs REDIS_URL \(or REDIS_CLUSTER_NODES\)/);
  });
});
