// Rooms in MongoDB: the room id as `_id` (a second create of one id is a duplicate key, also when two race)
// and a creation sequence number from a counter document, which gives the memory driver's order (oldest
// first, not id order) without trusting the clocks of many hosts, and cheap "rooms after X" pages.
// A lifecycle transition is one findOneAndUpdate whose filter holds the expected `lifecycle.seq` (the
// compare-and-set); due rooms are found through the `lifecycle.endsAt` index (null once ended).
import type { Collection, Db } from 'mongodb';
import { conflict } from '../errors.js';
import type { RoomRecord, RoomStore, RoomTransition } from './rooms.js';
import { COLLECTIONS, duplicateKeyIndex } from '../mongo/connection.js';

/** The record with its id as `_id`, and `seq`: its creation number (the listing order). */
export type RoomDoc = Omit<RoomRecord, 'id'> & { _id: string; seq: number };

interface CounterDoc {
  _id: string;
  seq: number;
}

type RoomPatch = Partial<Omit<RoomRecord, 'id' | 'createdAt'>>;

const PATCHABLE = ['title', 'ownerId', 'moderators', 'opensAt', 'closesAt', 'closedAt', 'timeouts', 'badges'] as const;

const fromDoc = (d: RoomDoc): RoomRecord => ({
  id: d._id,
  title: d.title,
  ownerId: d.ownerId,
  moderators: d.moderators,
  opensAt: d.opensAt,
  closesAt: d.closesAt,
  closedAt: d.closedAt,
  createdAt: d.createdAt,
  timeouts: d.timeouts,
  ...(d.lifecycle ? { lifecycle: d.lifecycle } : {}),
  ...(d.badges ? { badges: d.badges } : {}),
});

export class MongoRoomStore implements RoomStore {
  private readonly rooms: Collection<RoomDoc>;
  private readonly counters: Collection<CounterDoc>;

  constructor(db: Db) {
    this.rooms = db.collection<RoomDoc>(COLLECTIONS.rooms);
    this.counters = db.collection<CounterDoc>(COLLECTIONS.counters);
  }

  async create(room: RoomRecord): Promise<void> {
    // A number taken by a create that then loses its race is skipped: the order needs no dense sequence.
    // Concurrent first upserts of the counter are retried by the server (equality on `_id`).
    const counter = await this.counters.findOneAndUpdate(
      { _id: COLLECTIONS.rooms },
      { $inc: { seq: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    if (!counter) throw new Error('room sequence upsert returned no document');
    const doc: RoomDoc = {
      _id: room.id,
      seq: counter.seq,
      title: room.title,
      ownerId: room.ownerId,
      moderators: [...room.moderators],
      opensAt: room.opensAt,
      closesAt: room.closesAt,
      closedAt: room.closedAt,
      createdAt: room.createdAt,
      timeouts: { ...room.timeouts },
      ...(room.lifecycle ? { lifecycle: structuredClone(room.lifecycle) } : {}),
    };
    try {
      await this.rooms.insertOne(doc);
    } catch (err) {
      if (duplicateKeyIndex(err) !== null) throw conflict(`room "${room.id}" already exists`);
      throw err;
    }
  }

  async get(id: string): Promise<RoomRecord | null> {
    const doc = await this.rooms.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async list(limit: number, after?: string): Promise<RoomRecord[]> {
    if (limit <= 0) return [];
    let seq = -1;
    if (after !== undefined) {
      const from = await this.rooms.findOne({ _id: after }, { projection: { seq: 1 } });
      // As the memory driver: nothing follows an unknown room.
      if (!from) return [];
      seq = from.seq;
    }
    const docs = await this.rooms
      .find({ seq: { $gt: seq } })
      .sort({ seq: 1 })
      .limit(limit)
      .toArray();
    return docs.map(fromDoc);
  }

  async update(id: string, patch: RoomPatch): Promise<RoomRecord | null> {
    // Only the fields named are set, so concurrent updates of different fields all land.
    const set: Partial<RoomDoc> = {};
    for (const field of PATCHABLE) {
      const value = patch[field];
      if (value !== undefined) Object.assign(set, { [field]: value });
    }
    if (Object.keys(set).length === 0) return this.get(id);
    const doc = await this.rooms.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
    return doc ? fromDoc(doc) : null;
  }

  async count(): Promise<number> {
    return this.rooms.countDocuments({});
  }

  async transition(id: string, expectSeq: number, next: RoomTransition): Promise<RoomRecord | null> {
    const set: Partial<RoomDoc> = { lifecycle: next.lifecycle };
    if (next.closedAt !== undefined) set.closedAt = next.closedAt;
    const doc = await this.rooms.findOneAndUpdate({ _id: id, 'lifecycle.seq': expectSeq }, { $set: set }, { returnDocument: 'after' });
    return doc ? fromDoc(doc) : null;
  }

  async due(now: number, limit: number): Promise<RoomRecord[]> {
    if (limit <= 0) return [];
    const docs = await this.rooms
      .find({ 'lifecycle.endsAt': { $lte: now }, 'lifecycle.state': { $ne: 'ended' } })
      .limit(limit)
      .toArray();
    return docs.map(fromDoc);
  }

  async countByOwner(ownerId: string): Promise<number> {
    return this.rooms.countDocuments({ ownerId });
  }
}
