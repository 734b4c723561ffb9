// The MongoDB drivers of every persistent port, and the connection they share.
import { MongoApiKeyStore } from './api-keys.js';
import { MongoBucketStore } from './buckets.js';
import type { MongoHandle } from './connection.js';
import { MongoIngestStore } from './ingest.js';
import { MongoMessageStore } from './messages.js';
import { MongoReportStore } from './reports.js';
import { MongoRoomStore } from './rooms.js';
import { MongoUserStore } from './users.js';

export { connectMongo, ensureIndexes, isMongoUnavailable, COLLECTIONS } from './connection.js';
export type { EnsureIndexesOptions, MongoConnectOptions, MongoHandle } from './connection.js';
export { MongoApiKeyStore, MongoBucketStore, MongoIngestStore, MongoMessageStore, MongoReportStore, MongoRoomStore, MongoUserStore };

export interface MongoStores {
  messages: MongoMessageStore;
  buckets: MongoBucketStore;
  reports: MongoReportStore;
  ingest: MongoIngestStore;
  users: MongoUserStore;
  apiKeys: MongoApiKeyStore;
  rooms: MongoRoomStore;
}

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
