// The room lifecycle: active -> countdown -> decision -> kept (active again) | ended, for private rooms from
// matching and rooms created with `lifecycle: true`. The state and its deadline live in the shared RoomStore;
// every change is one `RoomStore.transition` (a compare-and-set on the lifecycle's `seq`), so a change is
// made, and announced, exactly once however many processes try it. Every process runs a sweeper that
// advances rooms whose deadline passed: a room outlives the process that created it (even one killed -9).
//
// Failure policy: a sweep that cannot reach the store logs once and tries again on the next tick; a lost
// compare-and-set means another process made that change (the sweeper skips it, a member's action is
// re-read and re-checked). Frames and notifications are delivered at most once, like every bus event.
import type { Principal } from '../auth/index.js';
import { frames, type RoomState } from '../contract/index.js';
import { AppError, notFound } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { ChannelBus } from './bus.js';
import { parseChannel, roomChannel } from './names.js';
import type { Notifier } from './notify.js';
import { isDue, type RoomLifecycle, type RoomRecord, type RoomStore, type RoomTransition } from './rooms.js';

export interface RoomLifecycleOptions {
  activeMs: number;
  countdownMs: number;
  decisionMs: number;
  /** How often the sweeper looks for rooms whose deadline passed. */
  tickMs: number;
  /** Rooms advanced per tick at most (the rest wait for the next tick). */
  batch?: number;
}

export interface RoomLifecycleDeps {
  store: RoomStore;
  bus: Pick<ChannelBus, 'publish'>;
  notifier: Notifier;
  log: Logger;
}

/** Attempts at a member's action when other changes keep winning the compare-and-set. */
const MAX_ATTEMPTS = 10;

/** Who takes part: the host, the moderators and a private room's members (the REST choice: docs/protocol.md). */
export function lifecycleMembers(room: RoomRecord): string[] {
  const members = new Set<string>();
  if (typeof room.ownerId === 'string') members.add(room.ownerId);
  for (const list of [room.moderators, (room as { members?: unknown }).members]) {
    if (Array.isArray(list)) for (const m of list) if (typeof m === 'string') members.add(m);
  }
  return [...members];
}

const refused = {
  notLifecycle: (id: string) => new AppError(409, 'not_lifecycle_room', `room "${id}" has no lifecycle (create it with "lifecycle": true)`),
  notMember: (id: string) => new AppError(403, 'not_member', `only the members of room "${id}" take part in its lifecycle`),
  wrongState: (id: string, want: RoomState, state: RoomState) =>
    new AppError(409, want === 'active' ? 'not_active' : 'not_in_decision', `room "${id}" is ${state}, not ${want}`),
};

export class RoomLifecycleService {
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private failing = false;

