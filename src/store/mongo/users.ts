// Users in MongoDB: the ULID as `_id` (list pages walk the primary key) and the username stored a second
// time lower-cased, under a unique index: what makes "username taken" case-insensitive and race-free.
import type { Collection, Db, UpdateFilter } from 'mongodb';
import { conflict } from '../../errors.js';
import type { Role, UserPatch, UserRecord, UserStore } from '../../auth/stores.js';
import { COLLECTIONS, duplicateKeyIndex, INDEX } from './connection.js';

export interface UserDoc {
  _id: string;
  username: string;
  usernameLower: string;
  passwordHash: string;
  role: Role;
  createdAt: number;
  disabled: boolean;
  displayName?: string;
  avatarUrl?: string;
  /** Moved on by a password change: what retires older tokens, so it must survive every round trip. */
  tokenGen?: number;
}

function toDoc(u: UserRecord): UserDoc {
  const doc: UserDoc = {
    _id: u.id,
    username: u.username,
    usernameLower: u.username.toLowerCase(),
    passwordHash: u.passwordHash,
    role: u.role,
    createdAt: u.createdAt,
    disabled: u.disabled,
  };
  if (u.displayName !== undefined) doc.displayName = u.displayName;
  if (u.avatarUrl !== undefined) doc.avatarUrl = u.avatarUrl;
  if (u.tokenGen !== undefined) doc.tokenGen = u.tokenGen;
  return doc;
}

function fromDoc(d: UserDoc): UserRecord {
  const u: UserRecord = {
    id: d._id,
    username: d.username,
    passwordHash: d.passwordHash,
    role: d.role,
    createdAt: d.createdAt,
    disabled: d.disabled,
  };
  if (d.displayName !== undefined) u.displayName = d.displayName;
  if (d.avatarUrl !== undefined) u.avatarUrl = d.avatarUrl;
  if (d.tokenGen !== undefined) u.tokenGen = d.tokenGen;
  return u;
}

/** The fields a patch may change; anything else in it (id, createdAt at runtime) is ignored. */
const PATCHABLE = ['username', 'passwordHash', 'role', 'disabled', 'displayName', 'avatarUrl', 'tokenGen'] as const;
const OPTIONAL = ['displayName', 'avatarUrl', 'tokenGen'] as const;
type OptionalField = (typeof OPTIONAL)[number];
const isOptional = (field: string): field is OptionalField => (OPTIONAL as readonly string[]).includes(field);

function toUpdate(patch: UserPatch): UpdateFilter<UserDoc> | null {
  const set: Partial<UserDoc> = {};
  const unset: Partial<Record<OptionalField, ''>> = {};
  for (const field of PATCHABLE) {
    if (!(field in patch)) continue;
    const value = patch[field];
    if (value !== undefined) Object.assign(set, { [field]: value });
    // `{ displayName: undefined }` clears an optional field, as spreading it does in the memory driver.
    else if (isOptional(field)) unset[field] = '';
  }
  if (set.username !== undefined) set.usernameLower = set.username.toLowerCase();
  const update: UpdateFilter<UserDoc> = {};
  if (Object.keys(set).length > 0) update.$set = set;
  if (Object.keys(unset).length > 0) update.$unset = unset;
  return Object.keys(update).length > 0 ? update : null;
}

export class MongoUserStore implements UserStore {
  private readonly users: Collection<UserDoc>;

  constructor(db: Db) {
    this.users = db.collection<UserDoc>(COLLECTIONS.users);
  }

  async create(user: UserRecord): Promise<void> {
    try {
      await this.users.insertOne(toDoc(user));
    } catch (err) {
      const index = duplicateKeyIndex(err);
      if (index === INDEX.id) throw conflict('user id taken');
      if (index !== null) throw conflict('username taken');
      throw err;
    }
  }

  async findById(id: string): Promise<UserRecord | null> {
    const doc = await this.users.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async findByUsername(username: string): Promise<UserRecord | null> {
    const doc = await this.users.findOne({ usernameLower: username.toLowerCase() });
    return doc ? fromDoc(doc) : null;
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const update = toUpdate(patch);
    if (!update) return this.findById(id);
    try {
      const doc = await this.users.findOneAndUpdate({ _id: id }, update, { returnDocument: 'after' });
      return doc ? fromDoc(doc) : null;
    } catch (err) {
      if (duplicateKeyIndex(err) !== null) throw conflict('username taken');
      throw err;
    }
  }

  async countByRole(): Promise<Record<Role, number>> {
    const counts: Record<Role, number> = { user: 0, admin: 0 };
    const rows = await this.users.aggregate<{ _id: Role; n: number }>([{ $group: { _id: '$role', n: { $sum: 1 } } }]).toArray();
    for (const row of rows) counts[row._id] = row.n;
    return counts;
  }

  async list(limit: number, after?: string): Promise<UserRecord[]> {
    // limit(0) means "no limit" to MongoDB.
    if (limit <= 0) return [];
    const docs = await this.users
      .find(after === undefined ? {} : { _id: { $gt: after } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(fromDoc);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.users.deleteOne({ _id: id })).deletedCount === 1;
  }
}
