// Native chat rooms: who owns them, who moderates, when chat is open, who is timed out. The store is a
// port (memory driver now; MongoDB with the persistence issue); the rules live in RoomService.
import type { RoomState, RoomStatus, RoomView } from '../contract/index.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { Principal, Role } from '../auth/index.js';
import { KeyedSerializer } from '../limits/index.js';
import { roomChannel } from './names.js';
import type { ChannelBus } from './bus.js';

export interface RoomRecord {
  id: string;
  title: string;
  /** Null only for rooms auto-created by a first post in older versions: only admins moderate those. */
  ownerId: string | null;
  moderators: string[];
  /** Epoch ms; chat is refused outside [opensAt, closesAt). Bounded by ROOM_TIME_RANGE when created. */
  opensAt: number | null;
  closesAt: number | null;
  closedAt: number | null;
  createdAt: number;
  /** userId -> epoch ms until which the user may not post. Read with Object.hasOwn: keys are user ids. */
  timeouts: Record<string, number>;
  /** A private room (matching): only these users may post; everyone else may still read it. Absent: anyone. */
  members?: string[];
  /** userId -> badges awarded in this room by its host or moderators (read with Object.hasOwn). */
  badges?: Record<string, string[]>;
  /** Lifecycle rooms only (room-lifecycle.ts): private rooms from matching, rooms created with `lifecycle: true`. */
  lifecycle?: RoomLifecycle;
}

/** Where a lifecycle room stands. Changed only through `RoomStore.transition` (a compare-and-set on `seq`). */
export interface RoomLifecycle {
  /** Never `kept`: that is announced, and the room is stored `active` again. */
  state: RoomState;
  /** Epoch ms at which the sweeper advances the room; null once ended. */
  endsAt: number | null;
  /** userId -> keep?, during `decision` (read with Object.hasOwn). */
  decisions: Record<string, boolean>;
  /** +1 on every write: what a transition expects to find, so each change happens exactly once. */
  seq: number;
}

/** A lifecycle as it starts: `active` for `activeMs`. */
export const startLifecycle = (now: number, activeMs: number): RoomLifecycle => ({
  state: 'active',
  endsAt: now + activeMs,
  decisions: {},
  seq: 1,
});

/** What a transition writes: the next lifecycle, and `closedAt` when it ends the room. */
export interface RoomTransition {
  lifecycle: RoomLifecycle;
  closedAt?: number;
}

/** The record of a private room for `members`: no owner (nobody hosts it, admins moderate), no time window. */
export function privateRoom(
  id: string,
  members: readonly string[],
  title: string,
  now: number,
  extra: Partial<RoomRecord> = {},
): RoomRecord {
  return {
    id,
    title,
    ownerId: null,
    moderators: [],
    opensAt: null,
    closesAt: null,
    closedAt: null,
    createdAt: now,
    timeouts: {},
    ...extra,
    members: [...members],
  };
}

export interface RoomStore {
  /** Throws conflict when the id is taken. */
  create(room: RoomRecord): Promise<void>;
  get(id: string): Promise<RoomRecord | null>;
  /** Oldest first, ids after `after`. */
  list(limit: number, after?: string): Promise<RoomRecord[]>;
  update(id: string, patch: Partial<Omit<RoomRecord, 'id' | 'createdAt'>>): Promise<RoomRecord | null>;
  count(): Promise<number>;
  /** Rooms created by this owner (the per-user quota). */
  countByOwner(ownerId: string): Promise<number>;
  /**
   * Writes the transition only if the room's lifecycle still has `seq === expectSeq` (atomic in every driver);
   * the room after it, or null when the room is missing, has no lifecycle, or moved on meanwhile.
   */
  transition(id: string, expectSeq: number, next: RoomTransition): Promise<RoomRecord | null>;
  /** Lifecycle rooms not ended whose `endsAt` is at or before `now`, at most `limit` (the sweeper's work). */
  due(now: number, limit: number): Promise<RoomRecord[]>;
}

/** Whether a stored lifecycle is one the sweeper must advance now. */
export const isDue = (room: RoomRecord, now: number): boolean => {
  const l = room.lifecycle;
  return l !== undefined && l.state !== 'ended' && typeof l.endsAt === 'number' && l.endsAt <= now;
};