  constructor(
    private readonly deps: RoomLifecycleDeps,
    private readonly options: RoomLifecycleOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.options.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Advances every due room once (the rooms another process advanced first are skipped). Returns how many it moved. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let moved = 0;
    try {
      for (const room of await this.deps.store.due(now, this.options.batch ?? 100)) {
        if (await this.advance(room, now)) moved++;
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.deps.log.warn({ err }, 'room lifecycle sweep failed; retrying every tick');
      this.failing = true;
    } finally {
      this.sweeping = false;
    }
    return moved;
  }

  /** `POST /api/v1/rooms/{id}/countdown`: a member ends `active` early. */
  async startCountdown(principal: Principal, id: string): Promise<RoomRecord> {
    return this.act(principal, id, (_room, l, now) => {
      if (l.state !== 'active') throw refused.wrongState(id, 'active', l.state);
      return this.next(l, 'countdown', now + this.options.countdownMs);
    });
  }

  /** A member's decision in `decision`: false ends the room, the last member's true keeps it. */
  async decide(principal: Principal, id: string, keep: boolean): Promise<RoomRecord> {
    return this.act(principal, id, (room, l, now) => {
      if (l.state !== 'decision') throw refused.wrongState(id, 'decision', l.state);
      if (!keep) return this.ended(l, now);
      const decisions = { ...l.decisions, [principal.userId]: true };
      const everyone = lifecycleMembers(room).every((m) => Object.hasOwn(decisions, m) && decisions[m] === true);
      if (everyone) return this.next(l, 'active', now + this.options.activeMs);
      return { lifecycle: { ...l, decisions, seq: l.seq + 1 } };
    });
  }

  /** The `decide` frame: its channel must be a room's. */
  async decideOn(principal: Principal | null, channel: string, keep: boolean): Promise<void> {
    if (principal === null) throw new AppError(401, 'unauthorized', 'sign in to decide');
    const name = parseChannel(channel);
    if (name.kind !== 'room') throw new AppError(400, 'invalid_channel', 'only room channels have a lifecycle');
    await this.decide(principal, name.id, keep);
  }

  /**
   * Reads the room, checks the principal, computes the change and writes it if the room is as read; re-read
   * and re-checked when another change won meanwhile (e.g. the other member's decision).
   */
  private async act(
    principal: Principal,
    id: string,
    change: (room: RoomRecord, l: RoomLifecycle, now: number) => RoomTransition,
  ): Promise<RoomRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const room = await this.deps.store.get(id);
      if (!room) throw notFound(`no room "${id}"`);
      const l = room.lifecycle;
      if (!l) throw refused.notLifecycle(id);
      if (!lifecycleMembers(room).includes(principal.userId)) throw refused.notMember(id);
      const now = Date.now();
      // A room whose deadline passed (or closed by its host) is advanced first: the action applies to the
      // state it is really in.
      if (isDue(room, now) || (typeof room.closedAt === 'number' && l.state !== 'ended')) {
        await this.advance(room, now);
        continue;
      }
      const next = change(room, l, now);
      const after = await this.deps.store.transition(id, l.seq, next);
      if (after) {
        if (next.lifecycle.state !== l.state || next.lifecycle.endsAt !== l.endsAt) this.announce(after, l.state);
        return after;
      }
    }
    throw new AppError(503, 'unavailable', `room "${id}" changed too often to apply this; retry`, { 'Retry-After': '1' }, 1000);
  }

  /** The change a passed deadline makes (or a closed room's end); true when this process made it. */
  private async advance(room: RoomRecord, now: number): Promise<boolean> {
    const l = room.lifecycle;
    if (l === undefined || l.state === 'ended') return false;
    let next: RoomTransition;
    const closedBefore = typeof room.closedAt === 'number';
    if (closedBefore) next = { lifecycle: this.ended(l, now).lifecycle };
    else if (!isDue(room, now)) return false;
    else if (l.state === 'active') next = this.next(l, 'countdown', now + this.options.countdownMs);
    else if (l.state === 'countdown') next = this.next(l, 'decision', now + this.options.decisionMs);
    else next = this.ended(l, now); // decision (or a stored `kept`): someone did not answer in time
    const after = await this.deps.store.transition(room.id, l.seq, next);
    if (!after) return false; // another process made this change
    this.announce(after, l.state, !closedBefore);
    return true;
  }

  private next(l: RoomLifecycle, state: RoomState, endsAt: number): RoomTransition {
    return { lifecycle: { state, endsAt, decisions: {}, seq: l.seq + 1 } };
  }

  private ended(l: RoomLifecycle, now: number): RoomTransition {
    return { lifecycle: { state: 'ended', endsAt: null, decisions: {}, seq: l.seq + 1 }, closedAt: now };
  }

  /** A `room_state` frame on the channel and a notification to each member; `kept` first when a decision kept it. */
  private announce(room: RoomRecord, from: RoomState, closing = true): void {
    const l = room.lifecycle as RoomLifecycle;
    const channel = roomChannel(room.id);
    const states: RoomState[] = from === 'decision' && l.state === 'active' ? ['kept', 'active'] : [l.state];
    const members = lifecycleMembers(room);
    for (const state of states) {
      this.deps.bus.publish({ kind: 'frame', channel, frame: frames.room_state(channel, state, l.endsAt) });
      for (const userId of members) this.deps.notifier.notify(userId, 'room_state', { room: channel, state, ends_at: l.endsAt });
    }
    // A room its host closed had its `closed` frame then.
    if (l.state === 'ended' && closing) this.deps.bus.publish({ kind: 'closed', channel });
  }
}
