// Moments in MongoDB: one document per moment, `_id` = `<channel>|<moment id>` (deterministic, so every
// process that detected it inserts the same document and the duplicate-key error means "kept already").
// With a message retention (MESSAGE_RETENTION_DAYS) a TTL index on `at` forgets moments with their messages;
// without one they are kept, as the timeline's buckets are. Per channel they are few: at most one of each
// kind per cooldown (src/channels/moments.ts).
import type { Collection, Db } from 'mongodb';
import type { MomentKind } from '../contract/index.js';
import { duplicateKeyIndex } from '../mongo/connection.js';
import type { MomentQuery, MomentStore, StoredMoment } from './moments.js';

export const MOMENTS_COLLECTION = 'moments';
const TTL_INDEX = 'moments_ttl';

interface MomentDoc {
  _id: string;
  id: string;
  channel: string;
  kind: MomentKind;
  score: number;
  ts: number;
  at: Date;
  sample: string[];
}

export class MongoMomentStore implements MomentStore {
  readonly #moments: Collection<MomentDoc>;

  constructor(db: Db) {
    this.#moments = db.collection<MomentDoc>(MOMENTS_COLLECTION);
  }

  /** The by-channel index, and the TTL index in line with the message retention (none: kept). */
  async ensureIndexes(retentionDays?: number): Promise<void> {
    await this.#moments.createIndex({ channel: 1, ts: -1, id: -1 }, { name: 'moments_channel_ts' }, undefined);
    const ttl = (await this.#moments.indexes()).find((i) => i.name === TTL_INDEX);
    const seconds = retentionDays === undefined ? undefined : Math.max(1, Math.round(retentionDays * 86_400));
    if (ttl && ttl.expireAfterSeconds !== seconds) await this.#moments.dropIndex(TTL_INDEX);
    if (seconds !== undefined && ttl?.expireAfterSeconds !== seconds)
      await this.#moments.createIndex({ at: 1 }, { name: TTL_INDEX, expireAfterSeconds: seconds }, undefined);
  }

  async insert(m: StoredMoment): Promise<void> {
    const doc: MomentDoc = {
      _id: `${m.channel}|${m.id}`,
      id: m.id,
      channel: m.channel,
      kind: m.kind,
      score: m.score,
      ts: m.ts,
      at: new Date(m.ts),
      sample: [...m.sample],
    };
    try {
      await this.#moments.insertOne(doc);
    } catch (err) {
      if (duplicateKeyIndex(err) === null) throw err; // a duplicate key: another process stored it first
    }
  }

  async list(channel: string, query: MomentQuery): Promise<StoredMoment[]> {
    const docs = await this.#moments
      .find({ channel, ts: { $gte: query.from, $lt: query.to } })
      .sort({ ts: -1, id: -1 })
      .limit(query.limit)
      .toArray();
    return docs.map((d) => ({ id: d.id, channel: d.channel, kind: d.kind, score: d.score, ts: d.ts, sample: d.sample }));
  }
}
