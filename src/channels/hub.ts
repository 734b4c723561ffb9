// The channel hub: what a chat message, a like or a (un)subscribe does, independent of sockets. It
// publishes events on the ChannelBus and turns the bus's events into frames on this process's local
// topics (uWS pub/sub): `c:<channel>` for per-message subscribers, `b:<channel>` for batched ones.
// Periodic work runs on ticks, never per message: batch frames (<= batchTickMs), presence and likes
// (coalesced, controlTickMs) and mood (moodTickMs).
import { LRUCache } from 'lru-cache';
import { monotonicFactory } from 'ulid';
import type { Principal } from '../auth/index.js';
import { AppError, forbidden, notFound, rateLimited } from '../errors.js';
import { KeyedSerializer, type RateLimiter } from '../limits/index.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import type { MessageStore } from '../store/stores.js';
import type { IngestedChat, SourceKind, StoredMessage } from '../vocabulary.js';
import { frames } from '../contract/index.js';
import type { BusEvent, ChannelBus, MessageEvent } from './bus.js';
import type { LikeStore } from './likes.js';
import { MoodWindow, polarityOf } from './mood.js';
import { parseChannel, type ChannelName } from './names.js';
import type { PresenceStore } from './presence.js';
import { roomStatus, type RoomService } from './rooms.js';

/** This process's sockets, as the hub sees them: uWS topics. */
export interface Fanout {
  publish(topic: string, frame: string): void;
  subscribers(topic: string): number;
}

export interface HubOptions {
  /** Messages of a native room replayed to a new subscriber. */
  replaySize: number;
  moodWindowS: number;
  moodLongWindowS: number;
  moodTickMs: number;
  batchTickMs: number;
  controlTickMs: number;
  /**
   * How often the viewer counts of watched channels are re-read (0: never). In a cluster a process can
   * die without saying goodbye; its viewers leave the shared count when its heartbeat expires, and this
   * is how the survivors notice.
   */
  presenceRefreshMs: number;
}

/**
 * What the hub needs of each collaborator, and no more: the composition root passes the real ones, the unit
 * tests (test/hub.test.ts) small fakes.
 */
export interface HubDeps {
  engine: Pick<SentimentEngine, 'classify' | 'info'>;
  /** This process's sockets, by topic (the gateway's). */
  fanout: Fanout;
  bus: ChannelBus;
  presence: PresenceStore;
  likes: LikeStore;
  rooms: Pick<RoomService, 'resolve' | 'postRefusal' | 'badges'>;
  /** Chat messages per user. */
  chatLimiter: RateLimiter;
  /** Persists what this process publishes (each message is recorded once, by its publisher). */
  recorder?: MessageRecorder;
  /** Whether an ingested channel (`twitch:x`, `tiktok:x`) is being ingested now; absent: none is. */
  ingestLive?: (channel: ChannelName) => Promise<boolean>;
  /** Where a liked message id not seen by this process is looked up (its recent messages). */
  messages?: Pick<MessageStore, 'list'>;
}

export interface MessageRecorder {
  record(message: StoredMessage): void;
  remove(channel: string, ids: readonly string[]): void;
}

export interface HubCounters {
  messages: number;
  batchFrames: number;
  moodFrames: number;
  presenceFrames: number;
  likesFrames: number;
}

export const topicOf = (channel: string, batch: boolean) => (batch ? `b:${channel}` : `c:${channel}`);

/** Message ids remembered for likes (about 100 bytes each). */
const KNOWN_IDS = 50_000;

interface Replayed {
  id: string;
  frame: string;
}

interface MoodState {
  window: MoodWindow;
  /** A last frame was sent after traffic stopped: nothing more until new traffic. */
  settled: boolean;
}

