// One-minute buckets in MongoDB: one document per (channel, start), `_id` = `${channel}|${start}`, counts
// added with $inc upserts. Idempotence per batch: a bucket remembers, per writer stream, the seq of the
// last batch applied to it (`appliedSeq.<stream>`, see parseBatchId), and the update only matches a bucket
// whose seq for that stream is below the batch's. One number per writer that touched the minute, so the
// document stays small however many batches hit it, and no replay is forgotten, however late. When the
// bucket has seen the batch, the filter matches nothing, the upsert tries to insert the existing `_id`,
// and the duplicate-key error that follows is the "already applied" answer.
//
// The same error also comes from two batches creating one new bucket at once (the loser's upsert finds the
// `_id` taken, and the server does not retry upserts whose filter is more than the key). So a duplicate
// key is answered by writing that increment once more: now that the bucket exists, the update either
// matches (it was the race) or meets the key again (the batch really was applied).
//
// Buckets written before `appliedSeq` keep their `applied` array of batch ids (at most 200); the filter
// still honours it, so a spool written by an older version replays safely, and nothing adds to it.
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import { parseBatchId, type Bucket, type BucketIncrement, type BucketStore, type ChannelTotals } from './stores.js';
import { mergeIncrements } from './stores.js';
import { asWriteError, COLLECTIONS, duplicateKeyOps } from '../mongo/connection.js';

export interface BucketDoc {
  _id: string;
  channel: string;
  start: number;
  /** Absent from a bucket whose increments named no label: $inc creates only the fields it names. */
  counts?: Record<string, number>;
  polaritySum: number;
  /** The sum of counts, kept so totals need not add up label maps. */
  messages: number;
  /** Per writer stream, the seq of the last batch applied. */
  appliedSeq?: Record<string, number>;
  /** Written by older versions: the last 200 batch ids applied. Read, never written. */
  applied?: string[];
}

/** A stream name usable as a field name (no dots, no leading `$`); writer streams are ULIDs already. */
const fieldOf = (stream: string): string => (/^[A-Za-z0-9_-]+$/.test(stream) ? stream : `x${Buffer.from(stream, 'utf8').toString('hex')}`);

interface ChannelRow {
  _id: string;
  counts: Record<string, number>;
  messages: number;
  lastTs: number;
}

export class MongoBucketStore implements BucketStore {
  private readonly buckets: Collection<BucketDoc>;

  constructor(db: Db) {
    this.buckets = db.collection<BucketDoc>(COLLECTIONS.buckets);
  }

  async apply(batchId: string, increments: readonly BucketIncrement[]): Promise<void> {
    const { stream, seq } = parseBatchId(batchId);
    const seen = `appliedSeq.${fieldOf(stream)}`;
    // Merged first: two updates of one bucket under one batch id would see the second refused as a replay.
    const ops: AnyBulkWriteOperation<BucketDoc>[] = mergeIncrements(increments).map((inc) => {
      const $inc: Record<string, number> = { polaritySum: inc.polaritySum };
      let messages = 0;
      for (const [label, n] of Object.entries(inc.counts)) {
        $inc[`counts.${label}`] = n;
        messages += n;
      }
      $inc.messages = messages;
      return {
        updateOne: {
          // `$not: { $gte }` also matches a bucket this stream never touched.
          filter: { _id: `${inc.channel}|${inc.start}`, [seen]: { $not: { $gte: seq } }, applied: { $ne: batchId } },
          update: { $inc, $setOnInsert: { channel: inc.channel, start: inc.start }, $max: { [seen]: seq } },
          upsert: true,
        },
      };
    });
    try {
      const again = await this.write(ops);
      if (again.length > 0) await this.write(again);
    } catch (err) {
      throw asWriteError(err);
    }
  }

  /** One unordered bulk write; returns the operations refused on a duplicate key. */
  private async write(ops: AnyBulkWriteOperation<BucketDoc>[]): Promise<AnyBulkWriteOperation<BucketDoc>[]> {
    if (ops.length === 0) return [];
    try {
      await this.buckets.bulkWrite(ops, { ordered: false });
      return [];
    } catch (err) {
      const refused = duplicateKeyOps(err);
      if (refused === null) throw err;
      return refused.map((i) => ops[i] as AnyBulkWriteOperation<BucketDoc>);
    }
  }

  async range(channel: string, from: number, to: number): Promise<Bucket[]> {
    const docs = await this.buckets
      .find({ channel, start: { $gte: from, $lt: to } }, { projection: { start: 1, counts: 1, polaritySum: 1 } })
      .sort({ start: 1 })
      .toArray();
    return docs.map((d) => ({ start: d.start, counts: d.counts ?? {}, polaritySum: d.polaritySum }));
  }

  async channels(limit: number): Promise<ChannelTotals[]> {
    if (limit <= 0) return [];
    const rows = await this.buckets
      .aggregate<ChannelRow>([
        { $group: { _id: '$channel', lastTs: { $max: '$start' }, messages: { $sum: '$messages' } } },
        // Ties by name, as the memory driver, so both give one order.
        { $sort: { lastTs: -1, _id: 1 } },
        { $limit: limit },
        // Label sums only for the channels kept; $group cannot add up maps whose keys it does not know, so
        // each bucket's counts are unwound into (label, n) pairs first.
        {
          $lookup: {
            from: COLLECTIONS.buckets,
            let: { channel: '$_id' },
            pipeline: [
              { $match: { $expr: { $eq: ['$channel', '$$channel'] } } },
              { $project: { label: { $objectToArray: '$counts' } } },
              { $unwind: '$label' },
              { $group: { _id: '$label.k', v: { $sum: '$label.v' } } },
            ],
            as: 'labels',
          },
        },
        {
          $project: {
            lastTs: 1,
            messages: 1,
            counts: { $arrayToObject: { $map: { input: '$labels', in: { k: '$$this._id', v: '$$this.v' } } } },
          },
        },
        // $lookup keeps no order of its own.
        { $sort: { lastTs: -1, _id: 1 } },
      ])
      .toArray();
    return rows.map((r) => ({ channel: r._id, messages: r.messages, counts: r.counts, lastTs: r.lastTs }));
  }
}
