// Twitch chat through tmi.js: one IRC-over-WebSocket connection per channel, read-only and anonymous
// unless a bot identity is configured.
//
// Reconnects are driven here, not by tmi.js (its `reconnect` option is off): tmi's backoff has no jitter,
// it answers Twitch's RECONNECT with a timer that neither `disconnect()` nor `reconnect: false` cancels,
// and a `disconnect()` while the socket is still opening makes it reconnect anyway. So every attempt gets
// a fresh tmi client, and a client that is given up on is retired: its events are ignored and it can no
// longer dial.
import { randomUUID } from 'node:crypto';
import tmi from 'tmi.js';
import type { ChatUserstate, Client, CommonUserstate } from 'tmi.js';
import { badRequest } from '../errors.js';
import { TWITCH_LOGIN } from '../channels/names.js';
import type { Logger } from '../observability/log.js';
import type { EmoteSpan } from '../vocabulary.js';
import type { IngestConnection, IngestConnector, IngestEvent, IngestedChat, IngestStatus } from './source.js';

export interface TwitchConnectorOptions {
  /** Twitch's IRC WebSocket edge; tests point it at a local double. */
  ircUrl?: string;
  /** Bot login; with `oauthToken`, the connection logs in as it (otherwise anonymous, read-only). */
  username?: string;
  /** Chat token, with or without the `oauth:` prefix. */
  oauthToken?: string;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long an attempt may take from dialing to having joined before it is abandoned and retried. */
  connectTimeoutMs?: number;
  log?: Logger;
  /** Told of every chatter (login, display name): the profile cache's tier 1. Twitch chat carries no avatar. */
  onUser?: (login: string, displayName: string, avatarUrl: string | undefined) => void;
}

const DEFAULT_IRC_URL = 'wss://irc-ws.chat.twitch.tv:443';
// What tmi.js closes the socket with when Twitch refuses the login: retrying cannot help.
const LOGIN_REFUSED = /Login unsuccessful|Login authentication failed|Error logging in|Improperly formatted auth|Invalid NICK/;
// NOTICEs (by msg-id) with which Twitch refuses to join a channel: the join never comes, so rather than
// time out and redial forever this connection gives up with `error` (its owner decides when to try again).
const JOIN_REFUSED = new Map([
  ['msg_channel_suspended', 'the channel is suspended'],
  ['msg_room_not_found', 'the channel does not exist'],
  ['msg_banned', 'the account is banned from the channel'],
]);

/**
 * Delay before reconnect attempt `attempt` (0 = first after a drop): uniform between `minMs` and a ceiling
 * that doubles per attempt up to `maxMs`, so that the many channels one Twitch edge restart drops do not
 * all dial back at the same instant.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** (attempt + 1));
  return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
}

/**
 * Twitch emote positions count Unicode code points; `EmoteSpan`s are UTF-16 offsets, which differ as soon as
 * an emoji (two UTF-16 units) precedes the emote. Malformed or out-of-range positions are dropped.
 */
export function emoteSpans(emotes: Record<string, string[] | null> | null | undefined, text: string): EmoteSpan[] {
  if (!emotes) return [];
  // offsets[i] is the UTF-16 offset of code point i; one extra entry marks the end of the text.
  const offsets: number[] = [];
  let unit = 0;
  for (const codePoint of text) {
    offsets.push(unit);
    unit += codePoint.length;
  }
  offsets.push(unit);
  const spans: EmoteSpan[] = [];
  for (const [id, ranges] of Object.entries(emotes)) {
    for (const range of ranges ?? []) {
      const [first = NaN, last = NaN] = range.split('-').map(Number);
      if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first || last + 1 >= offsets.length) continue;
      const start = offsets[first]!; // both in range: checked above
      const end = offsets[last + 1]! - 1;
      spans.push({ id, name: text.slice(start, end + 1), start, end });
    }
  }
  return spans.sort((a, b) => a.start - b.start);
}

// tmi.js turns every tag value "1"/"0" into true/false (and empty ones into null), ids included.
function tagString(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (value === true) return '1';
  if (value === false) return '0';
  return undefined;
}

function badgesOf(tags: CommonUserstate): string[] {
  const badges = new Set<string>();
  for (const name of Object.keys(tags.badges ?? {})) {
    badges.add(name);
    // The founder badge replaces the subscriber badge for a channel's first subscribers.
    if (name === 'founder') badges.add('subscriber');
  }
  if (tags.mod === true) badges.add('moderator');
  if (tags.vip === true) badges.add('vip');
  return [...badges];
}