export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, RoomRecord>();

  async create(room: RoomRecord): Promise<void> {
    if (this.rooms.has(room.id)) throw conflict(`room "${room.id}" already exists`);
    this.rooms.set(room.id, structuredClone(room));
  }

  async get(id: string): Promise<RoomRecord | null> {
    const room = this.rooms.get(id);
    return room ? structuredClone(room) : null;
  }

  async list(limit: number, after?: string): Promise<RoomRecord[]> {
    const out: RoomRecord[] = [];
    let started = after === undefined;
    for (const [id, room] of this.rooms) {
      if (!started) {
        started = id === after;
        continue;
      }
      out.push(structuredClone(room));
      if (out.length === limit) break;
    }
    return out;
  }

  async update(id: string, patch: Partial<Omit<RoomRecord, 'id' | 'createdAt'>>): Promise<RoomRecord | null> {
    const room = this.rooms.get(id);
    if (!room) return null;
    Object.assign(room, structuredClone(patch));
    return structuredClone(room);
  }

  async count(): Promise<number> {
    return this.rooms.size;
  }

  async countByOwner(ownerId: string): Promise<number> {
    let n = 0;
    for (const room of this.rooms.values()) if (room.ownerId === ownerId) n++;
    return n;
  }

  async transition(id: string, expectSeq: number, next: RoomTransition): Promise<RoomRecord | null> {
    const room = this.rooms.get(id);
    if (room?.lifecycle?.seq !== expectSeq) return null;
    room.lifecycle = structuredClone(next.lifecycle);
    if (next.closedAt !== undefined) room.closedAt = next.closedAt;
    return structuredClone(room);
  }

  async due(now: number, limit: number): Promise<RoomRecord[]> {
    const out: RoomRecord[] = [];
    for (const room of this.rooms.values()) {
      if (out.length === limit) break;
      if (isDue(room, now)) out.push(structuredClone(room));
    }
    return out;
  }
}

// A room as REST shows it: the contract's reply (null times: a stored time a Date cannot show).
export type { RoomStatus, RoomView };

export interface NewRoom {
  id: string;
  title?: string;
  opensAt?: number;
  closesAt?: number;
  /** active -> countdown -> decision -> kept | ended (room-lifecycle.ts). */
  lifecycle?: boolean;
}

export interface RoomServiceOptions {
  maxRooms: number;
  /** Rooms one user may create (admins are bounded by maxRooms only). */
  maxRoomsPerUser: number;
  /** Longest timeout a moderator may give. */
  maxTimeoutS: number;
  /** Told of every deleted message, so the store forgets it too. */
  onRemove?: (channel: string, ids: readonly string[]) => void;
  /** How long a lifecycle room's first `active` period lasts (ROOM_ACTIVE_S); default 300 s. */
  roomActiveMs?: number;
}

const DEFAULT_ROOM_ACTIVE_MS = 300_000;

/** Users timed out at once per room, expired entries not counted: a host cannot grow a record without bound. */
export const MAX_TIMEOUTS_PER_ROOM = 1000;

/** Times a room may be scheduled at: not before 2000, not more than ten years ahead. */
export const ROOM_TIME_RANGE = { min: Date.UTC(2000, 0, 1), aheadMs: 10 * 365.25 * 24 * 3_600_000 };

/** The users a room names: moderators by name, timeouts by id (both must exist). */
export interface RoomUsers {
  findByUsername(username: string): Promise<{ id: string } | null>;
  findById(id: string): Promise<{ id: string; role: Role } | null>;
}

// Records written by an older version (or by hand) may hold times a Date cannot show: those read as null
// rather than failing every listing that includes them.
const iso = (ms: unknown): string | null => {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
};

export function roomStatus(room: RoomRecord, now: number): RoomStatus {
  // typeof, not `!== null`: a field missing from an old record must not read as "closed at undefined".
  if (typeof room.closedAt === 'number') return 'closed';
  if (typeof room.opensAt === 'number' && now < room.opensAt) return 'scheduled';
  if (typeof room.closesAt === 'number' && now >= room.closesAt) return 'ended';
  return 'open';
}

export function roomView(room: RoomRecord, now = Date.now()): RoomView {
  return {
    id: room.id,
    channel: roomChannel(room.id),
    title: typeof room.title === 'string' ? room.title : room.id,
    owner_id: typeof room.ownerId === 'string' ? room.ownerId : null,
    moderators: Array.isArray(room.moderators) ? room.moderators.filter((m) => typeof m === 'string') : [],
    opens_at: iso(room.opensAt),
    closes_at: iso(room.closesAt),
    closed_at: iso(room.closedAt),
    created_at: iso(room.createdAt),
    status: roomStatus(room, now),
    ...lifecycleView(room),
  };
}

