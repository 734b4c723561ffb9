// The audit log in MongoDB: one document per entry, its ULID as `_id`; a TTL index on `at` forgets entries
// after AUDIT_RETENTION_DAYS.
import type { Collection, Db, Filter } from 'mongodb';
import type { AuditEntry, AuditQuery, AuditStore } from './audit.js';

export const AUDIT_COLLECTION = 'audit';

type AuditDoc = Omit<AuditEntry, 'id' | 'ts'> & { _id: string; at: Date };

const toDoc = (e: AuditEntry): AuditDoc => ({
  _id: e.id,
  at: new Date(e.ts),
  kind: e.kind,
  actor: e.actor,
  target: e.target,
  outcome: e.outcome,
  ip: e.ip,
  request_id: e.request_id,
});

const fromDoc = (d: AuditDoc): AuditEntry => ({
  id: d._id,
  ts: d.at.getTime(),
  kind: d.kind,
  actor: d.actor,
  target: d.target,
  outcome: d.outcome,
  ip: d.ip,
  request_id: d.request_id,
});

export class MongoAuditStore implements AuditStore {
  readonly #entries: Collection<AuditDoc>;
  readonly #retentionS: number;

  constructor(db: Db, retentionDays: number) {
    this.#entries = db.collection<AuditDoc>(AUDIT_COLLECTION);
    this.#retentionS = retentionDays * 86_400;
  }

  /** The TTL index (retention) and the by-kind index; a changed retention replaces the TTL index. */
  async ensureIndexes(): Promise<void> {
    try {
      await this.#entries.createIndex({ at: 1 }, { name: 'audit_ttl', expireAfterSeconds: this.#retentionS }, undefined);
    } catch {
      await this.#entries.dropIndex('audit_ttl').catch(() => undefined);
      await this.#entries.createIndex({ at: 1 }, { name: 'audit_ttl', expireAfterSeconds: this.#retentionS }, undefined);
    }
    await this.#entries.createIndex({ kind: 1, _id: -1 }, { name: 'audit_kind' }, undefined);
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length > 0) await this.#entries.insertMany(entries.map(toDoc), { ordered: false });
  }

  async list(q: AuditQuery): Promise<AuditEntry[]> {
    const filter: Filter<AuditDoc> = {};
    if (q.before !== undefined) filter._id = { $lt: q.before };
    if (q.kind !== undefined) filter.kind = q.kind;
    const docs = await this.#entries.find(filter).sort({ _id: -1 }).limit(q.limit).toArray();
    return docs.map(fromDoc);
  }

  async deleteBefore(ts: number): Promise<number> {
    return (await this.#entries.deleteMany({ at: { $lt: new Date(ts) } })).deletedCount;
  }
}