export class ChannelHub {
  private readonly fanout: Fanout;
  private readonly nextId = monotonicFactory();
  private readonly replay = new Map<string, Replayed[]>();
  private readonly moods = new Map<string, MoodState>();
  /** Unflushed message frames per channel for batched subscribers. */
  private readonly pending = new Map<string, string[]>();
  private batchTimer: NodeJS.Timeout | null = null;
  private readonly dirtyPresence = new Map<string, number>();
  private readonly dirtyLikes = new Map<string, string>();
  /** Per channel: publishes run in arrival order, whatever order inference finishes in. */
  private readonly order = new KeyedSerializer();
  private readonly timers: NodeJS.Timeout[] = [];
  /** This process's subscriptions per channel: the bus watches a channel while it has any. */
  private readonly local = new Map<string, number>();
  /** The last viewer count announced per watched channel. */
  private readonly viewers = new Map<string, number>();
  /** The platform's viewer count per ingested channel that reports one. */
  private readonly external = new Map<string, number>();
  /**
   * `<channel>\n<id>` of the messages this process published or delivered lately: what a like may name
   * without a store round trip. Bounded; older ids are looked up in the store.
   */
  private readonly known = new LRUCache<string, true>({ max: KNOWN_IDS });
  readonly counters: HubCounters = { messages: 0, batchFrames: 0, moodFrames: 0, presenceFrames: 0, likesFrames: 0 };

  constructor(
    private readonly deps: HubDeps,
    private readonly options: HubOptions,
  ) {
    this.fanout = deps.fanout;
    deps.bus.onEvent((e) => this.deliver(e));
  }

  /** Starts the periodic ticks (mood, batched frames, presence). */
  start(): void {
    this.timers.push(
      setInterval(() => this.moodTick(Date.now()), this.options.moodTickMs),
      setInterval(() => this.controlTick(), this.options.controlTickMs),
    );
    if (this.options.presenceRefreshMs > 0)
      this.timers.push(setInterval(() => void this.refreshPresence(), this.options.presenceRefreshMs));
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.flushBatches();
  }

  /**
   * Checks that `raw` may be watched and returns the parsed name: a room must exist (anyone may watch it,
   * signed in or not); an ingested kind may be watched before it is ingested.
   */
  async checkSubscribe(raw: string): Promise<ChannelName> {
    const channel = parseChannel(raw);
    if (channel.kind === 'room') await this.deps.rooms.resolve(channel.id);
    return channel;
  }

  async join(channel: string, connectionId: string): Promise<number> {
    const local = (this.local.get(channel) ?? 0) + 1;
    this.local.set(channel, local);
    if (local === 1) this.deps.bus.watch(channel);
    let viewers: number;
    try {
      viewers = await this.deps.presence.join(channel, connectionId);
    } catch (err) {
      this.forget(channel);
      throw err;
    }
    this.deps.bus.publish({ kind: 'presence', channel, viewers });
    return viewers;
  }

  private forget(channel: string): void {
    const local = (this.local.get(channel) ?? 1) - 1;
    if (local > 0) this.local.set(channel, local);
    else {
      this.local.delete(channel);
      this.viewers.delete(channel);
      this.external.delete(channel);
      this.deps.bus.unwatch(channel);
    }
  }

  private async refreshPresence(): Promise<void> {
    for (const channel of [...this.local.keys()]) {
      try {
        const count = await this.deps.presence.count(channel);
        if (this.local.has(channel) && count !== this.viewers.get(channel)) {
          this.viewers.set(channel, count);
          this.dirtyPresence.set(channel, count);
        }
      } catch {
        return; // the store is unreachable: readiness reports it; try again next time
      }
    }
  }

  /** Call once per successful join. */
  async leave(channel: string, connectionId: string): Promise<void> {
    this.forget(channel);
    const viewers = await this.deps.presence.leave(channel, connectionId);
    this.deps.bus.publish({ kind: 'presence', channel, viewers });
  }

  /** What a new subscriber gets right after `subscribed`: the room's recent messages, then the current mood. */
  welcome(channel: string, batch: boolean, now = Date.now()): string[] {
    const out: string[] = [];
    const recent = this.replay.get(channel);
    if (recent && recent.length > 0) {
      if (batch)
        out.push(
          frames.messages(
            channel,
            recent.map((r) => r.frame),
          ),
        );
      else for (const r of recent) out.push(r.frame);
    }
    const mood = this.moods.get(channel);
    if (mood && mood.window.lastTs > 0) out.push(this.moodFrame(channel, mood.window, now));
    return out;
  }

