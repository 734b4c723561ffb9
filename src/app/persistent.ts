// What outlives a process: messages, buckets and reports always; users, keys, rooms and ingest definitions
// with MongoDB. The memory drivers by default; MONGODB_URL selects the MongoDB drivers of every port.
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoApiKeyStore, MongoUserStore } from '../auth/mongo-stores.js';
import type { ApiKeyStore, UserStore } from '../auth/stores.js';
import { MongoRoomStore } from '../channels/mongo-rooms.js';
import type { RoomStore } from '../channels/rooms.js';
import { ConfigError, type Config } from '../config.js';
import { FolderFileStore, GridFsFileStore, type FileStore } from '../files/index.js';
import { MongoIngestStore } from '../ingest/mongo-store.js';
import type { IngestStore } from '../ingest/store.js';
import { connectMongo, type MongoHandle } from '../mongo/connection.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { MongoBucketStore } from '../store/mongo-buckets.js';
import { MongoMessageStore } from '../store/mongo-messages.js';
import { MongoMomentStore } from '../store/mongo-moments.js';
import { MemoryMomentStore, type MomentStore } from '../store/moments.js';
import { MongoReportStore } from '../store/mongo-reports.js';
import {
  MemoryBucketStore,
  MemoryMessageStore,
  MemoryReportStore,
  type BucketStore,
  type MessageStore,
  type ReportStore,
} from '../store/stores.js';
import { DiskSpool } from '../store/spool.js';
import { MemoryAuditStore, type AuditStore } from '../store/audit.js';
import { MongoAuditStore } from '../store/mongo-audit.js';
import { StoreWriter } from '../store/writer.js';

export { COLLECTIONS, connectMongo, type MongoHandle } from '../mongo/connection.js';

export interface MongoStores {
  messages: MongoMessageStore;
  buckets: MongoBucketStore;
  reports: MongoReportStore;
  ingest: MongoIngestStore;
  users: MongoUserStore;
  apiKeys: MongoApiKeyStore;
  rooms: MongoRoomStore;
}

/** The MongoDB drivers of every persistent port, over one connection. */
export function mongoStores(handle: MongoHandle): MongoStores {
  const { db } = handle;
  return {
    messages: new MongoMessageStore(db),
    buckets: new MongoBucketStore(db),
    reports: new MongoReportStore(db),
    ingest: new MongoIngestStore(db),
    users: new MongoUserStore(db),
    apiKeys: new MongoApiKeyStore(db),
    rooms: new MongoRoomStore(db),
  };
}

export interface PersistentState {
  messages: MessageStore;
  buckets: BucketStore;
  reports: ReportStore;
  /** Hype and tilt moments, kept with the timeline (src/channels/moments.ts). */
  moments: MomentStore;
  /** The audit log: a memory ring by default, a TTL-indexed collection with MongoDB. */
  audit: AuditStore;
  /** Only with MongoDB: otherwise these stay with the shared state (Redis or memory). */
  accounts: { users: UserStore; apiKeys: ApiKeyStore; rooms: RoomStore; ingest: IngestStore } | null;
  /** Uploaded images: a folder (FILES_DIR) by default, GridFS with MongoDB. */
  files: FileStore;
  spoolDir: string;
  problem(): string | null;
  instrument?(metrics: Metrics): void;
  close(): Promise<void>;
}

export async function persistentState(config: Config, log: Logger): Promise<PersistentState> {
  if (config.mongodbUrl === undefined) {
    // The memory store cannot fail, so its spool is never written: a private temporary folder keeps test
    // servers and fresh machines from sharing (or littering) a folder.
    const spoolDir = await mkdtemp(join(tmpdir(), 'chatpulse-spool-'));
    return {
      messages: new MemoryMessageStore({ maxPerChannel: config.store.memoryMessagesPerChannel }),
      buckets: new MemoryBucketStore({ retentionMs: config.store.memoryBucketRetentionHours * 3_600_000 }),
      reports: new MemoryReportStore(),
      moments: new MemoryMomentStore({ retentionMs: config.store.memoryBucketRetentionHours * 3_600_000 }),
      audit: new MemoryAuditStore(),
      accounts: null,
      files: new FolderFileStore(config.files.dir),
      spoolDir,
      problem: () => null,
      close: () => rm(spoolDir, { recursive: true, force: true }),
    };
  }
  let mongo: MongoHandle;
  try {
    mongo = await connectMongo(config.mongodbUrl, {
      appName: `chatpulse-${hostname()}-${process.pid}`,
      commandTimeoutMS: config.store.mongoTimeoutMs,
    });
  } catch (err) {
    // An operator's problem, said in one line (the driver's message names hosts, never the password).
    throw new ConfigError(`MONGODB_URL: MongoDB did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
  await mongo.ensureIndexes(
    config.store.messageRetentionDays === undefined ? {} : { messageRetentionDays: config.store.messageRetentionDays },
  );
  const stores = mongoStores(mongo);
  const audit = new MongoAuditStore(mongo.db, config.auditRetentionDays);
  await audit.ensureIndexes();
  const moments = new MongoMomentStore(mongo.db);
  await moments.ensureIndexes(config.store.messageRetentionDays);
  let healthy = true;
  // Readiness must not wait on a round trip per probe: a background ping keeps the answer fresh.
  const pinger = setInterval(() => {
    void mongo.ping().then((ok) => {
      if (ok !== healthy) log[ok ? 'info' : 'warn'](ok ? 'mongodb answers again' : 'mongodb is unreachable');
      healthy = ok;
    });
  }, 2000);
  pinger.unref();
  log.info('mongodb store connected');
  return {
    messages: stores.messages,
    buckets: stores.buckets,
    reports: stores.reports,
    moments,
    audit,
    accounts: { users: stores.users, apiKeys: stores.apiKeys, rooms: stores.rooms, ingest: stores.ingest },
    files: new GridFsFileStore(mongo.db),
    spoolDir: join(config.store.spoolDir, `w${config.workerSlot}`),
    problem: () => (healthy ? null : 'mongodb is unreachable'),
    instrument(metrics) {
      const { client } = mongo;
      client.on('commandSucceeded', (e) => metrics.mongoCommands.observe({ command: e.commandName, outcome: 'ok' }, e.duration / 1000));
      client.on('commandFailed', (e) => metrics.mongoCommands.observe({ command: e.commandName, outcome: 'error' }, e.duration / 1000));
    },
    async close() {
      clearInterval(pinger);
      await mongo.close();
    },
  };
}

/** The batched writer over the persistent stores, with its disk spool; it reports itself to the metrics. */
export async function startWriter(
  persistent: PersistentState,
  config: Config,
  log: Logger,
  metrics: Pick<Metrics, 'read'>,
): Promise<StoreWriter> {
  const spool = await DiskSpool.open(persistent.spoolDir, { maxBytes: config.store.spoolMaxBytes, log });
  const { messages, buckets } = persistent;
  const writer = new StoreWriter({ messages, buckets, spool, flushMs: config.store.flushMs, maxDocs: config.store.flushMaxDocs, log });
  metrics.read('writer', () => ({ ...writer.state(), written: writer.written }));
  return writer;
}
