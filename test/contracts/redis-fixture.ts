// Shared by the contract suites: one real redis-server per test file (or, with `{ cluster: true }`, one real
// Redis Cluster of 3 masters), connections that are all closed when the file ends (so vitest exits), FLUSHALL
// between tests (on every master of a cluster), and a bounded wait for asynchronous effects.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Redis } from 'ioredis';
import {
  closeRedis,
  connectClient,
  connectRedis,
  createSubscriber,
  createSubscriberClient,
  waitReady,
  type RedisClient,
  type RedisConnectionOptions,
  type RedisTarget,
} from '../../src/redis/connection.js';
import { masters, scanKeys } from '../../src/redis/keys.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisClusterOptions, type RedisServer } from '../redis-server.js';

/** Fast reconnects, so the restart tests do not wait for the production backoff cap. */
export const TEST_CONNECTION: RedisConnectionOptions = { maxBackoffMs: 200, commandTimeoutMs: 5_000 };

export interface RedisFixture<C extends RedisClient = Redis> {
  /** `single` (one redis-server) or `cluster` (a Redis Cluster). */
  readonly kind: 'single' | 'cluster';
  /** The redis-server of a `single` fixture (throws on a cluster fixture). */
  readonly server: RedisServer;
  /** The Redis Cluster of a `cluster` fixture (throws on a single one). */
  readonly cluster: RedisCluster;
  /** What a driver process would be configured with. */
  readonly target: RedisTarget;
  /** A command connection opened for the file; closed in afterAll. */
  readonly client: C;
  /** A new ready command connection, closed at the end of the current test. */
  connect(): Promise<C>;
  /** A new subscriber connection (ready), closed at the end of the current test unless closed before. */
  subscriber(): Promise<C>;
  /** Runs `fn` after the current test (before connections are closed): for closing drivers. */
  defer(fn: () => unknown): void;
  /** Every key matching `pattern`, on every master (SCAN). */
  keys(pattern: string): Promise<string[]>;
}

export interface RedisFixtureOptions {
  /** A Redis Cluster instead of one redis-server. */
  cluster?: boolean | RedisClusterOptions;
}

export function useRedis(options?: { cluster?: false }): RedisFixture;
export function useRedis(options: { cluster: true | RedisClusterOptions }): RedisFixture<RedisClient>;
export function useRedis(options: RedisFixtureOptions = {}): RedisFixture<RedisClient> {
  const clustered = options.cluster !== undefined && options.cluster !== false;
  let server: RedisServer | null = null;
  let cluster: RedisCluster | null = null;
  let target: RedisTarget | null = null;
  let client: RedisClient | null = null;
  const perTest: RedisClient[] = [];
  const deferred: Array<() => unknown> = [];

  const need = <T>(value: T | null, what: string): T => {
    if (value === null)
      throw new Error(`redis fixture: no ${what} (${clustered ? 'a cluster' : 'a single-server'} fixture, or used outside a test)`);
    return value;
  };
  const connect = (name: string): Promise<RedisClient> =>
    target !== null && 'url' in target
      ? connectRedis(target.url, undefined, { ...TEST_CONNECTION, name })
      : connectClient(need(target, 'target'), undefined, { ...TEST_CONNECTION, name });

  beforeAll(async () => {
    if (clustered) {
      cluster = await startRedisCluster(typeof options.cluster === 'object' ? options.cluster : {});
      target = { clusterNodes: cluster.nodes };
    } else {
      server = await startRedisServer();
      target = { url: server.url };
    }
    client = await connect('test-shared');
  });

  beforeEach(async () => {
    if (client && client.status !== 'ready') await waitReady(client);
    // A cluster's masters as the cluster sees them: after a failover a client may still count the old one.
    if (cluster) await cluster.flushAll();
    else if (client) await Promise.all(masters(client).map((node) => node.flushall()));
  });

  afterEach(async () => {
    for (const fn of deferred.splice(0).reverse()) await fn();
    await Promise.all(perTest.splice(0).map((c) => closeRedis(c)));
  });

  afterAll(async () => {
    if (client) await closeRedis(client);
    await server?.stop();
    await cluster?.stop();
  });

  return {
    kind: clustered ? 'cluster' : 'single',
    get server() {
      return need(server, 'redis-server');
    },
    get cluster() {
      return need(cluster, 'cluster');
    },
    get target() {
      return need(target, 'target');
    },
    get client() {
      return need(client, 'client');
    },
    async connect() {
      const c = await connect('test');
      perTest.push(c);
      return c;
    },
    async subscriber() {
      const t = need(target, 'target');
      const c = 'url' in t ? createSubscriber(t.url, undefined, TEST_CONNECTION) : createSubscriberClient(t, undefined, TEST_CONNECTION);
      perTest.push(c);
      await waitReady(c);
      return c;
    },
    defer(fn) {
      deferred.push(fn);
    },
    keys(pattern) {
      return scanKeys(need(client, 'client'), pattern);
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; fails after `timeoutMs`. Bounded by design (a loaded CI machine). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