  /**
   * Classifies and publishes one chat message; resolves with it once published. Per channel, messages
   * publish in the order chat() was called. Rejects with an AppError (stable code) when refused.
   */
  async chat(principal: Principal | null, raw: string, text: string): Promise<MessageEvent> {
    if (principal === null) throw new AppError(401, 'unauthorized', 'sign in (token or api_key) to chat');
    const channel = parseChannel(raw);
    if (channel.kind !== 'room') throw forbidden(`${channel.kind} channels are read-only: their messages come from ${channel.kind}`);
    const room = await this.deps.rooms.resolve(channel.id);
    const refusal = this.deps.rooms.postRefusal(room, principal, Date.now());
    if (refusal) throw refusal;
    const decision = await this.deps.chatLimiter.consume(`u:${principal.userId}`);
    if (!decision.allowed) throw rateLimited(decision.retryAfterMs / 1000, 'chat rate limit: slow down');
    const badges = this.deps.rooms.badges(room, principal);
    const user = { id: principal.userId, name: principal.username, badges };
    return this.publishInOrder(channel.name, this.deps.engine.classify(text), (result, id, ts) => ({
      frame: frames.message({ channel: channel.name, id, user, text, sentiment: result, ts }),
      stored: {
        id,
        channel: channel.name,
        source: 'native',
        user,
        text,
        label: result.label,
        score: result.score,
        polarity: polarityOf(result.scores),
        ts,
      },
    }));
  }

  /**
   * Publishes a message of an ingested stream (`twitch:<login>`, `tiktok:<user>`) with its platform's
   * identity and badges; same ordering and failure rules as chat(). Only the stream's owner calls it, with
   * `stillOwner`, which is asked right before publishing (a line waits for inference and for the lines
   * before it, so the lease may have lapsed since): when it says no, the line is refused, not published.
   */
  ingest(source: SourceKind, channel: string, chat: IngestedChat, stillOwner?: () => boolean): Promise<MessageEvent> {
    const { user } = chat;
    return this.publishInOrder(
      channel,
      this.deps.engine.classify(chat.text, chat.emotes),
      (result, id, ts) => ({
        frame: frames.message({
          channel,
          id,
          user,
          text: chat.text,
          sentiment: result,
          ts,
          source,
          source_id: chat.sourceId,
          sent_ts: chat.sentAt,
          emotes: chat.emotes,
        }),
        stored: {
          id,
          channel,
          source,
          user: { id: user.id, name: user.name, badges: user.badges },
          text: chat.text,
          label: result.label,
          score: result.score,
          polarity: polarityOf(result.scores),
          ts,
          sourceId: chat.sourceId,
        },
      }),
      stillOwner,
    );
  }

  /** Removes messages from every subscriber's view, the replay and the store. */
  remove(channel: string, ids: readonly string[]): void {
    for (const messageId of ids) this.deps.bus.publish({ kind: 'delete', channel, messageId });
    if (ids.length > 0) this.deps.recorder?.remove(channel, ids);
  }

  /** Announces an ingested stream's own figures (like totals, the platform's viewer count) or a ready frame. */
  announce(event: Extract<BusEvent, { kind: 'likes' | 'external' | 'frame' }>): void {
    this.deps.bus.publish(event);
  }

  /**
   * Classification runs concurrently, publishing in line: per channel, messages publish in the order this
   * was called, whatever order inference finishes in.
   */
  private publishInOrder(
    channel: string,
    sentiment: ReturnType<SentimentEngine['classify']>,
    build: (result: Awaited<ReturnType<SentimentEngine['classify']>>, id: string, ts: number) => { frame: string; stored: StoredMessage },
    mayPublish: () => boolean = () => true,
  ): Promise<MessageEvent> {
    sentiment.catch(() => undefined); // awaited below, in line; a failure is the sender's error
    return this.order.run(channel, async () => {
      const result = await sentiment;
      if (!mayPublish()) throw new AppError(409, 'not_owner', 'this process no longer owns the ingested stream');
      const ts = Date.now();
      const id = this.nextId(ts);
      const { frame, stored } = build(result, id, ts);
      const event: MessageEvent = { kind: 'message', channel, id, frame, label: stored.label, polarity: stored.polarity, ts };
      // Known here even when this process does not watch the channel (a cluster bus then skips it).
      this.known.set(`${channel}\n${id}`, true);
      this.deps.bus.publish(event);
      this.deps.recorder?.record(stored);
      return event;
    });
  }

