// Shared by the contract suites: one real redis-server per test file, connections that are all closed when
// the file ends (so vitest exits), FLUSHALL between tests, and a bounded wait for asynchronous effects.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, createSubscriber, waitReady } from '../../src/redis/connection.js';
import { startRedisServer, type RedisServer } from '../redis-server.js';

/** Fast reconnects, so the restart tests do not wait for the production backoff cap. */
const TEST_CONNECTION = { maxBackoffMs: 200, commandTimeoutMs: 5_000 };

export interface RedisFixture {
  readonly server: RedisServer;
  /** A command connection opened for the file; closed in afterAll. */
  readonly client: Redis;
  /** A new ready command connection, closed at the end of the current test. */
  connect(): Promise<Redis>;
  /** A new subscriber connection (ready), closed at the end of the current test unless closed before. */
  subscriber(): Promise<Redis>;
  /** Runs `fn` after the current test (before connections are closed): for closing drivers. */
  defer(fn: () => unknown): void;
}

export function useRedis(): RedisFixture {
  let server: RedisServer | null = null;
  let client: Redis | null = null;
  const perTest: Redis[] = [];
  const deferred: Array<() => unknown> = [];

  beforeAll(async () => {
    server = await startRedisServer();
    client = await connectRedis(server.url, undefined, { ...TEST_CONNECTION, name: 'test-shared' });
  });

  beforeEach(async () => {
    if (client && client.status !== 'ready') await waitReady(client);
    await client?.flushall();
  });

  afterEach(async () => {
    for (const fn of deferred.splice(0).reverse()) await fn();
    await Promise.all(perTest.splice(0).map((c) => closeRedis(c)));
  });

  afterAll(async () => {
    if (client) await closeRedis(client);
    await server?.stop();
  });

  return {
    get server() {
      if (!server) throw new Error('redis fixture used outside a test');
      return server;
    },
    get client() {
      if (!client) throw new Error('redis fixture used outside a test');
      return client;
    },
    async connect() {
      const c = await connectRedis(this.server.url, undefined, { ...TEST_CONNECTION, name: 'test' });
      perTest.push(c);
      return c;
    },
    async subscriber() {
      const c = createSubscriber(this.server.url, undefined, TEST_CONNECTION);
      perTest.push(c);
      await waitReady(c);
      return c;
    },
    defer(fn) {
      deferred.push(fn);
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
