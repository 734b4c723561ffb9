// Shared by the store-* contract suites: when MONGODB_URL is set, one database per test file (a random name,
// dropped when the file ends) with the production indexes, and empty collections for every test. Without
// MONGODB_URL it does nothing and the Mongo variants are skipped.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { COLLECTIONS, connectMongo, mongoStores, type MongoHandle, type MongoStores } from '../../src/app/persistent.js';

export const mongoUrl = process.env.MONGODB_URL;

export interface MongoFixture {
  /** The drivers over the file's database, every collection emptied first (indexes kept). */
  fresh(): Promise<MongoStores>;
  readonly handle: MongoHandle;
}

export function useMongo(): MongoFixture {
  let handle: MongoHandle | null = null;

  beforeAll(async () => {
    if (!mongoUrl) return;
    handle = await connectMongo(mongoUrl, { dbName: `chatpulse_test_${randomBytes(6).toString('hex')}`, appName: 'chatpulse-test' });
    await handle.ensureIndexes();
  });

  afterAll(async () => {
    if (!handle) return;
    try {
      await handle.db.dropDatabase();
    } finally {
      await handle.close();
    }
  });

  return {
    get handle() {
      if (!handle) throw new Error('mongo fixture used without MONGODB_URL or outside a test');
      return handle;
    },
    async fresh() {
      const { db } = this.handle;
      await Promise.all(Object.values(COLLECTIONS).map((name) => db.collection(name).deleteMany({})));
      return mongoStores(this.handle);
    },
  };
}
