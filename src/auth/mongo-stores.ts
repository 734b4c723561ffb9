// Users in MongoDB: the ULID as `_id` (list pages walk the primary key) and the username stored a second
// time lower-cased, under a unique index: what makes "username taken" case-insensitive and race-free.
// API keys in MongoDB: the key id as `_id`, the key's hash under a unique index (what authentication looks
// up), and { userId, createdAt } for a user's listing.
import type { Collection, Db, UpdateFilter } from 'mongodb';
import { conflict } from '../errors.js';
import { COLLECTIONS, duplicateKeyIndex, INDEX } from '../mongo/connection.js';
import type { ApiKeyRecord, ApiKeyStore, Role, UserPatch, UserRecord, UserStore } from './stores.js';

/** The record with the ULID as `_id`, and the username a second time, lower-cased (the unique index). */
export type UserDoc = Omit<UserRecord, 'id'> & { _id: string; usernameLower: string };

/** The e-mail address and the pending mailed tokens (hashes and expiries), all optional. */
const MAIL_FIELDS = ['email', 'emailVerified', 'emailTokenHash', 'emailTokenExp', 'resetTokenHash', 'resetTokenExp'] as const;

function userToDoc(u: UserRecord): UserDoc {
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
  if (u.avatarFileId !== undefined) doc.avatarFileId = u.avatarFileId;
  if (u.tokenGen !== undefined) doc.tokenGen = u.tokenGen;
  for (const f of MAIL_FIELDS) if (u[f] !== undefined) Object.assign(doc, { [f]: u[f] });
  return doc;
}

function userFromDoc(d: UserDoc): UserRecord {
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
  if (d.avatarFileId !== undefined) u.avatarFileId = d.avatarFileId;
  if (d.tokenGen !== undefined) u.tokenGen = d.tokenGen;
  for (const f of MAIL_FIELDS) if (d[f] !== undefined) Object.assign(u, { [f]: d[f] });
  return u;
}

/** The fields a patch may change; anything else in it (id, createdAt at runtime) is ignored. */
const PATCHABLE = [
  'username',
  'passwordHash',
  'role',
  'disabled',
  'displayName',
  'avatarUrl',
  'avatarFileId',
  'tokenGen',
  ...MAIL_FIELDS,
] as const;
const OPTIONAL = ['displayName', 'avatarUrl', 'avatarFileId', 'tokenGen', ...MAIL_FIELDS] as const;
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
      await this.users.insertOne(userToDoc(user));
    } catch (err) {
      const index = duplicateKeyIndex(err);
      if (index === INDEX.id) throw conflict('user id taken');
      if (index !== null) throw conflict('username taken');
      throw err;
    }
  }

  async findById(id: string): Promise<UserRecord | null> {
    const doc = await this.users.findOne({ _id: id });
    return doc ? userFromDoc(doc) : null;
  }

  async findByUsername(username: string): Promise<UserRecord | null> {
    const doc = await this.users.findOne({ usernameLower: username.toLowerCase() });
    return doc ? userFromDoc(doc) : null;
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const update = toUpdate(patch);
    if (!update) return this.findById(id);
    try {
      const doc = await this.users.findOneAndUpdate({ _id: id }, update, { returnDocument: 'after' });
      return doc ? userFromDoc(doc) : null;
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
    return docs.map(userFromDoc);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.users.deleteOne({ _id: id })).deletedCount === 1;
  }
}

export type ApiKeyDoc = Omit<ApiKeyRecord, 'id'> & { _id: string };

const keyToDoc = (k: ApiKeyRecord): ApiKeyDoc => ({
  _id: k.id,
  userId: k.userId,
  name: k.name,
  prefix: k.prefix,
  hash: k.hash,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
});

const keyFromDoc = (d: ApiKeyDoc): ApiKeyRecord => ({
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
      await this.keys.insertOne(keyToDoc(rec));
    } catch (err) {
      if (duplicateKeyIndex(err) !== null) throw conflict('api key already exists');
      throw err;
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const doc = await this.keys.findOne({ hash });
    return doc ? keyFromDoc(doc) : null;
  }

  async listByUser(userId: string): Promise<ApiKeyRecord[]> {
    return (await this.keys.find({ userId }).sort({ createdAt: 1, _id: 1 }).toArray()).map(keyFromDoc);
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
    const [keys, usedSince] = await Promise.all([this.keys.countDocuments({}), this.keys.countDocuments({ lastUsedAt: { $gte: since } })]);
    return { keys, usedSince };
  }
}
