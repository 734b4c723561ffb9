// API keys in MongoDB: the key id as `_id`, the key's hash under a unique index (what authentication looks
// up), and { userId, createdAt } for a user's listing.
import type { Collection, Db } from 'mongodb';
import { conflict } from '../../errors.js';
import type { ApiKeyRecord, ApiKeyStore } from '../../auth/stores.js';
import { COLLECTIONS, duplicateKeyIndex } from './connection.js';

export interface ApiKeyDoc {
  _id: string;
  userId: string;
  name: string;
  prefix: string;
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

const toDoc = (k: ApiKeyRecord): ApiKeyDoc => ({
  _id: k.id,
  userId: k.userId,
  name: k.name,
  prefix: k.prefix,
  hash: k.hash,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
});

const fromDoc = (d: ApiKeyDoc): ApiKeyRecord => ({
  id: d._id,
  userId: d.userId,
  name: d.name,
  prefix: d.prefix,
  hash: d.hash,
  createdAt: d.createdAt,
  lastUsedAt: d.lastUsedAt,
});

export class MongoApiKeyStore implements ApiKeyStore {
  private readonly keys: Collection<ApiKeyDoc>;

  constructor(db: Db) {
    this.keys = db.collection<ApiKeyDoc>(COLLECTIONS.apiKeys);
  }

  async create(rec: ApiKeyRecord): Promise<void> {
    try {
      await this.keys.insertOne(toDoc(rec));
    } catch (err) {
      if (duplicateKeyIndex(err) !== null) throw conflict('api key already exists');
      throw err;
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const doc = await this.keys.findOne({ hash });
    return doc ? fromDoc(doc) : null;
  }

  async listByUser(userId: string): Promise<ApiKeyRecord[]> {
    return (await this.keys.find({ userId }).sort({ createdAt: 1, _id: 1 }).toArray()).map(fromDoc);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.keys.deleteOne({ _id: id })).deletedCount === 1;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.keys.updateOne({ _id: id }, { $set: { lastUsedAt: at } });
  }

  async deleteByUser(userId: string): Promise<number> {
    return (await this.keys.deleteMany({ userId })).deletedCount;
  }

  async usage(since: number): Promise<{ keys: number; usedSince: number }> {
    const [keys, usedSince] = await Promise.all([
      this.keys.countDocuments({}),
      this.keys.countDocuments({ lastUsedAt: { $gte: since } }),
    ]);
    return { keys, usedSince };
  }
}