function lifecycleView(room: RoomRecord): Pick<RoomView, 'state' | 'state_ends_at'> {
  const l = room.lifecycle as Partial<RoomLifecycle> | null | undefined;
  if (typeof l !== 'object' || l === null || typeof l.state !== 'string') return {};
  return { state: l.state, state_ends_at: iso(l.endsAt) };
}

/** Badges that come with a role (RoomService.badges adds them); none of them is awarded. */
const ROLE_BADGES = new Set(['host', 'moderator', 'admin']);
/** Awarded badges: per user in a room, and users with any, so a host cannot grow a record without bound. */
export const MAX_BADGES_PER_USER = 8;
export const MAX_BADGED_USERS_PER_ROOM = 1000;

/** The badges awarded to a user in a room (prototype-safe: the key is a user id; a damaged field reads as none). */
export function awardedBadges(room: RoomRecord, userId: string): string[] {
  const badges = room.badges as Record<string, unknown> | null | undefined;
  if (typeof badges !== 'object' || badges === null || !Object.hasOwn(badges, userId)) return [];
  const held = badges[userId];
  return Array.isArray(held) ? held.filter((b): b is string => typeof b === 'string') : [];
}

/** The time a user is timed out until, if any (prototype-safe: the key is a user id). */
export function timedOutUntil(room: RoomRecord, userId: string): number | undefined {
  const timeouts = room.timeouts as Record<string, unknown> | null | undefined;
  if (typeof timeouts !== 'object' || timeouts === null || !Object.hasOwn(timeouts, userId)) return undefined;
  const until = timeouts[userId];
  return typeof until === 'number' ? until : undefined;
}

function checkRoomTime(ms: number | undefined, field: string, now: number): void {
  if (ms === undefined) return;
  if (!Number.isSafeInteger(ms) || ms < ROOM_TIME_RANGE.min || ms > now + ROOM_TIME_RANGE.aheadMs) {
    throw badRequest(`${field} must be a time from 2000 to ten years from now`, 'validation_failed');
  }
}

export class RoomService {
  constructor(
    private readonly store: RoomStore,
    private readonly bus: ChannelBus,
    private readonly options: RoomServiceOptions,
    private readonly users: RoomUsers,
  ) {}

  private readonly creates = new KeyedSerializer();

  /**
   * A private room for matched users (no owner: nobody hosts it, admins moderate; not counted in anyone's
   * quota, nor refused at MAX_ROOMS: a pair must always get its room).
   */
  async createPrivate(id: string, members: readonly string[], title: string, extra: Partial<RoomRecord> = {}): Promise<RoomRecord> {
    // Private rooms from matching have the room lifecycle (API-CONTRACT "Social rooms").
    const room = privateRoom(id, members, title, Date.now(), { lifecycle: this.startLifecycle(Date.now()), ...extra });
    await this.store.create(room);
    return room;
  }

  async create(owner: Principal, spec: NewRoom): Promise<RoomRecord> {
    const now = Date.now();
    checkRoomTime(spec.opensAt, 'opens_at', now);
    checkRoomTime(spec.closesAt, 'closes_at', now);
    if (spec.opensAt !== undefined && spec.closesAt !== undefined && spec.closesAt <= spec.opensAt) {
      throw new AppError(400, 'validation_failed', 'closes_at must be after opens_at');
    }
    // Counted, then created, one create per user at a time in this process (see KeyedSerializer).
    return this.creates.run(owner.userId, () => this.createCounted(owner, spec, now));
  }

  private async createCounted(owner: Principal, spec: NewRoom, now: number): Promise<RoomRecord> {
    if (owner.role !== 'admin' && (await this.store.countByOwner(owner.userId)) >= this.options.maxRoomsPerUser) {
      throw new AppError(409, 'quota_exceeded', `you may create at most ${this.options.maxRoomsPerUser} rooms (MAX_ROOMS_PER_USER)`);
    }
    if ((await this.store.count()) >= this.options.maxRooms) {
      throw new AppError(503, 'room_limit', `this server holds at most ${this.options.maxRooms} rooms`);
    }
    const room: RoomRecord = {
      id: spec.id,
      title: spec.title ?? spec.id,
      ownerId: owner.userId,
      moderators: [],
      opensAt: spec.opensAt ?? null,
      closesAt: spec.closesAt ?? null,
      closedAt: null,
      createdAt: now,
      timeouts: {},
      ...(spec.lifecycle === true ? { lifecycle: this.startLifecycle(now) } : {}),
    };
    await this.store.create(room);
    return room;
  }

