// The channel hub: what a chat message, a like or a (un)subscribe does, independent of sockets. It
// publishes events on the ChannelBus and turns the bus's events into frames on this process's local
// topics (uWS pub/sub): `c:<channel>` for per-message subscribers, `b:<channel>` for batched ones.
// Periodic work runs on ticks, never per message: batch frames (<= batchTickMs), presence and likes
// (coalesced, controlTickMs) and mood (moodTickMs).
//
// Every message enters its channel's history (bus.append) before anyone sees it, with an offset. Per
// watched channel the hub keeps a feed: the offset it last delivered to its topics, the recent messages,
// and events held while it syncs with history or fills a gap from it. So each process delivers every
// channel's messages gapless and in offset order, and a subscriber is attached at a known offset: replay
// and recovery (`since`) send exactly what lies between the client's offset and that one.
import { LRUCache } from 'lru-cache';
import { monotonicFactory } from '../ids.js';
import type { IdentityCache, Principal } from '../auth/index.js';
import type { FileService } from '../files/index.js';
import { AppError, forbidden, notFound, rateLimited } from '../errors.js';
import { KeyedSerializer, type RateLimiter } from '../limits/index.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import type { MomentStore } from '../store/moments.js';
import type { MessageStore } from '../store/stores.js';
import type { IngestedChat, SourceKind, StoredMessage } from '../vocabulary.js';
import { frames, messageFrames } from '../contract/index.js';
import { messageEvent, type BusEvent, type ChannelBus, type MessageEvent } from './bus.js';
import type { HistoryEntry } from './history.js';
import type { LikeStore, LikeTotals } from './likes.js';
import { MomentDetector, momentRule, type Moment, type MomentInput } from './moments.js';
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
  /** Recent messages replayed to a new subscriber (and kept per watched channel). */
  replaySize: number;
  /** Messages read from history at most: to rebuild a channel's mood, to fill a gap, to recover a client. */
  historyRead: number;
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
  /** Files a chat message may carry (absent: none). */
  files?: Pick<FileService, 'attachable'>;
  /** How senders show (display name, avatar), cached per process; absent: null for both. */
  identities?: Pick<IdentityCache, 'identity'>;
  /** Told each native chat message's polarity as it is published (matching's per-user recent mood). */
  moods?: { record(userId: string, polarity: number, ts: number): void };
  /**
   * Where detected moments are kept (with the timeline). Every process that delivers a channel detects the
   * same moments, with the same ids; the store keeps one of each.
   */
  momentStore?: Pick<MomentStore, 'insert'>;
  /** Told when storing a moment failed (it was still sent to the subscribers). */
  onMomentError?: (err: unknown) => void;
  /** Told how long each stage of an ingested line took (ms), for the per-stage latency histogram. */
  observeIngest?: (stage: IngestStage, ms: number) => void;
}

/**
 * The stages of an ingested chat line: `receive`, from the platform's send time (its clock: skew included)
 * to the hub; `classify`, the engine's queue and batch; `publish`, waiting its turn in the channel and the
 * append; `total`, the hub to published (subscribers get it from there).
 */
export type IngestStage = 'receive' | 'classify' | 'publish' | 'total';

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
  moments: number;
}

export const topicOf = (channel: string, batch: boolean) => (batch ? `b:${channel}` : `c:${channel}`);

/** Message ids remembered for likes (about 100 bytes each). */
const KNOWN_IDS = 50_000;
/** Messages per `messages` frame when a batched subscriber is sent a replay or a recovery. */
const REPLAY_BATCH = 100;
/** The epoch a subscriber is told while the channel's history is unreachable: no client offset is ever in it. */
const UNKNOWN_EPOCH = '-';
/** Events held per channel while its feed syncs or fills a gap; beyond it the oldest are dropped. */
const MAX_HELD = 10_000;

/** Where a client was in a channel's history (the `subscribe` frame's `since`). */
export interface Since {
  offset: number;
  epoch: string;
}