  /**
   * Likes count only on live channels and on messages that exist: a room that exists and is open, or a
   * stream being ingested now; a message id this process published or delivered lately, else one in the
   * store's recent messages of that channel. Anything else is `not_found`, so made-up channels and ids
   * cost a like nothing in shared state.
   */
  async like(principal: Principal | null, raw: string, messageId: string | undefined): Promise<void> {
    if (principal === null) throw new AppError(401, 'unauthorized', 'sign in (token or api_key) to like');
    const channel = parseChannel(raw);
    if (channel.kind === 'room') {
      const room = await this.deps.rooms.resolve(channel.id);
      if (roomStatus(room, Date.now()) !== 'open') throw notFound(`room "${channel.id}" is not open`);
    } else if (!(await this.deps.ingestLive?.(channel))) {
      throw notFound(`"${channel.name}" is not being ingested now`);
    }
    if (messageId !== undefined && !(await this.messageExists(channel.name, messageId))) {
      throw notFound(`no message "${messageId}" in ${channel.name}`);
    }
    if (messageId === undefined) {
      const { total } = await this.deps.likes.likeChannel(channel.name);
      this.deps.bus.publish({ kind: 'likes', channel: channel.name, total });
      return;
    }
    const totals = await this.deps.likes.likeMessage(channel.name, messageId, principal.userId);
    if (totals === null) throw new AppError(409, 'already_liked', 'you already liked this message');
    this.deps.bus.publish({
      kind: 'likes',
      channel: channel.name,
      total: totals.total,
      messageId,
      messageLikes: totals.messageLikes as number,
    });
  }

