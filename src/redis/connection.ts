// Redis connections shared by the Redis drivers (bus, presence, likes, rooms, limits, auth, leases).
//
// Failure policy: Redis is shared state for a cluster of gateway processes, and a process must stay up
// (and answer quickly) while Redis is away. So the clients
// - reconnect forever with capped exponential backoff (a restarted Redis is picked up within `maxBackoffMs`);
// - do NOT queue commands while disconnected (`enableOfflineQueue: false`): a command issued while Redis
//   is down rejects at once instead of piling up in memory and running late (possibly twice, or after
//   the caller already gave up) once Redis is back. Drivers decide per call what "down" means: the bus
//   drops events, presence and rate limits degrade to this process's view, stores reject (the gateway
//   answers 5xx). Hence callers must wait for the first connection (`connectRedis`/`waitReady`) before use;
// - reject a command still in flight when the connection broke after `maxRetriesPerRequest` failed
//   reconnect attempts (it is resent if the connection comes back sooner), and any command after
//   `commandTimeout` ms, so nothing a request awaits can hang on a dead or stalled socket.
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/log.js';

/** Every key and pub/sub channel the drivers use starts with this, so ChatPulse can share a Redis. */
export const KEY_PREFIX = 'cp:';

export type RedisLog = Pick<Logger, 'info' | 'warn'>;

export interface RedisConnectionOptions {
  /** Shown in CLIENT LIST, e.g. `chatpulse:sub`. */
  name?: string;
  /** Cap of the reconnect backoff; also about how long a restarted Redis takes to be noticed. */
  maxBackoffMs?: number;
  /** Upper bound on one command's round trip. */
  commandTimeoutMs?: number;
}

/** Capped exponential backoff: 50 ms, 100 ms, 200 ms, ... up to `maxMs`, forever (never gives up). */
export const backoff =
  (maxMs: number) =>
  (attempt: number): number =>
    Math.min(maxMs, 50 * 2 ** Math.min(attempt - 1, 16));

function baseOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    connectionName: options.name ?? 'chatpulse',
    maxRetriesPerRequest: 2,
    retryStrategy: backoff(options.maxBackoffMs ?? 2_000),
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    connectTimeout: 5_000,
  };
}

/** Logs state changes (not every failed reconnect attempt) and keeps ioredis from printing unhandled errors. */
function observe(client: Redis, label: string, log?: RedisLog): Redis {
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log?.warn({ err: err.message, redis: label }, 'redis connection lost; retrying');
  });
  client.on('ready', () => {
    if (down) log?.info({ redis: label }, 'redis connection restored');
    down = false;
  });
  return client;
}

/** A command connection, shared by every driver of a process. Connects in the background. */
export function createRedis(url: string, log?: RedisLog, options: RedisConnectionOptions = {}): Redis {
  return observe(new Redis(url, baseOptions(options)), options.name ?? 'command', log);
}

/**
 * A connection for (sharded) pub/sub only: once subscribed, a connection can run nothing else, so the
 * bus owns one of its own. `autoResubscribe` is off because the bus re-subscribes from its own list of
 * watched channels on every 'ready', which also covers channels watched while Redis was down.
 */
export function createSubscriber(url: string, log?: RedisLog, options: RedisConnectionOptions = {}): Redis {
  const name = options.name ?? 'chatpulse:sub';
  return observe(new Redis(url, { ...baseOptions({ ...options, name }), autoResubscribe: false }), name, log);
}

export const isReady = (client: Redis): boolean => client.status === 'ready';

/** Resolves once the client is ready; rejects after `timeoutMs` (or when the client is closed). */
export function waitReady(client: Redis, timeoutMs = 10_000): Promise<void> {
  if (isReady(client)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('redis connection closed'));
    const timer = setTimeout(() => done(new Error(`redis not ready after ${timeoutMs} ms`)), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/** createRedis + waitReady: what a process calls at startup (commands are not queued before 'ready'). */
export async function connectRedis(url: string, log?: RedisLog, options: RedisConnectionOptions = {}): Promise<Redis> {
  const client = createRedis(url, log, options);
  try {
    await waitReady(client);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return client;
}

/** Closes a client: QUIT when connected (pending replies still arrive), a hard disconnect otherwise. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (isReady(client)) {
    try {
      await client.quit();
      return;
    } catch {
      // Fall through: the connection broke while quitting.
    }
  }
  client.disconnect();
}

/** A Lua script run by EVALSHA, falling back to EVAL when Redis does not know it (first use, or after a restart). */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Encodes one variable part of a key that has several (`a:<enc(x)>:<y>`) so that no choice of values
 * can make two different keys collide (channel names, for one, contain ':').
 */
export const keyPart = (value: string): string => encodeURIComponent(value);

const UNREACHABLE = /^(Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries per request limit)/;

/** True for ioredis's "Redis is not there" failures (as opposed to a bug or a Redis reply error). */
export function isRedisUnavailable(err: unknown): boolean {
  return err instanceof Error && (err.name === 'MaxRetriesPerRequestError' || UNREACHABLE.test(err.message));
}
