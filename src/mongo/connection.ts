// The MongoDB connection the Mongo drivers share: one pooled MongoClient per process (per URL and client
// options), the indexes the drivers' queries and uniqueness rules rely on, and the error tests the drivers
// and the gateway need (duplicate keys, an unreachable server).
import {
  MongoBulkWriteError,
  MongoErrorLabel,
  MongoClient,
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
  type Db,
  type IndexDescription,
  type WriteError,
} from 'mongodb';
import { PermanentWriteError } from '../errors.js';

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
  /**
   * Default 10 s: how long one command may wait on the server (the socket, and a connection from the pool)
   * before it fails as a network error. Without it a hung server holds the store writer's queue, and a
   * drain, forever. (The driver's own `timeoutMS` would say it better, but this driver version ignores it.)
   */
  commandTimeoutMS?: number;
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
  const key = JSON.stringify([url, options.appName, options.serverSelectionTimeoutMS, options.commandTimeoutMS]);
  let entry = shared.get(key);
  if (!entry) {
    const client = new MongoClient(url, {
      appName: options.appName ?? 'chatpulse',
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5_000,
      socketTimeoutMS: options.commandTimeoutMS ?? 10_000,
      waitQueueTimeoutMS: options.commandTimeoutMS ?? 10_000,
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
  [COLLECTIONS.reports]: [
    { key: { ownerId: 1, _id: -1 }, name: 'reports_owner' },
    { key: { createdAt: 1 }, name: 'reports_created' },
  ],
  [COLLECTIONS.ingests]: [{ key: { source: 1, channel: 1 }, name: INDEX.ingestSourceChannel, unique: true }],
  [COLLECTIONS.rooms]: [
    { key: { seq: 1 }, name: 'rooms_seq', unique: true },
    { key: { ownerId: 1 }, name: 'rooms_owner' },
    // The lifecycle sweeper's query: deadlines at or before now.
    { key: { 'lifecycle.endsAt': 1 }, name: 'rooms_lifecycle_ends' },
  ],
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
    await messages.createIndex({ at: 1 }, { name: INDEX.messagesTtl, expireAfterSeconds: seconds }, undefined);
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

// A type guard, since Array.isArray does not narrow a ReadonlyArray (it would make the elements `any`).
const isList = (w: WriteError | readonly WriteError[]): w is readonly WriteError[] => Array.isArray(w);

/** A bulk write error's write errors: the driver gives one or several. */
const writeErrorsOf = (err: MongoBulkWriteError): readonly WriteError[] => (isList(err.writeErrors) ? err.writeErrors : [err.writeErrors]);

/**
 * For a bulk write that failed only on duplicate keys (what replays produce, so nothing else was lost): the
 * indexes of the operations that hit them. Null for any other error.
 */
export function duplicateKeyOps(err: unknown): number[] | null {
  if (!(err instanceof MongoBulkWriteError) || err.err !== undefined || err.result.getWriteConcernError()) return null;
  const errors = writeErrorsOf(err);
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

/**
 * Server codes that a later attempt may get past (time limits, interruptions, locks, permissions and
 * space an operator can fix): never a reason to set a batch aside.
 */
const TRANSIENT_CODES = new Set([
  13, // Unauthorized
  18, // AuthenticationFailed
  24, // LockTimeout
  46, // LockBusy
  50, // MaxTimeMSExpired
  64, // WriteConcernFailed
  112, // WriteConflict
  133, // FailedToSatisfyReadPreference
  262, // ExceededTimeLimit
  9001, // SocketException
  11601, // Interrupted
  12586, // BackgroundOperationInProgressForDatabase
  12587, // BackgroundOperationInProgressForNamespace
  14031, // OutOfDiskSpace
]);

const isTransientCode = (code: unknown): boolean =>
  typeof code !== 'number' || code === DUPLICATE_KEY || TRANSIENT_CODES.has(code) || UNAVAILABLE_CODES.has(code);

/**
 * True when a write failed on the documents themselves, so that sending the same batch again can never
 * succeed: the server refused one or more of them (validation, a `$`-prefixed or otherwise illegal field
 * name, a document too large) with a code that is neither a duplicate key nor a timeout, interruption or
 * unavailability, and the driver did not label it retryable. Anything unsure counts as transient: a
 * misjudged outage would divert good batches, a misjudged bad batch only waits in the spool.
 */
export function isPermanentWriteError(err: unknown): boolean {
  if (!(err instanceof MongoServerError) || isMongoUnavailable(err)) return false;
  if (err instanceof MongoWriteConcernError) return false;
  for (const label of [
    MongoErrorLabel.RetryableWriteError,
    MongoErrorLabel.TransientTransactionError,
    MongoErrorLabel.RetryableError,
    MongoErrorLabel.SystemOverloadedError,
  ]) {
    if (err.hasErrorLabel(label)) return false;
  }
  if (err instanceof MongoBulkWriteError) {
    if (err.err !== undefined || err.result.getWriteConcernError()) return false;
    return writeErrorsOf(err).some((e) => !isTransientCode(e.code));
  }
  return !isTransientCode(err.code);
}

/** For the write paths of the drivers: a permanent failure becomes the port's PermanentWriteError. */
export function asWriteError(err: unknown): unknown {
  if (!isPermanentWriteError(err)) return err;
  return new PermanentWriteError(`the store refused the batch: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
