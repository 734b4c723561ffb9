// Native chat rooms: who owns them, who moderates, when chat is open, who is timed out. The store is a
// port (memory driver now; MongoDB with the persistence issue); the rules live in RoomService.
import type { RoomStatus, RoomView } from '../contract/index.js';
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
}

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
}

// A room as REST shows it: the contract's reply (null times: a stored time a Date cannot show).
export type { RoomStatus, RoomView };

export interface NewRoom {
  id: string;
  title?: string;
  opensAt?: number;
  closesAt?: number;
}

export interface RoomServiceOptions {
  maxRooms: number;
  /** Rooms one user may create (admins are bounded by maxRooms only). */
  maxRoomsPerUser: number;
  /** Longest timeout a moderator may give. */
  maxTimeoutS: number;
  /** Told of every deleted message, so the store forgets it too. */
  onRemove?: (channel: string, ids: readonly string[]) => void;
}

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
  };
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
    };
    await this.store.create(room);
    return room;
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
    return badges;
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
    return updated;
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
