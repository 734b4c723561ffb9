// Reports in MongoDB: one document per report, its ULID as `_id`, so an owner's newest-first pages walk
// the { ownerId, _id } index.
import type { Collection, Db, Filter } from 'mongodb';
import { conflict } from '../errors.js';
import type { ReportRecord, ReportStore } from './stores.js';
import { COLLECTIONS, duplicateKeyIndex } from '../mongo/connection.js';

export type ReportDoc = Omit<ReportRecord, 'id'> & { _id: string };

const toDoc = (r: ReportRecord): ReportDoc => ({
  _id: r.id,
  ownerId: r.ownerId,
  channel: r.channel,
  title: r.title,
  from: r.from,
  to: r.to,
  createdAt: r.createdAt,
  summary: r.summary,
});

const fromDoc = (d: ReportDoc): ReportRecord => ({
  id: d._id,
  ownerId: d.ownerId,
  channel: d.channel,
  title: d.title,
  from: d.from,
  to: d.to,
  createdAt: d.createdAt,
  summary: d.summary,
});

export class MongoReportStore implements ReportStore {
  private readonly reports: Collection<ReportDoc>;

  constructor(db: Db) {
    this.reports = db.collection<ReportDoc>(COLLECTIONS.reports);
  }

  async create(report: ReportRecord): Promise<void> {
    try {
      await this.reports.insertOne(toDoc(report));
    } catch (err) {
      if (duplicateKeyIndex(err) !== null) throw conflict(`report "${report.id}" already exists`);
      throw err;
    }
  }

  async get(id: string): Promise<ReportRecord | null> {
    const doc = await this.reports.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async listByOwner(ownerId: string, limit: number, before?: string): Promise<ReportRecord[]> {
    if (limit <= 0) return [];
    const filter: Filter<ReportDoc> = { ownerId };
    if (before !== undefined) filter._id = { $lt: before };
    const docs = await this.reports.find(filter).sort({ _id: -1 }).limit(limit).toArray();
    return docs.map(fromDoc);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.reports.deleteOne({ _id: id })).deletedCount === 1;
  }

  async deleteByOwner(ownerId: string): Promise<number> {
    return (await this.reports.deleteMany({ ownerId })).deletedCount;
  }

  async countByOwner(ownerId: string): Promise<number> {
    return this.reports.countDocuments({ ownerId });
  }

  async deleteCreatedBefore(cutoff: number, ownerId?: string): Promise<number> {
    const filter: Filter<ReportDoc> = { createdAt: { $lt: cutoff } };
    if (ownerId !== undefined) filter.ownerId = ownerId;
    return (await this.reports.deleteMany(filter)).deletedCount;
  }
}
