// The cluster channel bus: events travel through Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE), one Redis
// channel per chat channel (`cp:{ch:<channel>}`). Sharded pub/sub routes a channel by its hash slot, so on
// Redis Cluster an event only crosses the shard that owns it instead of being broadcast to every node;
// on a single Redis it behaves like plain pub/sub. Each SSUBSCRIBE names one channel because a
// multi-channel SSUBSCRIBE must stay within one slot.
//
// History: per channel a stream `cp:{ch:<channel>}:hist` (entry id `<offset>-1`, trimmed `MAXLEN ~ size`),
// a hash `...:hmeta` (epoch, top offset), a set `...:hdel` of deleted ids and `...:href:<user>:<ref>` dedupe
// keys, all in the channel's hash slot with its pub/sub channel. One script appends, assigns the offset and
// SPUBLISHes, so every watcher receives a channel's messages in offset order, and a message is in history
// before anyone can see it. Everything expires `ttlMs` after the channel's last message; a channel whose
// meta is gone starts a new epoch (offsets restart at 1 and clients learn their gap cannot be filled).
//
// Delivery semantics (differ from MemoryChannelBus, which delivers every event to its one process):
// - a process receives a channel's events only while it watches the channel (`watch` on its first local
//   subscriber, `unwatch` on its last), so a host carries only the traffic of channels it serves;
// - there is no local short cut: the publishing process gets its own events back through Redis like
//   every other watcher, so all watchers see one order per channel, Redis's; a publisher that does not
//   watch the channel does not receive it;
// - per channel, events keep publish order for one publisher (one connection, in order); between
//   publishers the order is the order Redis received them;
// - at most once for plain events: while Redis is unreachable `publish` drops them, and events published
//   between `watch` and the subscription taking effect are not received. Messages are in history first,
//   and the hub fills any gap in the offsets it receives from there (`append` rejects while Redis is away).
import { isCluster, isReady, KEY_PREFIX, keyPart, LuaScript, waitReady, type RedisClient, type RedisLog } from '../redis/connection.js';
import { messageEvent, type BusEvent, type ChannelBus, type PlainEvent } from './bus.js';
import {
  DEFAULT_HISTORY,
  newEpoch,
  type Appended,
  type AppendRef,
  type HistoryEntry,
  type HistoryOptions,
  type HistorySlice,
  type NewMessage,
} from './history.js';

export interface RedisChannelBusOptions {
  /** Key prefix, `cp:` unless a test or a shared Redis needs another. */
  prefix?: string;
  log?: RedisLog;
  history?: HistoryOptions;
}

// KEYS[1] meta, KEYS[2] stream, KEYS[3] ref key. ARGV[1] a fresh epoch, ARGV[2] size, ARGV[3] ttl ms,
// ARGV[4] pub/sub channel, ARGV[5] id, ARGV[6] head, ARGV[7] label, ARGV[8] polarity, ARGV[9] ts,
// ARGV[10] ref ttl ms, ARGV[11] the message as JSON, ARGV[12] '1' when KEYS[3] is a ref.
// {1, offset, epoch}, or {0, "<offset> <epoch> <id>"} of the first append under the same ref.
const APPEND_LUA = `
if ARGV[12] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {0, seen} end
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'top', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], offset .. '-1', 'i', ARGV[5], 'h', ARGV[6], 'l', ARGV[7], 'p', ARGV[8], 't', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if ARGV[12] == '1' then redis.call('SET', KEYS[3], offset .. ' ' .. epoch .. ' ' .. ARGV[5], 'PX', ARGV[10]) end
redis.call('SPUBLISH', ARGV[4], offset .. ' ' .. epoch .. ' ' .. ARGV[11])
return {1, offset, epoch}
`;
const APPEND = new LuaScript(APPEND_LUA);

// KEYS[1] meta, KEYS[2] stream, KEYS[3] deleted ids. ARGV[1] offset to read after ('' for the latest),
// ARGV[2] limit, ARGV[3] a fresh epoch, ARGV[4] ttl ms. {epoch, top, entries, deleted flags}; entries
// newest first when reading the latest.
const READ_LUA = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local top = redis.call('HGET', KEYS[1], 'top')
local rows
if ARGV[1] == '' then
  rows = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[2])
else
  rows = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+', 'COUNT', ARGV[2])
