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
//
// Redis Cluster (REDIS_CLUSTER_NODES): the same policy through ioredis' `Cluster` client, built from seed
// nodes. The whole cluster unreachable: it reconnects forever with the same backoff (`clusterRetryStrategy`)
// and queues nothing (`enableOfflineQueue: false`). One master unreachable while the rest answer: the client
// stays ready, and a command for that master's slots is retried every `retryDelayOnFailover` ms, at most
// `maxRedirections` times (about 1 s, with a fresh slot map each time: enough for a manual failover), then
// rejects like a command to an unreachable Redis; once a replica took over (after the cluster's
// `cluster-node-timeout`) commands go to it. Every script and multi-key command of the drivers touches one
// hash slot (hash tags: keys.ts), so none is refused CROSSSLOT. Reads go to masters only
// (`scaleReads: 'master'`): a replica may lag, and every driver reads its own writes.
import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/log.js';

/** Every key and pub/sub channel the drivers use starts with this, so ChatPulse can share a Redis. */
export const KEY_PREFIX = 'cp:';

export type RedisLog = Pick<Logger, 'info' | 'warn'>;

/** A single Redis (or one behind Sentinel) or a Redis Cluster: every driver takes either. */
export type RedisClient = Redis | Cluster;

/** Where the shared state lives: `REDIS_URL`, or `REDIS_CLUSTER_NODES` (seed nodes, `host:port`). */
export type RedisTarget =
  | { url: string }
  | {
      clusterNodes: readonly string[];
      /** ACL user and password of every node (a URL carries its own). */
      username?: string;
      password?: string;
    };

export const isCluster = (client: RedisClient): client is Cluster => client instanceof Cluster;

/** `host:port` (IPv6 in brackets) as ioredis wants a node (config.ts has checked the list). Throws on a bad port. */
export function parseNodeAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || host === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${address}" is not host:port`);
  return { host, port };
}

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

/**
 * The Cluster client's options; `redisOptions` are those of each node connection. `subscriber`: sharded
 * pub/sub (SSUBSCRIBE) goes through one subscriber connection per master (ioredis' `shardedSubscribers`,
 * which also subscribes again after failovers and reconnects), and the slot map is refreshed every second,
 * because a subscriber never sees a MOVED reply that would tell it a failover happened.
 */
function clusterOptions(
  target: Extract<RedisTarget, { clusterNodes: readonly string[] }>,
  options: RedisConnectionOptions,
  subscriber: boolean,
): ClusterOptions {
  // The same backoff and no offline queue, but for the whole cluster: ioredis decides them per node itself.
  const { retryStrategy, enableOfflineQueue, ...node } = baseOptions(options);
  return {
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue, // false
    enableReadyCheck: true,
    scaleReads: 'master',
    // A command for a master that just went away (or a cluster that says CLUSTERDOWN while it fails over)
    // is retried after this, with a fresh slot map: 10 x 100 ms bounds the wait before it rejects.
    maxRedirections: 10,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2_000,
    slotsRefreshInterval: subscriber ? 1_000 : 5_000,
    shardedSubscribers: subscriber,
    redisOptions: {
      ...node,
      // Node connections open at once instead of on first use (ioredis' default for cluster nodes): a node
      // that goes away then ends its connection, and only when every one has ended does the client leave
      // 'ready' and reconnect with the backoff. A node connected lazily, never used since, would keep the
      // client 'ready' with the whole cluster gone, and `isReady` would not mean what the drivers take it to.
      lazyConnect: false,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
    },
  };
}

const seeds = (nodes: readonly string[]) => nodes.map(parseNodeAddress);

