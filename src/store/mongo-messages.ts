// Messages in MongoDB: one document per message, the ULID as `_id` so that a replayed insert hits the
// primary key (and is skipped) and paging newest-first is a walk down the { channel, _id } index. Reads
// over a time range name the { channel, ts } index: with a cursor and a sort on `_id` as well, the planner
// may otherwise walk the `_id` index across a whole channel to find a short range.
import type { Collection, Db, Filter } from 'mongodb';
import type { MessageQuery, MessageStore, QuotedMessage, SentimentPoint } from './stores.js';
import type { StoredMessage } from '../vocabulary.js';
import { asWriteError, COLLECTIONS, duplicateKeyOps } from '../mongo/connection.js';

/** The key of the `messages_channel_ts` index (see connection.ts). */
const BY_TS = { channel: 1, ts: -1 } as const;

/** The message with its ULID as `_id`, and `ts` again as a Date: what the retention TTL index reads (TTL ignores numbers). */
export type MessageDoc = Omit<StoredMessage, 'id'> & { _id: string; at: Date };

function toDoc(m: StoredMessage): MessageDoc {
  const doc: MessageDoc = {
    _id: m.id,
    channel: m.channel,
    source: m.source,
    user: { id: m.user.id, name: m.user.name, badges: [...m.user.badges] },
    text: m.text,
    label: m.label,
    score: m.score,
    polarity: m.polarity,
    ts: m.ts,
    at: new Date(m.ts),
  };
  if (m.sourceId !== undefined) doc.sourceId = m.sourceId;
  return doc;
}

function fromDoc(d: MessageDoc): StoredMessage {
  const m: StoredMessage = {
    id: d._id,
    channel: d.channel,
    source: d.source,
    user: { id: d.user.id, name: d.user.name, badges: d.user.badges },
    text: d.text,
    label: d.label,
    score: d.score,
    polarity: d.polarity,
    ts: d.ts,
  };
  if (d.sourceId !== undefined) m.sourceId = d.sourceId;
  return m;
}

export class MongoMessageStore implements MessageStore {
  private readonly messages: Collection<MessageDoc>;

  constructor(db: Db) {
    this.messages = db.collection<MessageDoc>(COLLECTIONS.messages);
  }

  async insertMany(messages: readonly StoredMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      // Unordered: a duplicate (a replay) must not stop the messages after it.
      await this.messages.bulkWrite(
        messages.map((m) => ({ insertOne: { document: toDoc(m) } })),
        { ordered: false },
      );
    } catch (err) {
      if (duplicateKeyOps(err) === null) throw asWriteError(err);
    }
  }

  async list(channel: string, query: MessageQuery): Promise<StoredMessage[]> {
    if (query.limit <= 0) return [];
    const filter: Filter<MessageDoc> = { channel };
    if (query.before !== undefined) filter._id = { $lt: query.before };
    if (query.from !== undefined || query.to !== undefined) {
      filter.ts = {
        ...(query.from !== undefined && { $gte: query.from }),
        ...(query.to !== undefined && { $lt: query.to }),
      };
    }
    const cursor = this.messages.find(filter).sort({ _id: -1 }).limit(query.limit);
    if (filter.ts !== undefined) cursor.hint(BY_TS);
    return (await cursor.toArray()).map(fromDoc);
  }

  async points(channel: string, from: number, to: number, limit: number): Promise<SentimentPoint[]> {
    if (limit <= 0) return [];
    const docs = await this.messages
      .find({ channel, ts: { $gte: from, $lt: to } }, { projection: { _id: 0, ts: 1, label: 1, polarity: 1 } })
      .hint(BY_TS)
      .limit(limit)
      .toArray();
    return docs.map((d) => ({ ts: d.ts, label: d.label, polarity: d.polarity }));
  }

  async extremes(channel: string, from: number, to: number, n: number): Promise<{ negative: QuotedMessage[]; positive: QuotedMessage[] }> {
    if (n <= 0) return { negative: [], positive: [] };
    // Sorted and cut on the server (a top-n sort): only 2n short documents come back.
    const side = (polarity: Filter<MessageDoc>['polarity'], order: 1 | -1) =>
      this.messages
        .find({ channel, ts: { $gte: from, $lt: to }, polarity }, { projection: { _id: 1, text: 1, polarity: 1 } })
        .hint(BY_TS)
        .sort({ polarity: order, _id: 1 })
        .limit(n)
        .toArray();
    const [negative, positive] = await Promise.all([side({ $lt: 0 }, 1), side({ $gt: 0 }, -1)]);
    const quote = (d: Pick<MessageDoc, '_id' | 'text' | 'polarity'>): QuotedMessage => ({ id: d._id, text: d.text, polarity: d.polarity });
    return { negative: negative.map(quote), positive: positive.map(quote) };
  }

  async remove(channel: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await this.messages.deleteMany({ channel, _id: { $in: [...ids] } });
    } catch (err) {
      throw asWriteError(err);
    }
  }

  async count(): Promise<number> {
    // From collection metadata rather than a scan: this feeds overviews and metrics, not decisions.
    return this.messages.estimatedDocumentCount();
  }
}