  private startLifecycle(now: number): RoomLifecycle {
    return startLifecycle(now, this.options.roomActiveMs ?? DEFAULT_ROOM_ACTIVE_MS);
  }

  async get(id: string): Promise<RoomRecord> {
    const room = await this.store.get(id);
    if (!room) throw notFound(`no room "${id}"`);
    return room;
  }

  list(limit: number, after?: string): Promise<RoomRecord[]> {
    return this.store.list(limit, after);
  }

  /**
   * The room a subscriber, poster or liker means. Rooms exist only through POST /api/v1/rooms: a chat, a
   * like or a subscribe never creates one (each would be a free, ownerless room anyone could mint).
   */
  async resolve(id: string): Promise<RoomRecord> {
    const room = await this.store.get(id);
    if (!room) throw notFound(`no room "${id}" (rooms are created with POST /api/v1/rooms)`);
    return room;
  }

  /** Why this user may not post now, or null. */
  postRefusal(room: RoomRecord, principal: Principal, now: number): AppError | null {
    const status = roomStatus(room, now);
    if (Array.isArray(room.members) && !room.members.includes(principal.userId)) {
      return new AppError(403, 'not_member', `room "${room.id}" is private: only its members may post`);
    }
    if (status === 'closed') return new AppError(403, 'room_closed', `room "${room.id}" is closed`);
    if (status === 'scheduled') return new AppError(403, 'room_not_open', `room "${room.id}" opens at ${iso(room.opensAt)}`);
    if (status === 'ended') return new AppError(403, 'room_ended', `room "${room.id}" closed at ${iso(room.closesAt)}`);
    const until = timedOutUntil(room, principal.userId);
    if (until !== undefined && until > now) {
      return new AppError(403, 'timed_out', `you are timed out in this room until ${iso(until)}`, {}, until - now);
    }
    return null;
  }

  badges(room: RoomRecord, principal: Principal): string[] {
    const badges: string[] = [];
    if (room.ownerId === principal.userId) badges.push('host');
    else if (room.moderators.includes(principal.userId)) badges.push('moderator');
    if (principal.role === 'admin') badges.push('admin');
    for (const badge of awardedBadges(room, principal.userId)) if (!badges.includes(badge)) badges.push(badge);
    return badges;
  }

  /** Awards `badge` to a user in this room (host, moderator or admin); returns the user's awarded badges. */
  async awardBadge(principal: Principal, id: string, userId: string, badge: string): Promise<string[]> {
    const room = await this.get(id);
    if (!this.canModerate(room, principal)) throw forbidden('only the room host, its moderators or an admin may award badges');
    if (ROLE_BADGES.has(badge)) throw badRequest(`"${badge}" comes with a role and cannot be awarded`, 'validation_failed');
    if (!(await this.users.findById(userId))) throw notFound(`no user "${userId}"`);
    const current = awardedBadges(room, userId);
    if (current.includes(badge)) return current;
    if (current.length >= MAX_BADGES_PER_USER) {
      throw new AppError(409, 'quota_exceeded', `a user holds at most ${MAX_BADGES_PER_USER} badges in a room`);
    }
    const all = new Map(Object.entries(room.badges ?? {}));
    if (!all.has(userId) && all.size >= MAX_BADGED_USERS_PER_ROOM) {
      throw new AppError(409, 'quota_exceeded', `a room awards badges to at most ${MAX_BADGED_USERS_PER_ROOM} users`);
    }
    const next = [...current, badge];
    all.set(userId, next);
    await this.store.update(id, { badges: Object.fromEntries(all) });
    return next;
  }

  /** Takes an awarded badge back (host, moderator or admin); 404 when the user does not hold it. */
  async removeBadge(principal: Principal, id: string, userId: string, badge: string): Promise<string[]> {
    const room = await this.get(id);
    if (!this.canModerate(room, principal)) throw forbidden('only the room host, its moderators or an admin may remove badges');
    const current = awardedBadges(room, userId);
    if (!current.includes(badge)) throw notFound(`user "${userId}" holds no badge "${badge}" in this room`);
    const all = new Map(Object.entries(room.badges ?? {}));
    const next = current.filter((b) => b !== badge);
    if (next.length === 0) all.delete(userId);
    else all.set(userId, next);
    await this.store.update(id, { badges: Object.fromEntries(all) });
    return next;
  }