end
local deleted = {}
for i, row in ipairs(rows) do deleted[i] = redis.call('SISMEMBER', KEYS[3], row[2][2]) end
return {epoch, top, rows, deleted}
`;
const READ = new LuaScript(READ_LUA);

type Row = [string, string[]];

/** How often, and how long apart, a failed SSUBSCRIBE of a watched channel is tried again (about 5 s in all). */
const SUBSCRIBE_ATTEMPTS = 25;
const SUBSCRIBE_RETRY_MS = 200;

export class RedisChannelBus implements ChannelBus {
  private readonly handlers: Array<(event: BusEvent) => void> = [];
  /** Channels this process watches: the source of truth the subscription is rebuilt from after a reconnect. */
  private readonly watched = new Set<string>();
  private readonly channelPrefix: string;
  private readonly prefix: string;
  private readonly historyOptions: HistoryOptions;
  private readonly log: RedisLog | undefined;
  /** Settles once every (un)subscribe sent so far has settled. */
  private lastOp: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Events dropped because Redis was unreachable (or the publish failed). */
  dropped = 0;

  private readonly onMessage = (redisChannel: string, message: string) => this.receive(redisChannel, message);
  private readonly onReady = () => this.resubscribe();
  private readonly onPublisherReady = () => this.preload();

  /**
   * @param publisher a command connection (may be shared with other drivers; not closed by `close`).
   * @param subscriber a dedicated connection from `createSubscriber`, owned by the bus and closed by `close`.
   */
  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    options: RedisChannelBusOptions = {},
  ) {
    this.prefix = options.prefix ?? KEY_PREFIX;
    this.channelPrefix = `${this.prefix}{ch:`;
    this.historyOptions = options.history ?? DEFAULT_HISTORY;
    this.log = options.log;
    subscriber.on('smessage', this.onMessage);
    subscriber.on('ready', this.onReady);
    publisher.on('ready', this.onPublisherReady);
    if (isReady(publisher)) this.preload();
  }

  /**
   * Loads the scripts ahead of their first use (and again on every connection, as a restarted Redis has
   * forgotten them): an EVALSHA that fails with NOSCRIPT is sent again as EVAL after its reply, and an
   * event published meanwhile would overtake the message being appended.
   */
  private preload(): void {
    const targets = isCluster(this.publisher) ? this.publisher.nodes('master') : [this.publisher];
    for (const node of targets) for (const source of [APPEND_LUA, READ_LUA]) node.script('LOAD', source).catch(() => undefined);
  }

  /** The channel's pub/sub channel; its history keys share its hash tag (so its slot). */
  private busChannel(channel: string): string {
    return `${this.channelPrefix}${channel}}`;
  }

  private keys(channel: string): { meta: string; stream: string; deleted: string } {
    const base = this.busChannel(channel);
    return { meta: `${base}:hmeta`, stream: `${base}:hist`, deleted: `${base}:hdel` };
  }

  async append(message: NewMessage, ref?: AppendRef): Promise<Appended> {
    const { meta, stream } = this.keys(message.channel);
    const refKey = ref ? `${this.busChannel(message.channel)}:href:${keyPart(ref.user)}:${keyPart(ref.ref)}` : meta;
    const h = this.historyOptions;
    const reply = (await APPEND.run(
      this.publisher,
      [meta, stream, refKey],
      [
        newEpoch(),
        h.size,
        h.ttlMs,
        this.busChannel(message.channel),
        message.id,
        message.head,
        message.label,
        message.polarity,
        message.ts,
        h.refTtlMs,
        JSON.stringify(message),
        ref ? '1' : '0',
      ],
    )) as [number, number | string, string?];
    if (reply[0] === 1) return { offset: Number(reply[1]), epoch: String(reply[2]), id: message.id, duplicate: false };
    const [offset = '0', epoch = '', id = ''] = String(reply[1]).split(' ');
    return { offset: Number(offset), epoch, id, duplicate: true };
  }

  async history(channel: string, after: number | null, limit: number): Promise<HistorySlice> {
    const { meta, stream, deleted } = this.keys(channel);
    const reply = (await READ.run(
      this.publisher,
      [meta, stream, deleted],
      [after === null ? '' : after, Math.max(1, limit), newEpoch(), this.historyOptions.ttlMs],
    )) as [string, string, Row[], number[]];
    const [epoch, top, rows, flags] = reply;
    const entries = rows.map(([streamId, f], i): HistoryEntry => ({
      offset: Number.parseInt(streamId, 10),
      id: f[1] ?? '',
      head: flags[i] === 1 ? null : (f[3] ?? null),
      label: f[5] ?? '',
      polarity: Number(f[7]),
      ts: Number(f[9]),
    }));
    if (after === null) entries.reverse();
    return { epoch, top: Number(top), entries };
  }

  publish(event: PlainEvent): void {
    if (this.closed) return;
    // Fire and forget: never throws, never waits. Checking readiness first drops the event at once
    // instead of letting it fail later (the client queues nothing while disconnected).
    if (!isReady(this.publisher)) {
      this.drop(event.channel, 'redis not ready');
      return;
    }
    let payload: string;
    try {
      payload = JSON.stringify(event);
    } catch (err) {
      this.drop(event.channel, err instanceof Error ? err.message : String(err));
      return;
    }
    const fail = (err: unknown) => this.drop(event.channel, err instanceof Error ? err.message : String(err));
    if (event.kind === 'delete') {
      const { deleted } = this.keys(event.channel);
      this.publisher.sadd(deleted, event.messageId).catch(fail);
      this.publisher.pexpire(deleted, this.historyOptions.ttlMs).catch(fail);
    }
    this.publisher.spublish(this.busChannel(event.channel), payload).catch(fail);
  }

  onEvent(handler: (event: BusEvent) => void): void {
    this.handlers.push(handler);
  }

  watch(channel: string): Promise<void> {
    if (this.closed || this.watched.has(channel)) return this.lastOp.then(() => undefined);
    this.watched.add(channel);
    this.subscribe(channel);
    return this.lastOp.then(() => undefined);
  }

  unwatch(channel: string): void {
    if (!this.watched.delete(channel) || this.closed) return;
    // While disconnected there is nothing to undo: the next connection subscribes to `watched` only.
    if (!isReady(this.subscriber)) return;
    this.track(this.subscriber.sunsubscribe(this.busChannel(channel)));
  }

  /**
   * Resolves once Redis has answered every (un)subscribe issued so far, i.e. events published from
   * now on reach this process for the watched channels. For tests and for callers that need it. While
   * disconnected it first waits (up to `timeoutMs`) for the connection that re-subscribes.
   */
  async synced(timeoutMs = 10_000): Promise<void> {
    // The bus's own 'ready' listener was registered first, so it has re-subscribed by the time this resumes.
    if (!this.closed && !isReady(this.subscriber)) await waitReady(this.subscriber, timeoutMs);
    await this.lastOp;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.length = 0;
    this.watched.clear();
    this.subscriber.off('smessage', this.onMessage);
    this.subscriber.off('ready', this.onReady);
    this.publisher.off('ready', this.onPublisherReady);
    // Quitting the connection drops all its subscriptions; no SUNSUBSCRIBE needed.
    if (this.subscriber.status === 'end') return;
    try {
      if (isReady(this.subscriber)) await this.subscriber.quit();
      else this.subscriber.disconnect();
    } catch {
      this.subscriber.disconnect();
    }
  }

  private subscribe(channel: string): void {
    // While disconnected the command would fail at once; 'ready' subscribes every watched channel.
    if (!isReady(this.subscriber)) return;
    this.track(this.subscribeUntilDone(channel));
  }

  /**
   * SSUBSCRIBE, tried again while the channel is still watched and the client ready: on a Redis Cluster a
   * shard's subscriber connection may not be up yet, or the slot just moved, and the command fails although
   * a moment later it would not.
   */
  private async subscribeUntilDone(channel: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.subscriber.ssubscribe(this.busChannel(channel));
        return;
      } catch (err) {
        if (this.closed || !this.watched.has(channel) || !isReady(this.subscriber) || attempt >= SUBSCRIBE_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, SUBSCRIBE_RETRY_MS));
      }
    }
  }

  private resubscribe(): void {
    // A fresh connection has no subscriptions (autoResubscribe is off on purpose): rebuild them all,
    // including channels watched while Redis was down.
    if (this.closed) return;
    if (this.watched.size > 0) this.log?.info({ channels: this.watched.size }, 'bus re-subscribing after reconnect');
    for (const channel of this.watched) this.subscribe(channel);
  }

  private track(op: Promise<unknown>): void {
    const settled = op.catch((err: unknown) => {
      // Ignored: the connection dropped mid-command, and 'ready' re-subscribes from `watched`.
      this.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'bus (un)subscribe failed');
    });
    // Chained: on a cluster each shard has its own subscriber connection, so a later command may be answered first.
    this.lastOp = Promise.all([this.lastOp, settled]).then(() => undefined);
  }

  private receive(redisChannel: string, message: string): void {
    if (this.closed || !redisChannel.startsWith(this.channelPrefix)) return;
    // A message can still arrive between unwatch and the SUNSUBSCRIBE taking effect: not ours any more.
    if (!this.watched.has(redisChannel.slice(this.channelPrefix.length, -1))) return;
    let event: BusEvent;
    try {
      event = parseEvent(message);
    } catch {
      this.log?.warn({ channel: redisChannel }, 'bus dropped a malformed event');
      return;
    }
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        // One faulty handler must not stop delivery to the others, nor kill the connection's parser.
        this.log?.warn({ err: (err as Error).message }, 'bus event handler threw');
      }
    }
  }

  private drop(channel: string, reason: string): void {
    this.dropped++;
    // Logged on the first drop and every 1000th after, not once per chat message of an outage.
    if (this.dropped % 1000 === 1) this.log?.warn({ channel, reason, dropped: this.dropped }, 'bus dropped events');
  }
}

/** A plain event is JSON; a message comes from the append script as `<offset> <epoch> <message JSON>`. */
function parseEvent(payload: string): BusEvent {
  if (payload.startsWith('{')) return JSON.parse(payload) as PlainEvent;
  const first = payload.indexOf(' ');
  const second = payload.indexOf(' ', first + 1);
  if (first < 0 || second < 0) throw new Error('malformed message event');
  const message = JSON.parse(payload.slice(second + 1)) as NewMessage;
  return messageEvent(message, Number(payload.slice(0, first)), payload.slice(first + 1, second));
}
