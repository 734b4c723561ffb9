// Matching: users queue with what they like to talk about; a tick on every process pairs the best-scoring
// waiting users (score.ts) into a new private room and tells both. Failure policy: a tick that fails (Redis
// unreachable) is logged and the next one tries again; a pair whose room cannot be created goes back to the
// queue with its original tickets (its wait kept). Tickets of users with no socket anywhere for the grace
// period are dropped: `matched` arrives only on a socket, so nobody would hear of the pair.
import { randomBytes } from 'node:crypto';
import { ulid } from '../ids.js';
import { roomChannel } from '../channels/names.js';
import type { Notifier } from '../channels/notify.js';
import type { RoomRecord, RoomService } from '../channels/rooms.js';
import { notFound } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { UserMoods } from './moods.js';
import type { MatchQueue, MatchTicket, QueuedTicket } from './queue.js';
import { bestPairs } from './score.js';

export interface MatchServiceOptions {
  tickMs: number;
  /** The wait over which the minimum score falls from START_THRESHOLD to 0. */
  relaxMs: number;
  /** How long a queued user may have no socket anywhere before their ticket is dropped. */
  graceMs: number;
  /** Tickets scored per tick, oldest first (the pairing is quadratic in it). */
  window?: number;
  /** Fields a matched room is created with besides its members (e.g. the lifecycle flag). */
  roomExtra?: Partial<RoomRecord>;
}

export interface MatchServiceDeps {
  queue: MatchQueue;
  rooms: Pick<RoomService, 'createPrivate'>;
  notifier: Notifier;
  moods: Pick<UserMoods, 'mood'>;
  /** Users with a socket on this process (renewed in the queue so their tickets survive the sweep). */
  connectedUsers?: () => Iterable<string>;
  log?: Pick<Logger, 'error' | 'warn'>;
}

export interface MatchRequest {
  interests: string[];
  languages: string[];
}

export interface MatchedPair {
  room: string;
  a: MatchTicket;
  b: MatchTicket;
  score: number;
  at: number;
}

const DEFAULT_WINDOW = 500;

export class MatchService {
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private lastTouch = 0;
  private failing = false;
  private readonly listeners: Array<(pair: MatchedPair) => void> = [];

  constructor(
    private readonly deps: MatchServiceDeps,
    private readonly options: MatchServiceOptions,
  ) {}

  async enqueue(user: { userId: string; username: string }, req: MatchRequest): Promise<QueuedTicket> {
    const now = Date.now();
    const ticket: MatchTicket = {
      ticket: randomBytes(12).toString('base64url'),
      userId: user.userId,
      name: user.username,
      interests: req.interests,
      languages: req.languages,
      mood: this.deps.moods.mood(user.userId, now),
      queuedAt: now,
    };
    const position = await this.deps.queue.enqueue(ticket);
    return { ticket, position };
  }

  async leave(userId: string): Promise<void> {
    if (!(await this.deps.queue.leave(userId))) throw notFound('you are not in the match queue');
  }

  async get(userId: string): Promise<QueuedTicket> {
    const queued = await this.deps.queue.get(userId);
    if (queued === null) throw notFound('you are not in the match queue');
    return queued;
  }

  /** Called for every pair this process made (tests, the bench). */
  onMatched(listener: (pair: MatchedPair) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pairing round; resolves with the pairs this process made. Overlapping calls do nothing. */
  async tick(now = Date.now()): Promise<MatchedPair[]> {
    if (this.ticking) return [];
    this.ticking = true;
    try {
      await this.keepAlive(now);
      const waiting = await this.deps.queue.waiting(this.options.window ?? DEFAULT_WINDOW);
      this.failing = false;
      if (waiting.length < 2) return [];
      const pairs = bestPairs(waiting, now, this.options.relaxMs);
      const made = await Promise.all(pairs.map((p) => this.pair(p.a, p.b, p.score)));
      return made.filter((m): m is MatchedPair => m !== null);
    } catch (err) {
      // Once per outage, not every tick (Redis down fails every tick alike).
      if (!this.failing) this.deps.log?.error({ err }, 'match tick failed; retrying every tick');
      this.failing = true;
      return [];
    } finally {
      this.ticking = false;
    }
  }

  /** Renews this process's connected users and drops tickets nobody renewed within the grace. */
  private async keepAlive(now: number): Promise<void> {
    const { connectedUsers } = this.deps;
    if (connectedUsers === undefined || now - this.lastTouch < this.options.graceMs / 4) return;
    this.lastTouch = now;
    await this.deps.queue.touch([...connectedUsers()], now);
    await this.deps.queue.sweep(now - this.options.graceMs);
  }

  private async pair(a: MatchTicket, b: MatchTicket, score: number): Promise<MatchedPair | null> {
    if (!(await this.deps.queue.take(a, b))) return null; // another process paired one of them first
    const id = ulid().toLowerCase();
    try {
      await this.deps.rooms.createPrivate(id, [a.userId, b.userId], `${a.name} & ${b.name}`, this.options.roomExtra);
    } catch (err) {
      this.deps.log?.error({ err, users: [a.userId, b.userId] }, 'matched room not created: both tickets queued again');
      await Promise.all([this.deps.queue.enqueue(a), this.deps.queue.enqueue(b)]).catch(() => undefined);
      return null;
    }
    const room = roomChannel(id);
    this.deps.notifier.notify(a.userId, 'matched', { room, partner: { id: b.userId, name: b.name }, score });
    this.deps.notifier.notify(b.userId, 'matched', { room, partner: { id: a.userId, name: a.name }, score });
    const made = { room, a, b, score, at: Date.now() };
    for (const listener of this.listeners) listener(made);
    return made;
  }
}