  private isHost(room: RoomRecord, principal: Principal): boolean {
    return principal.role === 'admin' || room.ownerId === principal.userId;
  }

  private canModerate(room: RoomRecord, principal: Principal): boolean {
    return this.isHost(room, principal) || room.moderators.includes(principal.userId);
  }

  async close(principal: Principal, id: string): Promise<RoomRecord> {
    const room = await this.get(id);
    if (!this.isHost(room, principal)) throw forbidden('only the room host or an admin may close it');
    if (typeof room.closedAt === 'number') return room;
    const updated = (await this.store.update(id, { closedAt: Date.now() })) as RoomRecord;
    this.bus.publish({ kind: 'closed', channel: roomChannel(id) });
    return (await this.endLifecycleSoon(updated)) ?? updated;
  }

  /**
   * A closed lifecycle room's deadline is pulled to now, so the next sweep (any process) ends it and announces
   * `ended` to its members. A lost compare-and-set is left alone: a change that won still ends at its deadline.
   */
  private async endLifecycleSoon(room: RoomRecord): Promise<RoomRecord | null> {
    const l = room.lifecycle;
    if (!l || l.state === 'ended') return null;
    return this.store.transition(room.id, l.seq, { lifecycle: { ...l, endsAt: Date.now(), seq: l.seq + 1 } });
  }

  async addModerator(principal: Principal, id: string, username: string): Promise<RoomRecord> {
    const room = await this.get(id);
    if (!this.isHost(room, principal)) throw forbidden('only the room host or an admin may appoint moderators');
    const user = await this.users.findByUsername(username);
    if (!user) throw notFound(`no user "${username}"`);
    if (room.moderators.includes(user.id)) return room;
    return (await this.store.update(id, { moderators: [...room.moderators, user.id] })) as RoomRecord;
  }

  async removeModerator(principal: Principal, id: string, userId: string): Promise<RoomRecord> {
    const room = await this.get(id);
    if (!this.isHost(room, principal)) throw forbidden('only the room host or an admin may remove moderators');
    if (!room.moderators.includes(userId)) throw notFound(`user "${userId}" is not a moderator of this room`);
    return (await this.store.update(id, { moderators: room.moderators.filter((m) => m !== userId) })) as RoomRecord;
  }

  async deleteMessage(principal: Principal, id: string, messageId: string): Promise<void> {
    const room = await this.get(id);
    if (!this.canModerate(room, principal)) throw forbidden('only the room host, its moderators or an admin may delete messages');
    this.bus.publish({ kind: 'delete', channel: roomChannel(id), messageId });
    this.options.onRemove?.(roomChannel(id), [messageId]);
  }

  async timeout(principal: Principal, id: string, userId: string, durationS: number): Promise<number> {
    const room = await this.get(id);
    if (!this.canModerate(room, principal)) throw forbidden('only the room host, its moderators or an admin may time users out');
    if (userId === room.ownerId || (room.moderators.includes(userId) && !this.isHost(room, principal))) {
      throw forbidden('the host cannot be timed out, and moderators only by the host');
    }
    const user = await this.users.findById(userId);
    if (!user) throw notFound(`no user "${userId}"`);
    if (user.role === 'admin') throw forbidden('admins cannot be timed out');
    const now = Date.now();
    const until = now + Math.min(Math.max(1, Math.floor(durationS)), this.options.maxTimeoutS) * 1000;
    // Expired entries are dropped before counting; a Map, not an object, while user ids are keys. The
    // stored document is read as it is (as in timedOutUntil): the field may be missing or hold non-numbers.
    const stored = room.timeouts as Record<string, unknown> | null | undefined;
    const live = new Map<string, number>();
    for (const [uid, t] of Object.entries(stored ?? {})) if (typeof t === 'number' && t > now) live.set(uid, t);
    if (!live.has(user.id) && live.size >= MAX_TIMEOUTS_PER_ROOM) {
      throw new AppError(409, 'quota_exceeded', `a room holds at most ${MAX_TIMEOUTS_PER_ROOM} timeouts at once`);
    }
    live.set(user.id, until);
    await this.store.update(id, { timeouts: Object.fromEntries(live) });
    return until;
  }
}