  private async messageExists(channel: string, messageId: string): Promise<boolean> {
    if (this.known.has(`${channel}\n${messageId}`)) return true;
    // Message ids are ULIDs: anything else was never one of ours, and needs no store round trip.
    if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(messageId) || !this.deps.messages) return false;
    // The newest message with an id <= messageId: ids all have 26 characters, so every id above messageId
    // is also above messageId + '0', and messageId itself is below it.
    const [found] = await this.deps.messages.list(channel, { limit: 1, before: `${messageId}0` });
    return found?.id === messageId;
  }

  // ------------------------------------------------------------ delivery (every process)

  private deliver(e: BusEvent): void {
    const out = this.fanout;
    switch (e.kind) {
      case 'message': {
        this.counters.messages++;
        this.known.set(`${e.channel}\n${e.id}`, true);
        out.publish(topicOf(e.channel, false), e.frame);
        if (out.subscribers(topicOf(e.channel, true)) > 0) this.queueBatched(e.channel, e.frame);
        if (e.channel.startsWith('room:')) this.remember(e.channel, e.id, e.frame);
        this.moodOf(e.channel).window.add(e.label, e.polarity, e.ts);
        return;
      }
      case 'delete': {
        this.known.delete(`${e.channel}\n${e.messageId}`);
        const recent = this.replay.get(e.channel);
        if (recent)
          this.replay.set(
            e.channel,
            recent.filter((r) => r.id !== e.messageId),
          );
        this.toAll(e.channel, frames.delete(e.channel, e.messageId));
        return;
      }
      case 'closed':
        this.toAll(e.channel, frames.closed(e.channel));
        return;
      case 'presence':
        this.dirtyPresence.set(e.channel, e.viewers);
        this.viewers.set(e.channel, e.viewers);
        return;
      case 'external':
        this.external.set(e.channel, e.viewers);
        this.dirtyPresence.set(e.channel, this.viewers.get(e.channel) ?? 0);
        return;
      case 'frame':
        this.toAll(e.channel, e.frame);
        return;
      case 'invalidate':
      case 'revoke':
        return; // for the auth caches and the gateway, not for channels
      case 'likes': {
        const frame = frames.likes(e.channel, e.total, e.messageId, e.messageLikes);
        // Coalesced: within one control tick only the newest totals per channel and message go out.
        this.dirtyLikes.set(`${e.channel}\n${e.messageId ?? ''}`, frame);
        return;
      }
    }
  }

  /** Frames that are not chat go to both kinds of subscriber at once (after any batch still pending, to keep order). */
  private toAll(channel: string, frame: string): void {
    this.flushBatch(channel);
    this.fanout.publish(topicOf(channel, false), frame);
    this.fanout.publish(topicOf(channel, true), frame);
  }

  private remember(channel: string, id: string, frame: string): void {
    if (this.options.replaySize === 0) return;
    let recent = this.replay.get(channel);
    if (!recent) this.replay.set(channel, (recent = []));
    recent.push({ id, frame });
    if (recent.length > this.options.replaySize) recent.shift();
  }

  private queueBatched(channel: string, frame: string): void {
    let items = this.pending.get(channel);
    if (!items) this.pending.set(channel, (items = []));
    items.push(frame);
    // One timer for all channels, armed by the first pending frame: a frame waits at most one tick.
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = null;
      this.flushBatches();
    }, this.options.batchTickMs);
  }

  private flushBatches(): void {
    for (const channel of this.pending.keys()) this.flushBatch(channel);
  }

  private flushBatch(channel: string): void {
    const items = this.pending.get(channel);
    if (!items) return;
    this.pending.delete(channel);
    this.counters.batchFrames++;
    this.fanout.publish(topicOf(channel, true), frames.messages(channel, items));
  }

  private moodOf(channel: string): MoodState {
    let mood = this.moods.get(channel);
    if (!mood)
      this.moods.set(
        channel,
        (mood = { window: new MoodWindow(this.deps.engine.info.labels, this.options.moodLongWindowS), settled: false }),
      );
    mood.settled = false;
    return mood;
  }

  private moodFrame(channel: string, window: MoodWindow, now: number): string {
    const short = window.summary(now, this.options.moodWindowS);
    const long = window.summary(now, this.options.moodLongWindowS);
    return frames.mood(channel, short, long, now);
  }

  /** Channels with traffic in the long mood window as this process sees them, busiest first. */
  liveChannels(
    now = Date.now(),
  ): Array<{ channel: string; viewers: number | null; external_viewers?: number; mood: ReturnType<MoodWindow['summary']> }> {
    const out = [];
    for (const [channel, mood] of this.moods) {
      if (now - mood.window.lastTs > this.options.moodLongWindowS * 1000) continue;
      const external = this.external.get(channel);
      out.push({
        channel,
        viewers: this.viewers.get(channel) ?? null,
        ...(external === undefined ? {} : { external_viewers: external }),
        mood: mood.window.summary(now, this.options.moodWindowS),
      });
    }
    return out.sort((a, b) => b.mood.rate - a.mood.rate);
  }

  /** Pushes mood while a channel has traffic in its short window, once more when it falls quiet, then stops. */
  private moodTick(now: number): void {
    for (const [channel, mood] of this.moods) {
      const quietMs = now - mood.window.lastTs;
      if (mood.settled) {
        if (quietMs > this.options.moodLongWindowS * 1000) this.moods.delete(channel);
        continue;
      }
      if (quietMs > this.options.moodWindowS * 1000) mood.settled = true;
      const watched = this.fanout.subscribers(topicOf(channel, false)) + this.fanout.subscribers(topicOf(channel, true));
      if (watched === 0) continue;
      this.counters.moodFrames++;
      const frame = this.moodFrame(channel, mood.window, now);
      this.fanout.publish(topicOf(channel, false), frame);
      this.fanout.publish(topicOf(channel, true), frame);
    }
  }

  private controlTick(): void {
    for (const [channel, viewers] of this.dirtyPresence) {
      this.counters.presenceFrames++;
      this.toAll(channel, frames.presence(channel, viewers, this.external.get(channel)));
    }
    this.dirtyPresence.clear();
    for (const [key, frame] of this.dirtyLikes) {
      this.counters.likesFrames++;
      this.toAll(key.slice(0, key.indexOf('\n')), frame);
    }
    this.dirtyLikes.clear();
  }
}
