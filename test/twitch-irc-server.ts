// A test double of Twitch's IRC edge (irc-ws.chat.twitch.tv): a WebSocket server on 127.0.0.1 that speaks
// just enough of Twitch's IRC dialect for the real tmi.js client to log in, join, receive tagged chat and
// moderation commands, and be told to reconnect or be cut off. Tests and benchmarks drive it through the
// methods below; it checks nothing itself, so `received` is there for the assertions.
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

export interface ChatLine {
  id?: string;
  login: string;
  displayName?: string;
  userId?: string;
  /** Raw `badges` tag value, e.g. "broadcaster/1,subscriber/12". */
  badges?: string;
  /** The legacy `mod` tag; defaults to whether `badges` holds a moderator badge. */
  mod?: boolean;
  color?: string;
  /** Raw `emotes` tag value, e.g. "25:0-4"; positions count code points, as Twitch's do. */
  emotes?: string;
  /** Cheered bits: Twitch then adds a `bits` tag (tmi.js reports such a message as `cheer`, not `message`). */
  bits?: number;
  sentTs?: number;
  text: string;
  /** A `/me` message: the text goes out wrapped in CTCP ACTION. */
  action?: boolean;
}

export interface TwitchIrcServerOptions {
  /** Decides whether a non-anonymous login's token (PASS without `oauth:`) is accepted; all are by default. */
  acceptToken?: (token: string) => boolean;
  /** Listen on this port instead of an ephemeral one (to bring a "crashed" edge back where clients dial). */
  port?: number;
}