/** What a subscriber is told and sent when it is attached to a channel's topic. */
export interface Welcome {
  epoch: string;
  offset: number;
  recovered?: boolean;
  reason?: string;
  /** Replay or recovery, then the current mood. */
  frames: string[];
}

/** What publishing a message did: its frame is null when a repeated ref published nothing. */
export interface Published {
  id: string;
  offset: number;
  epoch: string;
  frame: string | null;
}

/** A watched channel as this process delivers it. */
interface Feed {
  /** Null until the feed knows the channel's history (a sync or the first event tells it). */
  epoch: string | null;
  /** The offset last delivered to this process's topics. */
  last: number;
  /** The latest delivered messages (head null: deleted), at most replaySize. */
  recent: HistoryEntry[];
  /** Events waiting while the feed syncs or fills a gap from history; null while delivering directly. */
  held: MessageEvent[] | null;
  /** The sync in progress, if any. */
  syncing: Promise<void> | null;
}

interface MoodState {
  window: MoodWindow;
  /** A last frame was sent after traffic stopped: nothing more until new traffic. */
  settled: boolean;
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** The text of a message frame's head (the frame less its offset and closing brace): parsed only for moment samples. */
function textOf(head: string): string {
  try {
    const { text } = JSON.parse(`${head}}`) as { text?: unknown };
    return typeof text === 'string' ? text : '';
  } catch {
    return '';
  }
}

/** A history entry as the moment detector reads it (deleted ones are left out). */
const momentInput = (e: HistoryEntry): MomentInput[] => {
  const head = e.head;
  return head === null ? [] : [{ id: e.id, polarity: e.polarity, ts: e.ts, text: () => textOf(head) }];
};

export class ChannelHub {
  private readonly fanout: Fanout;
  private readonly nextId = monotonicFactory();
  private readonly feeds = new Map<string, Feed>();
  private readonly moods = new Map<string, MoodState>();
  private readonly moments: MomentDetector;
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
  readonly counters: HubCounters = { messages: 0, batchFrames: 0, moodFrames: 0, presenceFrames: 0, likesFrames: 0, moments: 0 };