/** Logs state changes (not every failed reconnect attempt) and keeps ioredis from printing unhandled errors. */
function observe<C extends RedisClient>(client: C, label: string, log?: RedisLog): C {
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

/** A command connection (a Cluster client for a cluster), shared by every driver of a process. Connects in the background. */
export function createClient(target: RedisTarget, log?: RedisLog, options: RedisConnectionOptions = {}): RedisClient {
  if ('url' in target) return createRedis(target.url, log, options);
  return observe(new Cluster(seeds(target.clusterNodes), clusterOptions(target, options, false)), options.name ?? 'command', log);
}

/**
 * `createSubscriber` for either target. On a cluster, SSUBSCRIBE of a channel goes to the master of the
 * channel's slot and `smessage` events come from all of them; subscriptions are made again by ioredis after
 * a failover or a reconnect (beside the bus's own re-subscribing on 'ready', which is harmless twice).
 */
export function createSubscriberClient(target: RedisTarget, log?: RedisLog, options: RedisConnectionOptions = {}): RedisClient {
  if ('url' in target) return createSubscriber(target.url, log, options);
  const name = options.name ?? 'chatpulse:sub';
  return observe(new Cluster(seeds(target.clusterNodes), clusterOptions(target, { ...options, name }, true)), name, log);
}

/**
 * The target with every master `client` knows of added to a cluster's seed nodes. The sharded subscriber
 * client is seeded with it: ioredis builds a shard's subscriber from the nodes it has connected to, and while
 * it starts, a subscriber group reset can run with the seed nodes only; a master missing from them then has
 * no subscriber, its channels' SSUBSCRIBE fails, and the group does not notice (seen with ioredis 5.11).
 */
export function withKnownMasters(target: RedisTarget, client: RedisClient): RedisTarget {
  if ('url' in target || !isCluster(client)) return target;
  const known = client.nodes('master').map(({ options }) => formatNodeAddress(options.host ?? 'localhost', options.port ?? 6379));
  return { ...target, clusterNodes: [...new Set([...target.clusterNodes, ...known])] };
}

const formatNodeAddress = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** `client` once ready; disconnected when it does not get there. */
async function whenReady<C extends RedisClient>(client: C): Promise<C> {
  try {
    await waitReady(client);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return client;
}

/** createClient + waitReady: a ready command connection to either target. */
export const connectClient = (target: RedisTarget, log?: RedisLog, options: RedisConnectionOptions = {}): Promise<RedisClient> =>
  whenReady(createClient(target, log, options));

export const isReady = (client: RedisClient): boolean => client.status === 'ready';

/** Resolves once the client is ready; rejects after `timeoutMs` (or when the client is closed). */
export function waitReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
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
export const connectRedis = (url: string, log?: RedisLog, options: RedisConnectionOptions = {}): Promise<Redis> =>
  whenReady(createRedis(url, log, options));

/**
 * Null unless `client` is a Redis Cluster that says it cannot serve (`cluster_state` other than ok, asked of
 * any one node): every command then fails with CLUSTERDOWN however ready the client looks.
 */
export async function clusterFailure(client: RedisClient): Promise<string | null> {
  if (!isCluster(client)) return null;
  const info = await client.cluster('INFO');
  const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
  return state === undefined || state === 'ok' ? null : `cluster_state:${state}`;
}

/** Closes a client: QUIT when connected (pending replies still arrive), a hard disconnect otherwise. */
export async function closeRedis(client: RedisClient): Promise<void> {
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

  /** On a cluster every key must hash to one slot (the drivers use hash tags); the script runs on its master. */
  async run(client: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
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

// The last four: a Cluster that is not ready, that kept failing over past its retries (the last error was a
// closed connection, CLUSTERDOWN or a MOVED to a dead master), or that was closed.
const UNREACHABLE =
  /^(Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries per request limit|Cluster isn't ready|Too many Cluster redirections|None of startup nodes is available|Cluster is ended)/;

/** True for ioredis's "Redis is not there" failures (as opposed to a bug or a Redis reply error). */
export function isRedisUnavailable(err: unknown): boolean {
  return err instanceof Error && (err.name === 'MaxRetriesPerRequestError' || UNREACHABLE.test(err.message));
}
