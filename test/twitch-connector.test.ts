// The Twitch connector with the real tmi.js client against a local double of Twitch's IRC edge.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { AppError } from '../src/errors.js';
import { TwitchConnector, backoffDelay, emoteSpans, type TwitchConnectorOptions } from '../src/ingest/twitch.js';
import type { IngestConnection, IngestEvent, IngestedChat } from '../src/ingest/source.js';
import { startTwitchIrcServer, type TwitchIrcServer } from './twitch-irc-server.js';

const CHANNEL = 'somechannel';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: TwitchIrcServer;
const open: IngestConnection[] = [];

beforeEach(async () => {
  server = await startTwitchIrcServer();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
  await server.close();
});

/** Connects and records everything emitted. */
function connect(options: TwitchConnectorOptions = {}, srv: { url: string } = server) {
  const events: IngestEvent[] = [];
  const connector = new TwitchConnector({ ircUrl: srv.url, reconnectMinMs: 50, reconnectMaxMs: 200, ...options });
  const connection = connector.connect(CHANNEL, (e) => events.push(e));
  open.push(connection);
  const statuses = () => events.flatMap((e) => (e.kind === 'status' ? [e.status] : []));
  const chats = () => events.filter((e): e is IngestedChat => e.kind === 'chat');
  return { events, connection, statuses, chats };
}

async function live(statuses: () => string[], count = 1) {
  await server.waitFor(() => statuses().filter((s) => s === 'live').length >= count, 5_000, `live #${count}`);
}

