// Ingest definitions in MongoDB: the unique { source, channel } index is what refuses a second definition
// of one platform channel, also when two hosts create it at once.
import type { Collection, Db } from 'mongodb';
import { conflict } from '../errors.js';
import type { SourceKind } from './source.js';
import { ingestConflict } from './store.js';
import type { IngestRecord, IngestStore } from './store.js';
import { COLLECTIONS, duplicateKeyIndex, INDEX } from '../mongo/connection.js';

export type IngestDoc = Omit<IngestRecord, 'id'> & { _id: string };

const toDoc = (r: IngestRecord): IngestDoc => ({
  _id: r.id,
  source: r.source,
  channel: r.channel,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
});

const fromDoc = (d: IngestDoc): IngestRecord => ({
  id: d._id,
  source: d.source,
  channel: d.channel,
  createdBy: d.createdBy,
  createdAt: d.createdAt,
});

export class MongoIngestStore implements IngestStore {
  private readonly ingests: Collection<IngestDoc>;

  constructor(db: Db) {
    this.ingests = db.collection<IngestDoc>(COLLECTIONS.ingests);
  }

  async create(rec: IngestRecord): Promise<void> {
    try {
      await this.ingests.insertOne(toDoc(rec));
    } catch (err) {
      const index = duplicateKeyIndex(err);
      if (index === INDEX.id) throw conflict(`ingest "${rec.id}" already exists`);
      if (index !== null) throw ingestConflict(rec.source, rec.channel);
      throw err;
    }
  }

  async get(id: string): Promise<IngestRecord | null> {
    const doc = await this.ingests.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async find(source: SourceKind, channel: string): Promise<IngestRecord | null> {
    const doc = await this.ingests.findOne({ source, channel });
    return doc ? fromDoc(doc) : null;
  }

  async list(): Promise<IngestRecord[]> {
    // A handful of definitions per deployment: no index for this order.
    return (await this.ingests.find({}).sort({ createdAt: 1, _id: 1 }).toArray()).map(fromDoc);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.ingests.deleteOne({ _id: id })).deletedCount === 1;
  }
}
