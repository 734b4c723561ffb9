// The MongoDB connection the Mongo drivers share: one pooled MongoClient per process (per URL and client
// options), the indexes the drivers' queries and uniqueness rules rely on, and the error tests the drivers
// and the gateway need (duplicate keys, an unreachable server).
import {
  MongoBulkWriteError,
  MongoClient,
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Db,
  type IndexDescription,
} from 'mongodb';

export const COLLECTIONS = {
  messages: 'messages',
  buckets: 'buckets',
  reports: 'reports',
  ingests: 'ingests',
  users: 'users',
  apiKeys: 'api_keys',
  rooms: 'rooms',
  /** Sequence numbers (room creation order). */
  counters: 'counters',
} as const;

/** Index names the drivers match in duplicate-key errors to tell which rule was broken. */
export const INDEX = {
  id: '_id_',
  username: 'users_username',
  apiKeyHash: 'api_keys_hash',
  ingestSourceChannel: 'ingests_source_channel',
  messagesTtl: 'messages_ttl',
} as const;

export interface MongoConnectOptions {
  /** Default: the database named in the URL, else "chatpulse". */
  dbName?: string;
  appName?: string;
  /** Default 5 s: a request should get its 503 long before a client gives up on it. */
  serverSelectionTimeoutMS?: number;
}

export interface EnsureIndexesOptions {
  /** Messages older than this are deleted by the server (a TTL index); unset keeps them. */
  messageRetentionDays?: number;
}

export interface MongoHandle {
  readonly client: MongoClient;
  readonly db: Db;
  /** True when the server answers. */
  ping(): Promise<boolean>;
  ensureIndexes(options?: EnsureIndexesOptions): Promise<void>;
  /** Releases this handle; the shared client closes with the last one. */
  close(): Promise<void>;
}

interface SharedClient {
  client: MongoClient;
  connected: Promise<MongoClient>;
  handles: number;
}

const shared = new Map<string, SharedClient>();

function dbNameFromUrl(url: string): string | undefined {
  const name = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(url)?.[1];
  return name ? decodeURIComponent(name) : undefined;
}

/**
 * Connects (or joins this process's client for the same URL and options). Rejects when no server can be
 * selected in time, so a misconfigured URL fails at startup rather than on the first request.
 */
export async function connectMongo(url: string, options: MongoConnectOptions = {}): Promise<MongoHandle> {
  const key = JSON.stringify([url, options.appName, options.serverSelectionTimeoutMS]);
  let entry = shared.get(key);
  if (!entry) {
    const client = new MongoClient(url, {
      appName: options.appName ?? 'chatpulse',
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5_000,
      // Command events feed the latency metrics (chatpulse_mongo_command_seconds).
      monitorCommands: true,
    });
    entry = { client, connected: client.connect(), handles: 0 };
    shared.set(key, entry);
  }
  const mine = entry;
  mine.handles++;
  try {
    await mine.connected;
  } catch (err) {
    mine.handles--;
    // Forgotten so that a later call tries afresh instead of reusing a failed client.
    if (shared.get(key) === mine) shared.delete(key);
    await mine.client.close().catch(() => undefined);
    throw err;
  }

  const db = mine.client.db(options.dbName ?? dbNameFromUrl(url) ?? 'chatpulse');
  let closed = false;
  return {
    client: mine.client,
    db,
    async ping() {
      try {
        await db.command({ ping: 1 });
        return true;
      } catch {
        return false;
      }
    },
    ensureIndexes: (opts = {}) => ensureIndexes(db, opts),
    async close() {
      if (closed) return;
      closed = true;
      if (--mine.handles > 0) return;
      if (shared.get(key) === mine) shared.delete(key);
      await mine.client.close();
    },
  };
}

