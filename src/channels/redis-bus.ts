// The cluster channel bus: events travel through Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE), one Redis
// channel per chat channel (`cp:ch:<channel>`). Sharded pub/sub routes a channel by its hash slot, so on
// Redis Cluster an event only crosses the shard that owns it instead of being broadcast to every node;
// on a single Redis it behaves like plain pub/sub. Each SSUBSCRIBE names one channel because a
// multi-channel SSUBSCRIBE must stay within one slot.
//
// Delivery semantics (differ from MemoryChannelBus, which delivers every event to its one process):
// - a process receives a channel's events only while it watches the channel (`watch` on its first local
//   subscriber, `unwatch` on its last), so a host carries only the traffic of channels it serves;
// - there is no local short cut: the publishing process gets its own events back through Redis like
//   every other watcher, so all watchers see one order per channel, Redis's; a publisher that does not
//   watch the channel does not receive it;
// - per channel, events keep publish order for one publisher (one connection, in order); between
//   publishers the order is the order Redis received them;
// - at most once: while Redis is unreachable `publish` drops events (the process stays up and chat goes
//   on locally once Redis is back), and events published between `watch` and the subscription taking
//   effect are not received.
import type { Redis } from 'ioredis';
import { isReady, KEY_PREFIX, waitReady, type RedisLog } from '../redis/connection.js';
import type { BusEvent, ChannelBus } from './bus.js';

export interface RedisChannelBusOptions {
  /** Key prefix, `cp:` unless a test or a shared Redis needs another. */
  prefix?: string;
  log?: RedisLog;
}

export class RedisChannelBus implements ChannelBus {
  private readonly handlers: Array<(event: BusEvent) => void> = [];
  /** Channels this process watches: the source of truth the subscription is rebuilt from after a reconnect. */
  private readonly watched = new Set<string>();
  private readonly channelPrefix: string;
  private readonly log: RedisLog | undefined;
  /** The last (un)subscribe sent; Redis answers a connection's commands in order, so this settles after all earlier ones. */
  private lastOp: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Events dropped because Redis was unreachable (or the publish failed). */
  dropped = 0;

  private readonly onMessage = (redisChannel: string, message: string) => this.receive(redisChannel, message);
  private readonly onReady = () => this.resubscribe();

  /**
   * @param publisher a command connection (may be shared with other drivers; not closed by `close`).
   * @param subscriber a dedicated connection from `createSubscriber`, owned by the bus and closed by `close`.
   */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    options: RedisChannelBusOptions = {},
  ) {
    this.channelPrefix = `${options.prefix ?? KEY_PREFIX}ch:`;
    this.log = options.log;
    subscriber.on('smessage', this.onMessage);
    subscriber.on('ready', this.onReady);
  }

  publish(event: BusEvent): void {
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
    this.publisher
      .spublish(this.channelPrefix + event.channel, payload)
      .catch((err: unknown) => this.drop(event.channel, err instanceof Error ? err.message : String(err)));
  }

  onEvent(handler: (event: BusEvent) => void): void {
    this.handlers.push(handler);
  }

  watch(channel: string): void {
    if (this.closed || this.watched.has(channel)) return;
    this.watched.add(channel);
    this.subscribe(channel);
  }

  unwatch(channel: string): void {
    if (!this.watched.delete(channel) || this.closed) return;
    // While disconnected there is nothing to undo: the next connection subscribes to `watched` only.
    if (!isReady(this.subscriber)) return;
    this.track(this.subscriber.sunsubscribe(this.channelPrefix + channel));
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
    this.track(this.subscriber.ssubscribe(this.channelPrefix + channel));
  }

  private resubscribe(): void {
    // A fresh connection has no subscriptions (autoResubscribe is off on purpose): rebuild them all,
    // including channels watched while Redis was down.
    if (this.closed) return;
    if (this.watched.size > 0) this.log?.info({ channels: this.watched.size }, 'bus re-subscribing after reconnect');
    for (const channel of this.watched) this.subscribe(channel);
  }

  private track(op: Promise<unknown>): void {
    this.lastOp = op.catch((err: unknown) => {
      // Ignored: the connection dropped mid-command, and 'ready' re-subscribes from `watched`.
      this.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'bus (un)subscribe failed');
    });
  }

  private receive(redisChannel: string, message: string): void {
    if (this.closed || !redisChannel.startsWith(this.channelPrefix)) return;
    // A message can still arrive between unwatch and the SUNSUBSCRIBE taking effect: not ours any more.
    if (!this.watched.has(redisChannel.slice(this.channelPrefix.length))) return;
    let event: BusEvent;
    try {
      event = JSON.parse(message) as BusEvent;
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