function toChat(tags: ChatUserstate, text: string): IngestedChat {
  const sentAt = Number(tags['tmi-sent-ts']);
  const color = tagString(tags.color)?.toLowerCase();
  return {
    kind: 'chat',
    // Twitch always sends an id; without one the message still counts, it just cannot be deleted later.
    sourceId: tagString(tags.id) ?? randomUUID(),
    user: {
      id: tagString(tags['user-id']) ?? '',
      name: tagString(tags['display-name'])?.trim() || tags.username || '',
      badges: badgesOf(tags),
      ...(color && /^#[0-9a-f]{6}$/.test(color) ? { color } : {}),
    },
    text,
    sentAt: Number.isFinite(sentAt) && sentAt > 0 ? sentAt : Date.now(),
    emotes: emoteSpans(tags.emotes, text),
  };
}

// tmi.js logs every chat line at info and its own retries at error: chatter for the service log. Not
// always a string, whatever its typings say: a failed join's rejection is logged as it is.
function tmiLogger(log: Logger | undefined) {
  return {
    info: (message: unknown) => log?.trace({ lib: 'tmi.js' }, String(message)),
    warn: (message: unknown) => log?.debug({ lib: 'tmi.js' }, String(message)),
    error: (message: unknown) => log?.debug({ lib: 'tmi.js' }, String(message)),
  };
}

interface Endpoint {
  server: string;
  port: number;
  secure: boolean;
}

function parseIrcUrl(ircUrl: string): Endpoint {
  const url = new URL(ircUrl);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`Twitch IRC URL must be ws:// or wss://, got ${url.protocol}`);
  const secure = url.protocol === 'wss:';
  return { server: url.hostname, port: url.port === '' ? (secure ? 443 : 80) : Number(url.port), secure };
}

export class TwitchConnector implements IngestConnector {
  readonly source = 'twitch' as const;
  private readonly endpoint: Endpoint;

  constructor(private readonly options: TwitchConnectorOptions = {}) {
    this.endpoint = parseIrcUrl(options.ircUrl ?? DEFAULT_IRC_URL);
  }