const INDEXES: Record<string, IndexDescription[]> = {
  [COLLECTIONS.users]: [{ key: { usernameLower: 1 }, name: INDEX.username, unique: true }],
  [COLLECTIONS.apiKeys]: [
    { key: { hash: 1 }, name: INDEX.apiKeyHash, unique: true },
    { key: { userId: 1, createdAt: 1, _id: 1 }, name: 'api_keys_user' },
    { key: { lastUsedAt: 1 }, name: 'api_keys_last_used' },
  ],
  [COLLECTIONS.messages]: [
    { key: { channel: 1, _id: -1 }, name: 'messages_channel_id' },
    { key: { channel: 1, ts: -1 }, name: 'messages_channel_ts' },
  ],
  [COLLECTIONS.buckets]: [{ key: { channel: 1, start: 1 }, name: 'buckets_channel_start' }],
  [COLLECTIONS.reports]: [{ key: { ownerId: 1, _id: -1 }, name: 'reports_owner' }],
  [COLLECTIONS.ingests]: [{ key: { source: 1, channel: 1 }, name: INDEX.ingestSourceChannel, unique: true }],
  [COLLECTIONS.rooms]: [{ key: { seq: 1 }, name: 'rooms_seq', unique: true }],
};

/** Creates the indexes (a no-op for those that exist) and brings the message TTL in line with the option. */
export async function ensureIndexes(db: Db, options: EnsureIndexesOptions = {}): Promise<void> {
  for (const [name, specs] of Object.entries(INDEXES)) await db.collection(name).createIndexes(specs);

  const messages = db.collection(COLLECTIONS.messages);
  const days = options.messageRetentionDays;
  const seconds = days === undefined ? undefined : Math.max(1, Math.round(days * 86_400));
  const ttl = (await messages.indexes()).find((i) => i.name === INDEX.messagesTtl);
  if (seconds === undefined) {
    // Unsetting the retention must stop the deletions, not leave the old TTL running.
    if (ttl) await messages.dropIndex(INDEX.messagesTtl);
  } else if (!ttl) {
    await messages.createIndex({ at: 1 }, { name: INDEX.messagesTtl, expireAfterSeconds: seconds });
  } else if (ttl.expireAfterSeconds !== seconds) {
    // createIndex refuses to change an existing index's options; collMod changes them in place.
    await db.command({ collMod: COLLECTIONS.messages, index: { name: INDEX.messagesTtl, expireAfterSeconds: seconds } });
  }
}

const DUPLICATE_KEY = 11000;

/** The name of the unique index a duplicate-key error is about, or null for any other error. */
export function duplicateKeyIndex(err: unknown): string | null {
  if (!(err instanceof MongoServerError) || err.code !== DUPLICATE_KEY) return null;
  // The message names the index on every server version; keyPattern is absent on some.
  return /index: (\S+)/.exec(err.message)?.[1] ?? '';
}

/**
 * For a bulk write that failed only on duplicate keys (what replays produce, so nothing else was lost): the
 * indexes of the operations that hit them. Null for any other error.
 */
export function duplicateKeyOps(err: unknown): number[] | null {
  if (!(err instanceof MongoBulkWriteError) || err.err !== undefined || err.result.getWriteConcernError()) return null;
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (errors.length === 0 || !errors.every((e) => e.code === DUPLICATE_KEY)) return null;
  return errors.map((e) => e.index);
}

/** Server errors that mean "no usable primary right now" rather than a bad request. */
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** True when an error means the database cannot be reached now (the gateway answers 503), not a bug. */
export function isMongoUnavailable(err: unknown): boolean {
  if (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoClientClosedError ||
    err instanceof MongoOperationTimeoutError
  ) {
    return true;
  }
  // A full connection pool's wait queue timing out: its class is not exported, its name is stable.
  if (err instanceof MongoError && err.name === 'MongoWaitQueueTimeoutError') return true;
  // A bulk write that failed on the way (not on a document) keeps the driver's error as its errorResponse.
  if (err instanceof MongoBulkWriteError && err.errorResponse instanceof Error) return isMongoUnavailable(err.errorResponse);
  return err instanceof MongoServerError && typeof err.code === 'number' && UNAVAILABLE_CODES.has(err.code);
}