  constructor(
    private readonly deps: HubDeps,
    private readonly options: HubOptions,
  ) {
    this.fanout = deps.fanout;
    this.moments = new MomentDetector(momentRule(options.moodWindowS));
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
    if (local === 1) {
      const feed: Feed = { epoch: null, last: 0, recent: [], held: [], syncing: null };
      this.feeds.set(channel, feed);
      feed.syncing = this.sync(channel, feed);
    }
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
      this.feeds.delete(channel);
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

  /**
   * Attaches a subscriber: once the channel's feed is in sync, calls `attach` synchronously with what the
   * subscriber must be sent before the live messages (the recent ones, or with `since` every message after
   * it), so the caller can subscribe its socket in the same tick and nothing is lost or sent twice. Call
   * after `join`.
   */
  async welcome(channel: string, batch: boolean, since: Since | undefined, attach: (welcome: Welcome) => void): Promise<void> {
    const feed = this.feeds.get(channel);
    if (!feed) throw new AppError(409, 'not_subscribed', `not joined to ${channel}`);
    for (let attempt = 0; ; attempt++) {
      // Unsynced (history was unreachable): try again; still unreachable, the subscriber is attached without it.
      if (feed.epoch === null) await (feed.syncing ??= this.sync(channel, feed));
      let older: HistoryEntry[] | null = null;
      const want = since?.epoch === feed.epoch ? since.offset : null;
      if (want !== null && want < feed.last && want < (feed.recent[0]?.offset ?? feed.last + 1) - 1) {
        const slice = await this.deps.bus.history(channel, want, this.options.historyRead);
        older = slice.epoch === feed.epoch ? slice.entries : [];
      }
      if (this.feeds.get(channel) !== feed) throw new AppError(409, 'not_subscribed', `no longer joined to ${channel}`);
      const welcome = this.plan(channel, feed, batch, since, older, attempt < 3);
      if (welcome === null) continue; // the feed moved past what was read meanwhile: read again
      attach(welcome);
      return;
    }
  }

  /** The welcome of a subscriber attached now, or null when `older` no longer reaches the feed's recent messages. */
  private plan(
    channel: string,
    feed: Feed,
    batch: boolean,
    since: Since | undefined,
    older: HistoryEntry[] | null,
    mayRetry: boolean,
  ): Welcome | null {
    const epoch = feed.epoch ?? UNKNOWN_EPOCH;
    const welcome: Welcome = { epoch, offset: feed.last, frames: [] };
    let entries: HistoryEntry[];
    if (!since) entries = feed.recent;
    else if (since.epoch !== epoch || feed.epoch === null) {
      entries = feed.recent;
      const reason = feed.epoch === null ? 'history is unreachable' : "epoch changed: the channel's history was lost or expired";
      Object.assign(welcome, { recovered: false, reason });
    } else {
      // Every offset in (since, last], from the older read and the recent messages, each once and in order.
      const byOffset = new Map<number, HistoryEntry>();
      for (const e of [...(older ?? []), ...feed.recent]) if (e.offset > since.offset && e.offset <= feed.last) byOffset.set(e.offset, e);
      entries = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
      // Distinct offsets within the range: as many as the range is wide means none is missing.
      if (entries.length === Math.max(0, feed.last - since.offset)) welcome.recovered = true;
      else if (mayRetry && older?.[0]?.offset === since.offset + 1)
        return null; // history had it all: the feed moved on during the read
      else Object.assign(welcome, { recovered: false, reason: `history trimmed: not every message after offset ${since.offset} is kept` });
    }
    const items = entries.flatMap((e) => (e.head === null ? [] : [messageFrames.withOffset(e.head, e.offset)]));
    if (batch) {
      // What waits for the batch tick is already counted in `last`: sent now, before this subscriber joins the topic.
      this.flushBatch(channel);
      for (let i = 0; i < items.length; i += REPLAY_BATCH) welcome.frames.push(frames.messages(channel, items.slice(i, i + REPLAY_BATCH)));
    } else welcome.frames.push(...items);
    const mood = this.moods.get(channel);
    if (mood && mood.window.lastTs > 0) welcome.frames.push(this.moodFrame(channel, mood.window, Date.now()));
    return welcome;
  }

  /**
   * Brings a new feed in line with history: watches the channel, reads its latest messages (the replay, and
   * the mood window when history saw more of it than this process did), then delivers what arrived meanwhile.
   */
  private async sync(channel: string, feed: Feed): Promise<void> {
    feed.held ??= []; // a retry after a failed sync: hold what arrives until history has answered
    try {
      await this.deps.bus.watch(channel);
      const slice = await this.deps.bus.history(channel, null, Math.max(this.options.historyRead, this.options.replaySize));
      if (this.feeds.get(channel) !== feed) return;
      feed.epoch = slice.epoch;
      feed.last = slice.top;
      feed.recent = this.options.replaySize === 0 ? [] : slice.entries.slice(-this.options.replaySize);
      this.rebuildMood(channel, slice.entries);
      this.moments.rebuild(channel, slice.entries.flatMap(momentInput), Date.now());
    } catch {
      // History unreachable: the feed goes on with what arrives (its first event sets the offset), and the
      // next subscriber's welcome tries again.
    } finally {
      feed.syncing = null;
      this.release(feed);
    }
  }

  /** Replaces the channel's mood window by one rebuilt from history, when history holds more of the window. */
  private rebuildMood(channel: string, entries: readonly HistoryEntry[], now = Date.now()): void {
    const longMs = this.options.moodLongWindowS * 1000;
    const inWindow = entries.filter((e) => e.head !== null && now - e.ts < longMs);
    if (inWindow.length === 0) return;
    const current = this.moods.get(channel);
    const seen = current ? total(current.window.summary(now, this.options.moodLongWindowS).counts) : 0;
    if (seen >= inWindow.length) return;
    const window = new MoodWindow(this.deps.engine.info.labels, this.options.moodLongWindowS);
    for (const e of inWindow) window.add(e.label, e.polarity, e.ts);
    this.moods.set(channel, { window, settled: false });
  }

  /** Delivers the events held while syncing or filling a gap, in offset order; a gap left now is skipped. */
  private release(feed: Feed): void {
    const held = feed.held ?? [];
    feed.held = null;
    for (const e of held) {
      if (feed.epoch === e.epoch && e.offset <= feed.last) continue;
      if (feed.epoch !== e.epoch) feed.recent = [];
      feed.epoch = e.epoch;
      feed.last = e.offset - 1;
      this.deliverMessage(e, feed);
    }
  }

  /** Fills a gap in the offsets this process received (a message was published while it was subscribing or disconnected). */
  private async repair(channel: string, feed: Feed, upTo: number): Promise<void> {
    try {
      while (feed.last < upTo) {
        const slice = await this.deps.bus.history(channel, feed.last, this.options.historyRead);
        if (this.feeds.get(channel) !== feed || slice.epoch !== feed.epoch) return;
        const next = slice.entries.filter((e) => e.offset > feed.last && e.offset < upTo);
        if (next[0]?.offset !== feed.last + 1) return; // trimmed meanwhile: the rest is skipped
        for (const e of next) {
          if (e.offset !== feed.last + 1) return;
          if (e.head === null) {
            feed.last = e.offset;
            this.remember(feed, e);
          } else
            this.deliverMessage(
              messageEvent({ channel, id: e.id, head: e.head, label: e.label, polarity: e.polarity, ts: e.ts }, e.offset, slice.epoch),
              feed,
            );
        }
        if (slice.entries.length < this.options.historyRead) return;
      }
    } catch {
      // History unreachable: the held events go out after the gap.
    } finally {
      this.release(feed);
    }
  }

  /**
   * Classifies and publishes one chat message; resolves with it once published. Per channel, messages
   * publish in the order chat() was called. Rejects with an AppError (stable code) when refused.
   */
  async chat(principal: Principal | null, raw: string, text: string, ref?: string, fileId?: string): Promise<Published> {
    if (principal === null) throw new AppError(401, 'unauthorized', 'sign in (token or api_key) to chat');
    const channel = parseChannel(raw);
    if (channel.kind !== 'room') throw forbidden(`${channel.kind} channels are read-only: their messages come from ${channel.kind}`);
    const room = await this.deps.rooms.resolve(channel.id);
    const refusal = this.deps.rooms.postRefusal(room, principal, Date.now());
    if (refusal) throw refusal;
    const decision = await this.deps.chatLimiter.consume(`u:${principal.userId}`);
    if (!decision.allowed) throw rateLimited(decision.retryAfterMs / 1000, 'chat rate limit: slow down');
    const badges = this.deps.rooms.badges(room, principal);
    const [identity, file] = await Promise.all([
      this.deps.identities?.identity(principal.userId),
      fileId === undefined ? undefined : this.attachment(principal.userId, channel.id, fileId),
    ]);
    const user = { id: principal.userId, name: principal.username, badges };
    const shown = { ...user, display_name: identity?.displayName ?? null, avatar_url: identity?.avatarUrl ?? null };
    const appendRef = ref === undefined ? undefined : { user: principal.userId, ref };
    return this.publishInOrder(channel.name, this.deps.engine.classify(text), appendRef, (result, id, ts) => {
      const polarity = polarityOf(result.scores);
      this.deps.moods?.record(principal.userId, polarity, ts);
      return {
        head: messageFrames.head({ channel: channel.name, id, user: shown, text, sentiment: result, ts, file }),
        stored: { id, channel: channel.name, source: 'native', user, text, label: result.label, score: result.score, polarity, ts },
      };
    });
  }

  /** The `file` of a message: only the sender's own upload to this room (see FileService.attachable). */
  private async attachment(userId: string, roomId: string, fileId: string): Promise<{ id: string; url: string; content_type: string }> {
    if (!this.deps.files) throw new AppError(400, 'invalid_file', 'this server takes no files');
    const ref = await this.deps.files.attachable(userId, roomId, fileId);
    return { id: ref.id, url: ref.url, content_type: ref.contentType };
  }

  /**
   * Publishes a message of an ingested stream (`twitch:<login>`, `tiktok:<user>`) with its platform's
   * identity and badges; same ordering and failure rules as chat(). Only the stream's owner calls it, with
   * `stillOwner`, which is asked right before publishing (a line waits for inference and for the lines
   * before it, so the lease may have lapsed since): when it says no, the line is refused, not published.
   */
  ingest(source: SourceKind, channel: string, chat: IngestedChat, stillOwner?: () => boolean): Promise<Published> {
    const { user } = chat;
    const sentiment = this.deps.engine.classify(chat.text, chat.emotes);
    const published = this.publishInOrder(
      channel,
      sentiment,
      undefined,
      (result, id, ts) => ({
        head: messageFrames.head({
          channel,
          id,
          // The platform's name is the one to show; an avatar only when the event carried one.
          user: { ...user, display_name: user.name, avatar_url: user.avatarUrl ?? null },
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
    const observe = this.deps.observeIngest;
    if (observe) timeIngest(observe, chat.sentAt, sentiment, published);
    return published;
  }

  /** Removes messages from every subscriber's view, the replay and the store. */
  remove(channel: string, ids: readonly string[]): void {
    for (const messageId of ids) this.deps.bus.publish({ kind: 'delete', channel, messageId });
    if (ids.length > 0) this.deps.recorder?.remove(channel, ids);
  }

  /** Announces an ingested stream's own figures (like totals, the platform's viewer count) or a ready frame. */
  announce(event: Extract<BusEvent, { kind: 'likes' | 'external' | 'frame' | 'closed' }>): void {
    this.deps.bus.publish(event);
  }

  /**
   * Classification runs concurrently, publishing in line: per channel, messages publish in the order this
   * was called, whatever order inference finishes in.
   */
  private publishInOrder(
    channel: string,
    sentiment: ReturnType<SentimentEngine['classify']>,
    ref: { user: string; ref: string } | undefined,
    build: (result: Awaited<ReturnType<SentimentEngine['classify']>>, id: string, ts: number) => { head: string; stored: StoredMessage },
    mayPublish: () => boolean = () => true,
  ): Promise<Published> {
    sentiment.catch(() => undefined); // awaited below, in line; a failure is the sender's error
    // In line per channel until the append is issued, not until it is answered: appends reach history in
    // the order they are issued (one connection), so the next message need not wait for a round trip.
    const issued = this.order.run(channel, async () => {
      const result = await sentiment;
      if (!mayPublish()) throw new AppError(409, 'not_owner', 'this process no longer owns the ingested stream');
      const ts = Date.now();
      const id = this.nextId(ts);
      const { head, stored } = build(result, id, ts);
      const appending = this.deps.bus.append({ channel, id, head, label: stored.label, polarity: stored.polarity, ts }, ref);
      appending.catch(() => undefined); // awaited below
      return { appending, head, stored };
    });
    return issued.then(async ({ appending, head, stored }) => {
      const appended = await appending;
      if (appended.duplicate) return { id: appended.id, offset: appended.offset, epoch: appended.epoch, frame: null };
      // Known here even when this process does not watch the channel (a cluster bus then skips it).
      this.known.set(`${channel}\n${stored.id}`, true);
      this.deps.recorder?.record(stored);
      return { id: stored.id, offset: appended.offset, epoch: appended.epoch, frame: messageFrames.withOffset(head, appended.offset) };
    });
  }

  /**
   * Likes count only on live channels and on messages that exist: a room that exists and is open, or a
   * stream being ingested now; a message id this process published or delivered lately, else one in the
   * store's recent messages of that channel. Anything else is `not_found`, so made-up channels and ids
   * cost a like nothing in shared state.
   */
  async like(principal: Principal | null, raw: string, messageId: string | undefined): Promise<LikeTotals> {
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
      return { total };
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
    return totals;
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
    switch (e.kind) {
      case 'message': {
        const feed = this.feeds.get(e.channel);
        if (feed) this.onMessage(e, feed);
        else this.deliverMessage(e, null);
        return;
      }
      case 'delete': {
        this.known.delete(`${e.channel}\n${e.messageId}`);
        const deleted = this.feeds.get(e.channel)?.recent.find((r) => r.id === e.messageId);
        if (deleted) deleted.head = null;
        this.toAll(e.channel, frames.delete(e.channel, e.messageId));
        return;
      }
      case 'closed':
        this.toAll(e.channel, frames.closed(e.channel, e.reason));
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
      case 'notify':
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

  /** A message for a watched channel: delivered in offset order, held while the feed syncs, a gap filled first. */
  private onMessage(e: MessageEvent, feed: Feed): void {
    if (feed.held) {
      feed.held.push(e);
      if (feed.held.length > MAX_HELD) feed.held.shift();
      return;
    }
    if (feed.epoch !== e.epoch) {
      // History restarted (expired, or Redis lost it): offsets start again; no client can recover across it.
      feed.epoch = e.epoch;
      feed.last = e.offset - 1;
      feed.recent = [];
    }
    if (e.offset <= feed.last) {
      // Delivered already (a gap fill read it from history first), unless history diverged: a Redis master
      // that died before its replica had its last appends hands out their offsets again, to other messages.
      const had = feed.recent.find((r) => r.offset === e.offset);
      if (had === undefined || had.id === e.id) return;
      feed.recent = feed.recent.filter((r) => r.offset < e.offset);
      feed.last = e.offset - 1;
    }
    if (e.offset > feed.last + 1) {
      feed.held = [e];
      void this.repair(e.channel, feed, e.offset);
      return;
    }
    this.deliverMessage(e, feed);
  }

  private deliverMessage(e: MessageEvent, feed: Feed | null): void {
    this.counters.messages++;
    this.known.set(`${e.channel}\n${e.id}`, true);
    if (feed) {
      feed.last = e.offset;
      this.remember(feed, { offset: e.offset, id: e.id, head: e.head, label: e.label, polarity: e.polarity, ts: e.ts });
    }
    this.fanout.publish(topicOf(e.channel, false), e.frame);
    if (this.fanout.subscribers(topicOf(e.channel, true)) > 0) this.queueBatched(e.channel, e.frame);
    this.moodOf(e.channel).window.add(e.label, e.polarity, e.ts);
    const head = e.head; // only the head is held for a sample, not the whole event
    const moment = this.moments.add(e.channel, { id: e.id, polarity: e.polarity, ts: e.ts, text: () => textOf(head) });
    if (moment) this.announceMoment(moment);
  }

  /**
   * To this process's subscribers of the channel (each process announces the moments it detects to its own
   * sockets: every subscriber gets one), and to the store, which keeps one per id whoever stores it.
   */
  private announceMoment(m: Moment): void {
    this.counters.moments++;
    this.toAll(m.channel, frames.moment(m.channel, m.kind, m.score, m.ts, m.sample));
    this.deps.momentStore?.insert(m).catch((err: unknown) => this.deps.onMomentError?.(err));
  }

  /** Keeps a delivered message (or a deleted one's place) among the feed's recent ones. */
  private remember(feed: Feed, entry: HistoryEntry): void {
    if (this.options.replaySize === 0) return;
    feed.recent.push(entry);
    if (feed.recent.length > this.options.replaySize) feed.recent.shift();
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
    this.moments.sweep(now);
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

/** Reports an ingested line's receive latency now, its other stages once it is published (a refused or failed line is not). */
function timeIngest(
  observe: (stage: IngestStage, ms: number) => void,
  sentAt: number,
  classified: Promise<unknown>,
  published: Promise<unknown>,
): void {
  const start = performance.now();
  if (sentAt > 0) observe('receive', Math.max(0, Date.now() - sentAt));
  let classifiedAt = start;
  classified.then(
    () => (classifiedAt = performance.now()),
    () => undefined,
  );
  published.then(
    () => {
      const now = performance.now();
      observe('classify', classifiedAt - start);
      observe('publish', now - classifiedAt);
      observe('total', now - start);
    },
    () => undefined,
  );
}