  normalize(channel: string): string {
    const name = channel.trim().replace(/^#/, '').toLowerCase();
    if (!TWITCH_LOGIN.test(name)) throw badRequest('a Twitch channel is 3-25 letters, digits or underscores', 'validation_failed');
    return name;
  }

  connect(channel: string, emit: (event: IngestEvent) => void): IngestConnection {
    const { username, oauthToken } = this.options;
    const identity =
      username && oauthToken
        ? // tmi.js strips only one `oauth:` and lower-cases the rest, so hand it the bare token once prefixed.
          { username: username.toLowerCase(), password: `oauth:${oauthToken.replace(/^oauth:/i, '')}` }
        : undefined;
    return new TwitchSession(this.normalize(channel), emit, {
      endpoint: this.endpoint,
      identity,
      minMs: this.options.reconnectMinMs ?? 1_000,
      maxMs: this.options.reconnectMaxMs ?? 30_000,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 15_000,
      log: this.options.log,
      onUser: this.options.onUser,
    });
  }
}

interface SessionConfig {
  endpoint: Endpoint;
  identity: { username: string; password: string } | undefined;
  minMs: number;
  maxMs: number;
  connectTimeoutMs: number;
  log: Logger | undefined;
  onUser: TwitchConnectorOptions['onUser'];
}

class TwitchSession implements IngestConnection {
  private readonly room: string;
  private client: Client | null = null;
  private status: IngestStatus | null = null;
  /** Failed attempts since the connection was last live. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closed: Promise<void> | null = null;

  constructor(
    private readonly channel: string,
    private readonly sink: (event: IngestEvent) => void,
    private readonly config: SessionConfig,
  ) {
    this.room = `#${channel}`;
    this.setStatus('connecting');
    this.open();
  }

  stop(): Promise<void> {
    if (!this.closed) {
      this.stopped = true;
      this.closed = this.shutdown();
    }
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    const client = this.client;
    if (!client) return;
    this.retire(client);
    if (client.readyState() === 'CLOSED') return;
    // tmi emits `disconnected` however the socket ends; disconnect()'s own promise never settles when a
    // close is already under way (as right after a RECONNECT), so it is not what to wait on.
    const closed = new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
    // Parting first tells Twitch we left on purpose; tmi gives up waiting for the echo after ~600 ms.
    if (client.readyState() === 'OPEN') await client.part(this.room).catch(() => undefined);
    const state = client.readyState();
    if (state === 'OPEN' || state === 'CONNECTING') client.disconnect().catch(() => undefined);
    await closed;
  }

  private open(): void {
    const { endpoint, identity } = this.config;
    const client = new tmi.Client({
      // Emote sets would be fetched from Twitch's retired Kraken API (with our token); chat needs none of it.
      // Membership (other users' JOIN/PART) is noise for sentiment and heavy in big channels.
      options: { skipUpdatingEmotesets: true, skipMembership: true },
      connection: { ...endpoint, reconnect: false },
      ...(identity ? { identity } : {}),
      channels: [this.room],
      logger: tmiLogger(this.config.log),
    });
    this.client = client;
    const current = () => this.client === client && !this.stopped;

    client.on('join', (room: string, _nick: string, self: boolean) => {
      if (!current() || !self || room !== this.room) return;
      clearTimeout(this.connectTimer);
      this.failures = 0;
      this.config.log?.info({ channel: this.channel }, 'twitch chat joined');
      this.setStatus('live');
    });
    client.on('message', (room: string, tags: ChatUserstate, text: string, self: boolean) => {
      if (!current() || self || room !== this.room || tags['message-type'] === 'whisper') return;
      const chat = toChat(tags, text);
      if (tags.username) this.config.onUser?.(tags.username, chat.user.name, undefined);
      this.emit(chat);
    });
    // A message with bits is reported only as `cheer`, never as `message`, yet it is chat all the same.
    client.on('cheer', (room: string, tags: ChatUserstate, text: string) => {
      if (current() && room === this.room) this.emit(toChat(tags, text));
    });
    client.on('messagedeleted', (room: string, _login: string, _text: string, tags: { 'target-msg-id'?: string }) => {
      const sourceId = tagString(tags['target-msg-id']);
      if (current() && room === this.room && sourceId) this.emit({ kind: 'delete', sourceId });
    });
    // tmi.js reports each CLEARCHAT as exactly one of these three: `clearchat` (whole chat, no tags),
    // `ban` (a user, no ban-duration) or `timeout` (a user with ban-duration).
    client.on('clearchat', (room: string) => {
      if (current() && room === this.room) this.emit({ kind: 'clear' });
    });
    const clearUser = (room: string, tags: { 'target-user-id'?: string }) => {
      const userId = tagString(tags['target-user-id']);
      // Without the user's id a targeted clear must not turn into clearing everyone.
      if (current() && room === this.room && userId) this.emit({ kind: 'clear', userId });
    };
    client.on('ban', (room: string, _login: string, _reason: string, tags: { 'target-user-id'?: string }) => clearUser(room, tags));
    client.on('timeout', (room: string, _login: string, _reason: string, _duration: number, tags: { 'target-user-id'?: string }) =>
      clearUser(room, tags),
    );
    client.on('notice', (room: string, msgid: string) => {
      const why = JOIN_REFUSED.get(msgid);
      if (!current() || room !== this.room || why === undefined) return;
      this.retire(client);
      client.disconnect().catch(() => undefined);
      this.config.log?.warn({ channel: this.channel, msgid }, 'twitch refused to join the channel; not retrying');
      this.setStatus('error', `Twitch refused to join #${this.channel}: ${why} (${msgid})`);
    });
    // Every way a connection ends lands here: a dropped socket, a failed dial, a ping timeout, Twitch's
    // RECONNECT (tmi disconnects by itself) and a refused login.
    client.on('disconnected', (reason: string) => {
      if (!current()) return;
      this.retire(client);
      if (LOGIN_REFUSED.test(reason)) {
        this.config.log?.error({ channel: this.channel }, 'twitch refused the login; not retrying');
        this.setStatus('error', 'Twitch refused the login: check the configured username and OAuth token');
        return;
      }
      this.scheduleRetry();
    });

    this.connectTimer = setTimeout(() => {
      if (!current()) return;
      this.config.log?.warn({ channel: this.channel, timeoutMs: this.config.connectTimeoutMs }, 'twitch connect timed out');
      this.retire(client);
      client.disconnect().catch(() => undefined);
      this.scheduleRetry();
    }, this.config.connectTimeoutMs);
    // Failures are reported through `disconnected` as well; the promise adds nothing.
    client.connect().catch(() => undefined);
  }

  private scheduleRetry(): void {
    const delayMs = backoffDelay(this.failures++, this.config.minMs, this.config.maxMs);
    this.config.log?.warn({ channel: this.channel, attempt: this.failures, delayMs }, 'twitch connection lost; reconnecting');
    this.setStatus('reconnecting');
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  /** Makes `client` inert: its events are ignored from now on and it never dials again (closing it is the caller's). */
  private retire(client: Client): void {
    if (this.client === client) this.client = null;
    clearTimeout(this.connectTimer);
    // tmi answers RECONNECT with setTimeout(() => this.connect()), a timer no option or call cancels.
    client.connect = () => Promise.resolve([this.config.endpoint.server, this.config.endpoint.port]);
  }

  private setStatus(status: IngestStatus, error?: string): void {
    if (status === this.status) return;
    this.status = status;
    this.emit(error === undefined ? { kind: 'status', status } : { kind: 'status', status, error });
  }

  private emit(event: IngestEvent): void {
    if (this.stopped) return;
    // A consumer that throws would otherwise unwind into tmi's socket handler and break the connection.
    try {
      this.sink(event);
    } catch (err) {
      this.config.log?.error({ err, channel: this.channel }, 'ingest consumer threw on a twitch event');
    }
  }
}