describe('TwitchConnector.normalize', () => {
  const connector = new TwitchConnector();
  it('trims, strips #, lower-cases', () => {
    expect(connector.normalize('  #Some_Channel42 ')).toBe('some_channel42');
  });
  it.each(['ab', 'bad-name', 'a'.repeat(26), '#', '', 'has space'])('rejects %j with a 400 validation_failed', (name) => {
    const err = (() => {
      try {
        connector.normalize(name);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
  });
});

describe('login and join', () => {
  it('is anonymous by default: justinfan nick, no oauth PASS, connecting then live', async () => {
    const { statuses } = connect();
    await live(statuses);
    expect(statuses()).toEqual(['connecting', 'live']);
    expect(server.received).toContain('CAP REQ :twitch.tv/tags twitch.tv/commands');
    expect(server.received.some((l) => /^NICK justinfan\d+$/.test(l))).toBe(true);
    expect(server.received.some((l) => l.startsWith('PASS oauth:'))).toBe(false);
    expect(server.received).toContain(`JOIN #${CHANNEL}`);
    expect(server.joined(CHANNEL)).toBe(1);
  });

  it('logs in with a configured identity (token with or without the oauth: prefix)', async () => {
    const a = connect({ username: 'ChatPulse_Bot', oauthToken: 'abc123token' });
    await live(a.statuses);
    expect(server.received).toContain('PASS oauth:abc123token');
    expect(server.received).toContain('NICK chatpulse_bot');
    const b = connect({ username: 'chatpulse_bot', oauthToken: 'oauth:def456token' });
    await live(b.statuses);
    expect(server.received).toContain('PASS oauth:def456token');
    expect(server.joined(CHANNEL)).toBe(2);
  });

  it('stays anonymous when only one half of the identity is configured', async () => {
    const { statuses } = connect({ username: 'chatpulse_bot' });
    await live(statuses);
    expect(server.received.some((l) => /^NICK justinfan\d+$/.test(l))).toBe(true);
  });

  it('gives up with an error that does not leak the token when Twitch refuses the login', async () => {
    await server.close();
    server = await startTwitchIrcServer({ acceptToken: (t) => t === 'goodtoken' });
    const { events, statuses } = connect({ username: 'chatpulse_bot', oauthToken: 'badtoken' });
    await server.waitFor(() => statuses().includes('error'), 5_000, 'error status');
    await sleep(400); // > reconnectMaxMs: a retry would have dialed by now
    expect(server.connectionsTotal).toBe(1);
    expect(statuses()).toEqual(['connecting', 'error']);
    const error = events.find((e) => e.kind === 'status' && e.status === 'error');
    expect(error).toMatchObject({ error: expect.stringMatching(/login/i) as unknown });
    expect(JSON.stringify(events)).not.toContain('badtoken');
  });
});

describe('a refused join', () => {
  it.each([
    ['msg_channel_suspended', /suspended/],
    ['msg_room_not_found', /does not exist/],
    ['msg_banned', /banned/],
  ])('gives up with an error on a %s NOTICE: no waiting for a join that never comes, no redial', async (msgid, why) => {
    server.refuseJoin(CHANNEL, msgid);
    const { events, statuses } = connect();
    await server.waitFor(() => statuses().includes('error'), 5_000, 'error status');
    expect(events.at(-1)).toEqual({ kind: 'status', status: 'error', error: expect.stringMatching(why) as unknown });
    expect(events.at(-1)).toMatchObject({ error: expect.stringContaining(msgid) as unknown });
    await server.waitFor(() => server.connections() === 0, 5_000, 'socket closed');
    await sleep(400); // > reconnectMaxMs: a retry would have dialed by now
    expect(server.connectionsTotal).toBe(1);
    expect(statuses()).toEqual(['connecting', 'error']);
  });
});

describe('chat', () => {
  it('maps a tagged PRIVMSG to IngestedChat: user, badges, colour, time, emotes after an emoji', async () => {
    const { chats, statuses } = connect();
    await live(statuses);
    // Code points: 😀=0 ' '=1 Kappa=2-6 ' hi '=7-10 Kappa=11-15 ' '=16 Keepo=17-21; 😀 is two UTF-16 units.
    const text = '😀 Kappa hi Kappa Keepo';
    const id = server.say(CHANNEL, {
      id: 'b6f1c3a0-0000-4000-8000-000000000001',
      login: 'viewer_one',
      displayName: 'Viewer_One',
      userId: '424242',
      badges: 'broadcaster/1,subscriber/12,vip/1,glhf-pledge/1',
      color: '#1E90FF',
      emotes: '25:2-6,11-15/1902:17-21',
      sentTs: 1_700_000_000_123,
      text,
    });
    await server.waitFor(() => chats().length === 1);
    const chat = chats()[0]!;
    expect(chat).toEqual({
      kind: 'chat',
      sourceId: id,
      user: { id: '424242', name: 'Viewer_One', badges: expect.any(Array) as unknown, color: '#1e90ff' },
      text,
      sentAt: 1_700_000_000_123,
      emotes: [
        { id: '25', name: 'Kappa', start: 3, end: 7 },
        { id: '25', name: 'Kappa', start: 12, end: 16 },
        { id: '1902', name: 'Keepo', start: 18, end: 22 },
      ],
    });
    expect([...chat.user.badges].sort()).toEqual(['broadcaster', 'glhf-pledge', 'subscriber', 'vip']);
    for (const e of chat.emotes) expect(text.slice(e.start, e.end + 1)).toBe(e.name);
  });

  it('derives moderator from the mod tag, subscriber from founder; /me actions and cheers are chat', async () => {
    const { chats, statuses } = connect();
    await live(statuses);
    server.say(CHANNEL, { login: 'modder', badges: 'founder/0', mod: true, text: 'hello there' });
    server.say(CHANNEL, { login: 'badgemod', badges: 'moderator/1', text: 'also a mod' });
    server.say(CHANNEL, { login: 'plain', text: 'waves Kappa', action: true, emotes: '25:6-10' });
    server.say(CHANNEL, { login: 'cheerer', bits: 100, text: 'cheer100 great stream' });
    await server.waitFor(() => chats().length === 4);
    const [modder, badgemod, action, cheer] = chats() as [IngestedChat, IngestedChat, IngestedChat, IngestedChat];
    expect([...modder.user.badges].sort()).toEqual(['founder', 'moderator', 'subscriber']);
    expect(modder.user.name).toBe('modder');
    expect(modder.user.color).toBeUndefined();
    expect(badgemod.user.badges).toEqual(['moderator']);
    expect(action.text).toBe('waves Kappa');
    expect(action.emotes).toEqual([{ id: '25', name: 'Kappa', start: 6, end: 10 }]);
    expect(action.user.badges).toEqual([]);
    expect(cheer.text).toBe('cheer100 great stream');
  });

  it('delivers a burst written as one frame, in order', async () => {
    const { chats, statuses } = connect();
    await live(statuses);
    const ids = server.sayMany(
      CHANNEL,
      Array.from({ length: 500 }, (_, i) => ({ login: `user${i}`, text: `message ${i}` })),
    );
    await server.waitFor(() => chats().length === 500);
    expect(chats().map((c) => c.sourceId)).toEqual(ids);
  });
});

describe('moderation', () => {
  it('CLEARMSG is one delete; CLEARCHAT timeout, ban and whole-chat are one clear each', async () => {
    const { events, chats, statuses } = connect();
    await live(statuses);
    const target = server.say(CHANNEL, { login: 'troll', userId: '666', text: 'bad words' });
    server.clearMsg(CHANNEL, target, 'troll');
    server.clearChat(CHANNEL, { userId: '666', login: 'troll', durationS: 600 });
    server.clearChat(CHANNEL, { userId: '777', login: 'worse' });
    server.clearChat(CHANNEL);
    // Lines on one socket are handled in order: once this arrives, everything before it has been.
    server.say(CHANNEL, { id: 'sentinel', login: 'x_user', text: 'after' });
    await server.waitFor(() => chats().some((c) => c.sourceId === 'sentinel'));
    expect(events.filter((e) => e.kind === 'delete' || e.kind === 'clear')).toEqual([
      { kind: 'delete', sourceId: target },
      { kind: 'clear', userId: '666' },
      { kind: 'clear', userId: '777' },
      { kind: 'clear' },
    ]);
  });
});

describe('reconnects', () => {
  it("follows Twitch's RECONNECT: reconnecting, a new connection joined, then delivers again", async () => {
    const { statuses, chats } = connect();
    await live(statuses);
    server.reconnect();
    await live(statuses, 2);
    expect(statuses()).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    await server.waitFor(() => server.connections() === 1, 5_000, 'old socket closed');
    expect(server.connectionsTotal).toBe(2);
    expect(server.joined(CHANNEL)).toBe(1);
    server.say(CHANNEL, { id: 'after-reconnect', login: 'viewer', text: 'still here' });
    await server.waitFor(() => chats().some((c) => c.sourceId === 'after-reconnect'));
    // tmi.js also answers RECONNECT with its own connect() after its default 1 s: that must not dial a third time.
    await sleep(1_200);
    expect(server.connectionsTotal).toBe(2);
  });

  it('reconnects after the server drops every socket, and delivers again', async () => {
    const { statuses, chats } = connect();
    await live(statuses);
    server.dropAll();
    await live(statuses, 2);
    expect(statuses()).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    expect(server.joined(CHANNEL)).toBe(1);
    server.say(CHANNEL, { id: 'after-drop', login: 'viewer', text: 'back' });
    await server.waitFor(() => chats().some((c) => c.sourceId === 'after-drop'));
  });

  it('keeps retrying while the edge is down, then comes back live', async () => {
    const { statuses } = connect();
    await live(statuses);
    const port = Number(new URL(server.url).port);
    await server.close(); // refuses connections now
    await server.waitFor(() => statuses().at(-1) === 'reconnecting', 5_000, 'reconnecting');
    await sleep(300);
    // Same port again: the connector dials the URL it was given.
    server = await startTwitchIrcServer({ port });
    await live(statuses, 2);
    expect(statuses()).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  });

  it('abandons an attempt that never gets to join and dials again', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => silent.once('listening', resolve));
    let accepted = 0;
    silent.on('connection', () => accepted++);
    try {
      const address = silent.address();
      const url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const { statuses } = connect({ connectTimeoutMs: 150 }, { url });
      await server.waitFor(() => accepted >= 2, 5_000, 'a second dial');
      expect(statuses()).toEqual(['connecting', 'reconnecting']);
    } finally {
      for (const ws of silent.clients) ws.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('backs off with jitter between min and max', () => {
    expect(backoffDelay(0, 100, 5_000, () => 0)).toBe(100);
    expect(backoffDelay(0, 100, 5_000, () => 1)).toBe(200);
    expect(backoffDelay(3, 100, 5_000, () => 1)).toBe(1_600);
    expect(backoffDelay(30, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffDelay(30, 100, 5_000, () => 0.5)).toBe(2_550);
  });
});

describe('stop', () => {
  it('parts, closes, then emits nothing and never reconnects', async () => {
    const { events, connection, statuses } = connect();
    await live(statuses);
    await connection.stop();
    expect(server.received).toContain(`PART #${CHANNEL}`);
    await server.waitFor(() => server.connections() === 0, 5_000, 'socket closed');
    const seen = events.length;
    server.say(CHANNEL, { login: 'late', text: 'anyone?' });
    server.reconnect();
    await sleep(400);
    expect(events.length).toBe(seen);
    expect(server.connectionsTotal).toBe(1);
  });

  it('cancels the reconnect that a RECONNECT scheduled', async () => {
    const { events, connection, statuses } = connect({ reconnectMinMs: 150, reconnectMaxMs: 300 });
    await live(statuses);
    server.reconnect();
    await server.waitFor(() => statuses().at(-1) === 'reconnecting', 5_000, 'reconnecting');
    await connection.stop();
    const seen = events.length;
    await sleep(1_200); // past our retry and past tmi.js's own 1 s post-RECONNECT timer
    expect(server.connectionsTotal).toBe(1);
    expect(events.length).toBe(seen);
  });

  it('resolves once closed when stopped while a RECONNECT is closing the socket', async () => {
    const { connection, statuses } = connect();
    await live(statuses);
    server.reconnect();
    const resume = server.stall(); // the close handshake tmi starts on RECONNECT now hangs
    await sleep(100);
    let stopped = false;
    const stopping = connection.stop().then(() => (stopped = true));
    await sleep(100);
    expect(stopped).toBe(false); // the socket is not closed yet
    resume();
    await stopping;
    await server.waitFor(() => server.connections() === 0, 5_000, 'socket closed');
    expect(server.connectionsTotal).toBe(1);
  });

  it('can stop while still connecting', async () => {
    const { events, connection } = connect();
    await connection.stop();
    await sleep(300);
    expect(server.connections()).toBe(0);
    expect(server.connectionsTotal).toBeLessThanOrEqual(1);
    expect(events).toEqual([{ kind: 'status', status: 'connecting' }]);
  });
});

describe('emoteSpans', () => {
  it('converts code point positions to UTF-16 offsets and drops malformed ones', () => {
    const text = '👍🏽 LUL';
    expect(emoteSpans({ '425618': ['3-5'] }, text)).toEqual([{ id: '425618', name: 'LUL', start: 5, end: 7 }]);
    expect(emoteSpans({ '1': ['3-6', 'x-1', '5-4'] }, text)).toEqual([]);
    expect(emoteSpans(null, text)).toEqual([]);
  });
});