export interface TwitchIrcServer {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  /** Every line received from clients, in order. */
  readonly received: string[];
  /** Sockets accepted since start. */
  readonly connectionsTotal: number;
  /** Sockets open now. */
  connections(): number;
  /** Open sockets that have joined `channel` (with or without '#'). */
  joined(channel: string): number;
  waitFor(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Sends a tagged PRIVMSG to every socket joined to `channel`; returns its message id. */
  say(channel: string, msg: ChatLine): string;
  /** Like `say` for many lines at once, written as one frame per socket (what a benchmark needs). */
  sayMany(channel: string, msgs: readonly ChatLine[]): string[];
  clearMsg(channel: string, targetMsgId: string, login: string): void;
  /** A timeout (with `durationS`), a ban (user without duration) or a whole-chat clear (no user). */
  clearChat(channel: string, opts?: { userId?: string; login?: string; durationS?: number }): void;
  /** Twitch's "please reconnect" (sent before server maintenance); the server keeps the socket open. */
  reconnect(): void;
  /**
   * From now on answers a JOIN of `channel` with Twitch's refusal NOTICE of that msg-id (e.g.
   * `msg_channel_suspended`) instead of joining; `null` lets joins through again.
   */
  refuseJoin(channel: string, msgid: string | null): void;
  /**
   * Everything `fn` sends to channels goes out as one frame per socket, so tmi.js handles it in one go
   * (e.g. a line and its CLEARMSG, the delete arriving before the line can have been published).
   */
  together(fn: () => void): void;
  /**
   * Stops reading from every socket, or only those joined to `channel` (a hung edge: even close handshakes
   * go unanswered), until the returned function is called.
   */
  stall(channel?: string): () => void;
  /** Cuts every socket without a close handshake, like a crashed edge or a lost network. */
  dropAll(): void;
  close(): Promise<void>;
}

interface Peer {
  nick: string;
  pass: string;
  channels: Set<string>;
}

const HOST = 'tmi.twitch.tv';

// IRCv3 message-tags escaping: these characters may not appear raw in a tag value.
const escapeTag = (value: string) =>
  value.replace(/[\\; \r\n]/g, (c) => ({ '\\': '\\\\', ';': '\\:', ' ': '\\s', '\r': '\\r', '\n': '\\n' })[c] ?? c);

/** A frame's text: ws hands a message over as one Buffer (its default binaryType), the other shapes converted alike. */
const frameText = (data: RawData): string =>
  (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
const chan = (channel: string) => (channel.startsWith('#') ? channel : `#${channel}`).toLowerCase();

export async function startTwitchIrcServer(options: TwitchIrcServerOptions = {}): Promise<TwitchIrcServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const peers = new Map<WebSocket, Peer>();
  const received: string[] = [];
  const roomIds = new Map<string, string>();
  const refusals = new Map<string, string>();
  /** While together() runs: frames held back per socket. */
  let held: Map<WebSocket, string[]> | null = null;
  let total = 0;
  let nextId = 0;

  const send = (ws: WebSocket, lines: string[]) => {
    if (ws.readyState === ws.OPEN) ws.send(lines.join('\r\n'));
  };
  const toChannel = (channel: string, lines: string[]) => {
    for (const [ws, peer] of peers) {
      if (!peer.channels.has(channel) || ws.readyState !== ws.OPEN) continue;
      if (held) held.set(ws, [...(held.get(ws) ?? []), ...lines]);
      else ws.send(lines.join('\r\n'));
    }
  };
  const roomId = (channel: string) => {
    if (!roomIds.has(channel)) roomIds.set(channel, String(100_000 + roomIds.size));
    return roomIds.get(channel) ?? '';
  };

  const handle = (ws: WebSocket, peer: Peer, line: string) => {
    received.push(line);
    const [command = '', ...rest] = line.split(' ');
    const arg = rest.join(' ');
    switch (command.toUpperCase()) {
      case 'CAP':
        send(ws, [`:${HOST} CAP * ACK :${arg.replace(/^REQ :/, '')}`]);
        break;
      case 'PASS':
        peer.pass = arg;
        break;
      case 'NICK': {
        peer.nick = arg.toLowerCase();
        const anonymous = /^justinfan\d+$/.test(peer.nick);
        const token = peer.pass.replace(/^oauth:/, '');
        if (!anonymous && (!peer.pass.startsWith('oauth:') || !(options.acceptToken?.(token) ?? true))) {
          send(ws, [`:${HOST} NOTICE * :Login authentication failed`]);
          ws.close();
          break;
        }
        const n = peer.nick;
        const welcome = [
          `:${HOST} 001 ${n} :Welcome, GLHF!`,
          `:${HOST} 002 ${n} :Your host is ${HOST}`,
          `:${HOST} 003 ${n} :This server is rather new`,
          `:${HOST} 004 ${n} :-`,
          `:${HOST} 375 ${n} :-`,
          `:${HOST} 372 ${n} :You are in a wonderful chat room!`,
          `:${HOST} 376 ${n} :>`,
        ];
        // Twitch sends GLOBALUSERSTATE to logged-in users only.
        if (!anonymous)
          welcome.push(`@badge-info=;badges=;color=;display-name=${n};emote-sets=0;user-id=1;user-type= :${HOST} GLOBALUSERSTATE`);
        send(ws, welcome);
        break;
      }
      case 'JOIN':
        for (const channel of arg.split(',').map(chan)) {
          const refusal = refusals.get(channel);
          if (refusal !== undefined) {
            send(ws, [`@msg-id=${refusal} :${HOST} NOTICE ${channel} :Twitch refuses this join (${refusal}).`]);
            continue;
          }
          peer.channels.add(channel);
          const n = peer.nick;
          // USERSTATE before ROOMSTATE, as Twitch orders them: tmi.js marks a logged-in join on USERSTATE.
          send(ws, [
            `:${n}!${n}@${n}.${HOST} JOIN ${channel}`,
            `:${n}.${HOST} 353 ${n} = ${channel} :${n}`,
            `:${n}.${HOST} 366 ${n} ${channel} :End of /NAMES list`,
            `@badge-info=;badges=;color=;display-name=${n};emote-sets=0;mod=0;subscriber=0;user-type= :${HOST} USERSTATE ${channel}`,
            `@emote-only=0;followers-only=-1;r9k=0;room-id=${roomId(channel)};slow=0;subs-only=0 :${HOST} ROOMSTATE ${channel}`,
          ]);
        }
        break;
      case 'PART':
        for (const channel of arg.split(',').map(chan)) {
          peer.channels.delete(channel);
          send(ws, [`:${peer.nick}!${peer.nick}@${peer.nick}.${HOST} PART ${channel}`]);
        }
        break;
      case 'PING':
        send(ws, [`PONG :${HOST}`]);
        break;
    }
  };

  wss.on('connection', (ws) => {
    total++;
    const peer: Peer = { nick: '', pass: '', channels: new Set() };
    peers.set(ws, peer);
    ws.on('message', (data) => {
      for (const line of frameText(data).split('\r\n')) if (line !== '') handle(ws, peer, line);
    });
    ws.on('close', () => peers.delete(ws));
    ws.on('error', () => peers.delete(ws));
  });

  const privmsg = (channel: string, msg: ChatLine): { id: string; line: string } => {
    const id = msg.id ?? `msg-${++nextId}`;
    const badges = msg.badges ?? '';
    const subMonths = /(?:^|,)(?:subscriber|founder)\/(\d+)/.exec(badges)?.[1];
    const mod = msg.mod ?? /(?:^|,)moderator\//.test(badges);
    const tags: Array<[string, string]> = [
      ['badge-info', subMonths ? `subscriber/${subMonths}` : ''],
      ['badges', badges],
      ...(msg.bits !== undefined ? [['bits', String(msg.bits)] as [string, string]] : []),
      ['color', msg.color ?? ''],
      ['display-name', msg.displayName ?? msg.login],
      ['emotes', msg.emotes ?? ''],
      ['id', id],
      ['mod', mod ? '1' : '0'],
      ['room-id', roomId(channel)],
      ['subscriber', subMonths ? '1' : '0'],
      ['tmi-sent-ts', String(msg.sentTs ?? Date.now())],
      ['turbo', '0'],
      ['user-id', msg.userId ?? String(1000 + msg.login.length)],
      ['user-type', mod ? 'mod' : ''],
    ];
    const text = msg.action ? `\u0001ACTION ${msg.text}\u0001` : msg.text;
    const l = msg.login;
    const tagText = tags.map(([k, v]) => `${k}=${escapeTag(v)}`).join(';');
    return { id, line: `@${tagText} :${l}!${l}@${l}.${HOST} PRIVMSG ${channel} :${text}` };
  };

  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    get connectionsTotal() {
      return total;
    },
    connections: () => peers.size,
    joined: (channel) => [...peers.values()].filter((p) => p.channels.has(chan(channel))).length,
    async waitFor(pred, timeoutMs = 5_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    say(channel, msg) {
      const { id, line } = privmsg(chan(channel), msg);
      toChannel(chan(channel), [line]);
      return id;
    },
    sayMany(channel, msgs) {
      const built = msgs.map((m) => privmsg(chan(channel), m));
      toChannel(
        chan(channel),
        built.map((b) => b.line),
      );
      return built.map((b) => b.id);
    },
    clearMsg(channel, targetMsgId, login) {
      const tags = `@login=${escapeTag(login)};room-id=${roomId(chan(channel))};target-msg-id=${escapeTag(targetMsgId)};tmi-sent-ts=${Date.now()}`;
      toChannel(chan(channel), [`${tags} :${HOST} CLEARMSG ${chan(channel)} :(deleted message)`]);
    },
    clearChat(channel, opts = {}) {
      const c = chan(channel);
      const tags = [
        ...(opts.durationS !== undefined ? [`ban-duration=${opts.durationS}`] : []),
        `room-id=${roomId(c)}`,
        ...(opts.userId !== undefined ? [`target-user-id=${escapeTag(opts.userId)}`] : []),
        `tmi-sent-ts=${Date.now()}`,
      ].join(';');
      const target = opts.userId !== undefined ? ` :${opts.login ?? `user${opts.userId}`}` : '';
      toChannel(c, [`@${tags} :${HOST} CLEARCHAT ${c}${target}`]);
    },
    reconnect() {
      for (const ws of peers.keys()) send(ws, [`:${HOST} RECONNECT`]);
    },
    refuseJoin(channel, msgid) {
      if (msgid === null) refusals.delete(chan(channel));
      else refusals.set(chan(channel), msgid);
    },
    together(fn) {
      held = new Map();
      try {
        fn();
      } finally {
        const frames = held;
        held = null;
        for (const [ws, lines] of frames) if (ws.readyState === ws.OPEN) ws.send(lines.join('\r\n'));
      }
    },
    stall(channel) {
      const stalled = [...peers].filter(([, p]) => channel === undefined || p.channels.has(chan(channel))).map(([ws]) => ws);
      for (const ws of stalled) ws.pause();
      return () => stalled.forEach((ws) => ws.resume());
    },
    dropAll() {
      for (const ws of peers.keys()) ws.terminate();
    },
    async close() {
      for (const ws of peers.keys()) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
