// Native chat rooms: who owns them, who moderates, when chat is open, who is timed out. The store is a
// port (memory driver now; MongoDB with the persistence issue); the rules live in RoomService.
import { AppError, conflict, forbidden, notFound } from '../errors.js';
import type { Principal } from '../auth/index.js';
import { roomChannel } from './names.js';
import type { ChannelBus } from './bus.js';

export interface RoomRecord {
  id: string;
  title: string;
  /** Null for rooms auto-created by a first post: only admins moderate those. */
  ownerId: string | null;
  moderators: string[];
  /** Epoch ms; chat is refused outside [opensAt, closesAt). */
  opensAt: number | null;
  closesAt: number | null;
  closedAt: number | null;
  createdAt: number;
  /** userId -> epoch ms until which the user may not post. */
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
}

export type RoomStatus = 'scheduled' | 'open' | 'ended' | 'closed';

export interface RoomView {
  id: string;
  channel: string;
  title: string;
  owner_id: string | null;
  moderators: string[];
  opens_at: string | null;
  closes_at: string | null;
  closed_at: string | null;
  created_at: string;
  status: RoomStatus;
}

export interface NewRoom {
  id: string;
  title?: string;
  opensAt?: number;
  closesAt?: number;
}

export interface RoomServiceOptions {
  autoCreate: boolean;
  maxRooms: number;
  /** Longest timeout a moderator may give. */
  maxTimeoutS: number;
  /** Told of every deleted message, so the store forgets it too. */
  onRemove?: (channel: string, ids: readonly string[]) => void;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function roomStatus(room: RoomRecord, now: number): RoomStatus {
  if (room.closedAt !== null) return 'closed';
  if (room.opensAt !== null && now < room.opensAt) return 'scheduled';
  if (room.closesAt !== null && now >= room.closesAt) return 'ended';
  return 'open';
}

export function roomView(room: RoomRecord, now = Date.now()): RoomView {
  return {
    id: room.id,
    channel: roomChannel(room.id),
    title: room.title,
    owner_id: room.ownerId,
    moderators: room.moderators,
    opens_at: iso(room.opensAt),
    closes_at: iso(room.closesAt),
    closed_at: iso(room.closedAt),
    created_at: iso(room.createdAt) as string,
    status: roomStatus(room, now),
  };
}

export class RoomService {
  constructor(
    private readonly store: RoomStore,
    private readonly bus: ChannelBus,
    private readonly options: RoomServiceOptions,
    private readonly findUser: (username: string) => Promise<{ id: string } | null>,
  ) {}

  get autoCreate(): boolean {
    return this.options.autoCreate;
  }

  async create(owner: Principal | null, spec: NewRoom): Promise<RoomRecord> {
    if (spec.opensAt !== undefined && spec.closesAt !== undefined && spec.closesAt <= spec.opensAt) {
      throw new AppError(400, 'validation_failed', 'closes_at must be after opens_at');
    }
    if ((await this.store.count()) >= this.options.maxRooms) {
      throw new AppError(503, 'room_limit', `this server holds at most ${this.options.maxRooms} rooms`);
    }
    const room: RoomRecord = {
      id: spec.id,
      title: spec.title ?? spec.id,
      ownerId: owner?.userId ?? null,
      moderators: [],
      opensAt: spec.opensAt ?? null,
      closesAt: spec.closesAt ?? null,
      closedAt: null,
      createdAt: Date.now(),
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

  /** The room a subscriber or poster means: existing, or auto-created when that is configured. */
  async resolve(id: string, poster: Principal | null): Promise<RoomRecord> {
    const room = await this.store.get(id);
    if (room) return room;
    if (!this.options.autoCreate) throw notFound(`no room "${id}" (rooms are created with POST /api/v1/rooms)`);
    if (poster === null) return { id, title: id, ownerId: null, moderators: [], opensAt: null, closesAt: null, closedAt: null, createdAt: Date.now(), timeouts: {} };
    try {
      return await this.create(null, { id });
    } catch (err) {
      // Two first posts at once: the other one created it.
      if (err instanceof AppError && err.status === 409) return this.get(id);
      throw err;
    }
  }

  /** Why this user may not post now, or null. */
  postRefusal(room: RoomRecord, principal: Principal, now: number): AppError | null {
    const status = roomStatus(room, now);
    if (status === 'closed') return new AppError(403, 'room_closed', `room "${room.id}" is closed`);
    if (status === 'scheduled') return new AppError(403, 'room_not_open', `room "${room.id}" opens at ${iso(room.opensAt)}`);
    if (status === 'ended') return new AppError(403, 'room_ended', `room "${room.id}" closed at ${iso(room.closesAt)}`);
    const until = room.timeouts[principal.userId];
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
    if (room.closedAt !== null) return room;
    const updated = (await this.store.update(id, { closedAt: Date.now() })) as RoomRecord;
    this.bus.publish({ kind: 'closed', channel: roomChannel(id) });
    return updated;
  }

  async addModerator(principal: Principal, id: string, username: string): Promise<RoomRecord> {
    const room = await this.get(id);
    if (!this.isHost(room, principal)) throw forbidden('only the room host or an admin may appoint moderators');
    const user = await this.findUser(username);
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
    const now = Date.now();
    const until = now + Math.min(durationS, this.options.maxTimeoutS) * 1000;
    const timeouts = Object.fromEntries(Object.entries(room.timeouts).filter(([, t]) => t > now));
    timeouts[userId] = until;
    await this.store.update(id, { timeouts });
    return until;
  }
}
