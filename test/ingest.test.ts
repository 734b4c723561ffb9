// Ingestion end to end through the client SDK: real tmi.js (inside ChatPulse) against a local Twitch-IRC
// server, real live subscribers, and ownership across two processes sharing a real redis-server.
import { Redis } from 'ioredis';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPulseClient, Ingest } from '../src/client/index.js';
import { join } from 'node:path';
import { ConfigError, DEFAULT_MODEL, loadConfig } from '../src/config.js';
import { BUNDLED_MODELS_DIR } from '../src/paths.js';
import { RedisLeaseManager } from '../src/ingest/redis-lease.js';
import { RedisIngestStore } from '../src/ingest/redis-store.js';
import type { IngestedChat } from '../src/ingest/source.js';
import { ROBERTA, startServer, type TestServer } from './helpers.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { clientOf, refused, signUp, watch, type FrameLog } from './sdk.js';
import { startTwitchIrcServer, type TwitchIrcServer } from './twitch-irc-server.js';
import { WsClient } from './ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POST /api/v1/ingest with the full answer: its status tells a new stream (201) from one already ingested
 * (200), which `ingest.create()` does not show, and `X-Instance` names the process that answered.
 */
const startIngest = (client: ChatPulseClient, channel: string) =>
  client.response<Ingest>('POST', '/api/v1/ingest', { body: { source: 'twitch', channel } });

async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('ingesting a Twitch chat on one process', () => {
  let irc: TwitchIrcServer;
  let server: TestServer;
  let alice: ChatPulseClient;
  let bob: ChatPulseClient;
  let sub: FrameLog;
  let stream: Ingest;

  beforeAll(async () => {
    irc = await startTwitchIrcServer();
    server = await startServer({ TWITCH_IRC_URL: irc.url, INGEST_SCAN_MS: '200', INGEST_LEASE_TTL_MS: '2000', STORE_FLUSH_MS: '20' });
    alice = await signUp(server.url, 'alice');
    bob = await signUp(server.url, 'bob');
    sub = watch(clientOf(server.url)); // anonymous: watching needs no account
    await sub.live.subscribe('twitch:streamer');
  });

  afterAll(async () => {
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    (sub as FrameLog | undefined)?.close();
    await (server as TestServer | undefined)?.app.stop();
    await (irc as TwitchIrcServer | undefined)?.close();
  });

  it('starts once: anonymous read-only, normalized name, the same stream returned on a second start', async () => {
    const first = await startIngest(alice, '#StreaMer');
    expect(first.status).toBe(201);
    stream = first.body;
    expect(stream).toMatchObject({ source: 'twitch', channel: 'streamer', ws_channel: 'twitch:streamer' });
    expect(stream.owner).toMatch(/:\d+$/);
    await irc.waitFor(() => irc.joined('streamer') === 1, 10_000, 'the join');
    expect(irc.received.some((l) => /^NICK justinfan\d+/.test(l))).toBe(true);
    expect(irc.received.some((l) => l.startsWith('PASS oauth:'))).toBe(false);

    const again = await startIngest(bob, 'streamer');
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(stream.id);
    await sleep(300);
    expect(irc.connectionsTotal).toBe(1);
    const live = await until(
      async () => (await bob.ingest.list()).items.find((s) => s.id === stream.id && s.status === 'live'),
      5000,
      'status live',
    );
    expect(live.owner).toBe(stream.owner);
  });

  it('refuses bad input with clear errors', async () => {
    await expect(alice.ingest.create({ source: 'twitch', channel: 'no spaces allowed' })).rejects.toMatchObject(refused(400));
    // Not a source the SDK's types allow, so a plain request.
    await expect(alice.request('POST', '/api/v1/ingest', { body: { source: 'youtube', channel: 'x' } })).rejects.toMatchObject(
      refused(400),
    );
    await expect(clientOf(server.url).ingest.create({ source: 'twitch', channel: 'abc' })).rejects.toMatchObject(
      refused(401, 'unauthorized'),
    );
  });

  it('delivers chat lines to subscribers with sentiment, badges, colour and emotes', async () => {
    irc.say('streamer', {
      login: 'modguy',
      displayName: 'ModGuy',
      userId: '1001',
      badges: 'moderator/1,subscriber/12',
      color: '#1E90FF',
      emotes: '25:11-15',
      text: 'great play Kappa',
      sentTs: 1_700_000_000_000,
    });
    const m = await sub.until(() => sub.messages('twitch:streamer')[0]);
    expect(m).toMatchObject({
      channel: 'twitch:streamer',
      text: 'great play Kappa',
      source: 'twitch',
      sent_ts: 1_700_000_000_000,
      user: { id: '1001', name: 'ModGuy', badges: expect.arrayContaining(['moderator', 'subscriber']) as unknown, color: '#1e90ff' },
      emotes: [{ id: '25', name: 'Kappa', start: 11, end: 15 }],
    });
    expect(['negative', 'neutral', 'positive', 'LABEL_0', 'LABEL_1', 'LABEL_2']).toContain(m.sentiment.label);
    expect(m.sentiment.score).toBeGreaterThan(0);
    // Its stages are in the per-stage latency histogram.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const stage of ['receive', 'classify', 'publish', 'total']) {
      const count = new RegExp(`^chatpulse_ingest_stage_seconds_count\\{[^}]*stage="${stage}"[^}]*\\} (\\d+)$`, 'm').exec(metrics);
      expect(Number(count?.[1]), stage).toBeGreaterThanOrEqual(1);
    }
  });

  it('turns CLEARMSG and CLEARCHAT into delete frames and removes the messages from history', async () => {
    const id1 = irc.say('streamer', { login: 'troll', userId: '666', text: 'first bad line' });
    irc.say('streamer', { login: 'troll', userId: '666', text: 'second bad line' });
    irc.say('streamer', { login: 'nice', userId: '7', text: 'hello everyone' });
    const got = await sub.until(() => {
      const ms = sub.messages('twitch:streamer');
      return ms.length >= 4 && ms;
    });
    const byText = (t: string) => got.find((f) => f.text === t)?.id as string;
    irc.clearMsg('streamer', id1, 'troll');
    await sub.until((f) => f.some((x) => x.type === 'delete' && x.message_id === byText('first bad line')));
    irc.clearChat('streamer', { userId: '666', login: 'troll', durationS: 600 });
    await sub.until((f) => f.some((x) => x.type === 'delete' && x.message_id === byText('second bad line')));
    await sleep(200);
    const deleted = sub.frames.flatMap((x) => (x.type === 'delete' ? [x.message_id] : []));
    expect(deleted).not.toContain(byText('hello everyone'));

    const history = await until(
      async () => {
        const { items } = await alice.channels.messages('twitch:streamer', { limit: 50 });
        return items.some((i) => i.text === 'hello everyone') && items;
      },
      5000,
      'history',
    );
    expect(history.map((i) => i.text)).not.toContain('first bad line');
    expect(history.map((i) => i.text)).not.toContain('second bad line');
  });

  it('reconnects after the IRC server drops the connection and resumes delivery', async () => {
    const before = sub.messages('twitch:streamer').length;
    irc.dropAll();
    await irc.waitFor(() => irc.connectionsTotal === 2 && irc.joined('streamer') === 1, 15_000, 'the rejoin');
    irc.say('streamer', { login: 'back', userId: '8', text: 'we are back' });
    await sub.until(() => sub.messages('twitch:streamer').length > before);
    const view = await alice.ingest.get(stream.id);
    expect(view.counters.reconnects).toBeGreaterThanOrEqual(1);
    expect(view.counters.deletes).toBe(2);
  });

  it('applies a CLEARMSG or CLEARCHAT that arrives before its line is published', async () => {
    const before = sub.messages('twitch:streamer').length;
    // One frame: tmi.js hands over the deletes while the lines are still being classified.
    irc.together(() => {
      const id = irc.say('streamer', { login: 'quick', userId: '31', text: 'deleted at once' });
      irc.clearMsg('streamer', id, 'quick');
      irc.say('streamer', { login: 'quicker', userId: '32', text: 'timed out at once' });
      irc.clearChat('streamer', { userId: '32', login: 'quicker', durationS: 60 });
    });
    const got = await sub.until(() => {
      const ms = sub.messages('twitch:streamer').slice(before);
      return ms.length >= 2 && ms;
    });
    for (const text of ['deleted at once', 'timed out at once']) {
      const id = got.find((m) => m.text === text)?.id;
      expect(id).toBeDefined();
      await sub.until((f) => f.some((x) => x.type === 'delete' && x.message_id === id), 5000, `the delete of "${text}"`);
    }
  });

  it('publishes an ingested line only while its owner still holds the stream when the line is ready', async () => {
    const line = (text: string): IngestedChat => ({
      kind: 'chat',
      sourceId: ulid(),
      user: { id: '40', name: 'fenced', badges: [] },
      text,
      sentAt: Date.now(),
      emotes: [],
    });
    let owner = true;
    const late = server.app.hub.ingest('twitch', 'twitch:streamer', line('accepted, then the lease lapsed'), () => owner);
    owner = false; // after the line was accepted, before its classification is done
    await expect(late).rejects.toMatchObject({ code: 'not_owner' });
    const kept = await server.app.hub.ingest('twitch', 'twitch:streamer', line('published by the owner'), () => true);
    await sub.until(() => sub.messages('twitch:streamer').some((m) => m.id === kept.id));
    expect(sub.messages('twitch:streamer').map((m) => m.text)).not.toContain('accepted, then the lease lapsed');
  });

  it('counts likes on an ingested channel while it is ingested, only on messages it delivered', async () => {
    const liker = await WsClient.open(server.url, `token=${bob.accessToken as string}`);
    try {
      const real = sub.messages('twitch:streamer').at(-1)?.id as string;
      liker.send({ type: 'like', channel: 'twitch:streamer', message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
      expect(await liker.nth('error', 0)).toMatchObject({ code: 'not_found' });
      liker.send({ type: 'like', channel: 'twitch:notingested' });
      expect(await liker.nth('error', 1)).toMatchObject({ code: 'not_found' });
      liker.send({ type: 'like', channel: 'twitch:streamer', message_id: real });
      await sub.until((f) => f.some((x) => x.type === 'likes' && x.message_id === real && x.message_likes === 1));
    } finally {
      liker.close();
    }
  });

  it('stops on DELETE by its creator only: the channel is left and the connection closed', async () => {
    await expect(bob.ingest.delete(stream.id)).rejects.toMatchObject(refused(403, 'forbidden'));
    await alice.ingest.delete(stream.id);
    // Its subscribers are told, once, with the reason.
    const notice = await sub.until((fs) => fs.find((f) => f.type === 'closed' && f.channel === 'twitch:streamer'));
    expect(notice).toEqual({ type: 'closed', channel: 'twitch:streamer', reason: 'deleted' });
    await irc.waitFor(() => irc.connections() === 0, 5000, 'the disconnect');
    expect(irc.received.some((l) => /^PART #streamer/.test(l)) || irc.joined('streamer') === 0).toBe(true);
    expect(sub.frames.filter((f) => f.type === 'closed')).toHaveLength(1);
    expect((await alice.ingest.list()).items.find((s) => s.id === stream.id)).toBeUndefined();
    await expect(alice.ingest.delete(stream.id)).rejects.toMatchObject(refused(404, 'not_found'));
    // A stopped stream is no longer a live channel: likes on it count nothing.
    const liker = await WsClient.open(server.url, `token=${bob.accessToken as string}`);
    try {
      liker.send({ type: 'like', channel: 'twitch:streamer' });
      expect(await liker.nth('error', 0)).toMatchObject({ code: 'not_found' });
    } finally {
      liker.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

const SECRET = 'ingest-secret-ingest-secret-ingest-secret-012345';
const TTL_MS = 3000;
const SCAN_MS = 300;

/** A second process: `node dist/src/main.js` on its own port, sharing Redis. */
const startChild = (redisUrl: string, ircUrl: string): Promise<ServerProcess> =>
  spawnServer({
    INFERENCE_THREADS: '1',
    MODEL_DIR: ROBERTA,
    REDIS_URL: redisUrl,
    JWT_SECRET: SECRET,
    TWITCH_IRC_URL: ircUrl,
    INGEST_LEASE_TTL_MS: String(TTL_MS),
    INGEST_SCAN_MS: String(SCAN_MS),
  });

describe('emote positions reach a chat model (the bundled model, which has chat.json)', () => {
  let irc: TwitchIrcServer;
  let server: TestServer;
  let sub: FrameLog;

  beforeAll(async () => {
    irc = await startTwitchIrcServer();
    server = await startServer({ TWITCH_IRC_URL: irc.url, INGEST_SCAN_MS: '200', MODEL_DIR: join(BUNDLED_MODELS_DIR, DEFAULT_MODEL) });
    const owner = await signUp(server.url, 'emotes');
    sub = watch(clientOf(server.url));
    await sub.live.subscribe('twitch:emotes');
    await owner.ingest.create({ source: 'twitch', channel: 'emotes' });
    await irc.waitFor(() => irc.joined('emotes') === 1, 10_000, 'the join');
  });

  afterAll(async () => {
    (sub as FrameLog | undefined)?.close();
    await (server as TestServer | undefined)?.app.stop();
    await (irc as TwitchIrcServer | undefined)?.close();
  });

  it('reads a channel-prefixed emote Twitch reports as the emote itself, and the same word without a position as a word', async () => {
    // "ab12Sadge" is a sub emote only because Twitch says so: by name alone it is an unknown word.
    irc.say('emotes', { login: 'a', userId: '1', text: 'ab12Sadge', emotes: '301:0-8' });
    irc.say('emotes', { login: 'b', userId: '2', text: 'Sadge' });
    irc.say('emotes', { login: 'c', userId: '3', text: 'ab12Sadge' });
    const got = await sub.until(() => {
      const ms = sub.messages('twitch:emotes');
      return ms.length >= 3 && ms;
    });
    const [reported, plain, unreported] = ['1', '2', '3'].map((id) => got.find((m) => m.user.id === id)!);
    expect(reported!.emotes).toEqual([{ id: '301', name: 'ab12Sadge', start: 0, end: 8 }]);
    expect(reported!.sentiment).toEqual(plain!.sentiment);
    expect(plain!.sentiment.label).toBe('negative');
    expect(unreported!.sentiment).not.toEqual(plain!.sentiment);
  });
});

describe('one owner per stream across processes (Redis)', () => {
  let redis: RedisServer;
  let irc: TwitchIrcServer;
  let a: ServerProcess;
  let b: TestServer | null = null;
  let c: TestServer | null = null;
  let alice: ChatPulseClient;
  /** alice's token on a process other than the one that issued it (they share the JWT secret). */
  const aliceOn = (url: string) => clientOf(url, { token: alice.accessToken as string });
  const subs: FrameLog[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    irc = await startTwitchIrcServer();
    a = await startChild(redis.url, irc.url);
    alice = await signUp(a.url, 'alice');
  }, 60_000);

  afterAll(async () => {
    for (const sub of subs) sub.close();
    await b?.app.stop();
    await c?.app.stop();
    const child = (a as ServerProcess | undefined)?.child;
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await (irc as TwitchIrcServer | undefined)?.close();
    await (redis as RedisServer | undefined)?.stop();
  });

  it('has exactly one connection while two processes live, and delivers every line once', async () => {
    const created = await startIngest(alice, 'bigstream');
    expect(created.status).toBe(201);
    expect(created.body.owner).toBe(created.headers.get('x-instance'));
    await irc.waitFor(() => irc.joined('bigstream') === 1, 10_000, 'the join');

    const env = {
      REDIS_URL: redis.url,
      JWT_SECRET: SECRET,
      TWITCH_IRC_URL: irc.url,
      INGEST_LEASE_TTL_MS: String(TTL_MS),
      INGEST_SCAN_MS: String(SCAN_MS),
    };
    b = await startServer(env);
    // Logging every frame as sent (watch: no dropping of repeats), so a line delivered twice shows.
    const subA = watch(clientOf(a.url));
    const subB = watch(clientOf(b.url));
    subs.push(subA, subB);
    await subA.live.subscribe('twitch:bigstream');
    await subB.live.subscribe('twitch:bigstream');
    await sleep(SCAN_MS * 4); // B has scanned several times and found the stream owned

    for (let i = 0; i < 30; i++) irc.say('bigstream', { login: `viewer${i}`, userId: String(i), text: `line ${i} pog` });
    for (const s of [subA, subB]) await s.until((f) => f.filter((x) => x.type === 'message').length >= 30, 10_000);
    await sleep(300);
    for (const s of [subA, subB]) {
      const texts = s.messages('twitch:bigstream').map((m) => m.text);
      expect(texts).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i} pog`)); // each once, in order
    }
    expect(irc.connections()).toBe(1);
    expect(irc.connectionsTotal).toBe(1);
    const list = await aliceOn(b.url).ingest.list();
    expect(list.items[0]).toMatchObject({ channel: 'bigstream', status: 'live', owner: `${created.headers.get('x-instance')}` });
  });

  it('lets the other process take over within the lease TTL when the owner is killed with -9', async () => {
    const server = b as TestServer;
    const subB = subs[1] as FrameLog;
    const exited = new Promise((r) => a.child.once('exit', r));
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await exited;
    // The dead owner's socket closes with it; the new one appears once its lease lapses.
    await irc.waitFor(() => irc.connectionsTotal === 2 && irc.joined('bigstream') === 1, TTL_MS + SCAN_MS + 5000, 'the takeover');
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThanOrEqual(TTL_MS + SCAN_MS + 2000);
    const survivor = aliceOn(server.url);
    const view = await until(
      async () => {
        const list = await survivor.ingest.list();
        return list.items[0]?.status === 'live' && list.items[0];
      },
      5000,
      'live on the survivor',
    );
    expect(view.owner).toBe(`${(await survivor.response('GET', '/health')).headers.get('x-instance')}`);

    const before = subB.messages('twitch:bigstream').length;
    irc.say('bigstream', { login: 'after', userId: '99', text: 'still here after the crash' });
    await subB.until((f) => f.filter((x) => x.type === 'message').length > before, 5000);
    expect(irc.connections()).toBe(1);
  });

  it('keeps definitions in the store: after every process stops, a new one picks the stream up', async () => {
    await (b as TestServer).app.stop(); // graceful: the lease is released
    b = null;
    await irc.waitFor(() => irc.connections() === 0, 5000, 'the disconnect');
    c = await startServer({
      REDIS_URL: redis.url,
      JWT_SECRET: SECRET,
      TWITCH_IRC_URL: irc.url,
      INGEST_LEASE_TTL_MS: String(TTL_MS),
      INGEST_SCAN_MS: String(SCAN_MS),
    });
    await irc.waitFor(() => irc.joined('bigstream') === 1, 5000, 'the pickup');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('settings: a per-process cap (INGEST_MAX_OWNED) and a TikTok session', () => {
  let irc: TwitchIrcServer;
  let server: TestServer;
  let alice: ChatPulseClient;

  beforeAll(async () => {
    irc = await startTwitchIrcServer();
    server = await startServer({
      TWITCH_IRC_URL: irc.url,
      INGEST_SCAN_MS: '200',
      INGEST_LEASE_TTL_MS: '2000',
      INGEST_MAX_OWNED: '1',
      TIKTOK_SESSION_ID: 'sessionid_test_c0ffee42',
      TIKTOK_TT_TARGET_IDC: 'useast1a',
    });
    alice = await signUp(server.url, 'alice');
  });

  afterAll(async () => {
    await (server as TestServer | undefined)?.app.stop();
    await (irc as TwitchIrcServer | undefined)?.close();
  });

  it('boots with TIKTOK_SESSION_ID and TIKTOK_TT_TARGET_IDC; refuses either alone at startup, naming both', async () => {
    expect((await alice.response('GET', '/health')).status).toBe(200);
    for (const env of [{ TIKTOK_SESSION_ID: 'sessionid_x' }, { TIKTOK_TT_TARGET_IDC: 'useast1a' }]) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(/TIKTOK_SESSION_ID.*TIKTOK_TT_TARGET_IDC/);
    }
  });

  it('owns at most INGEST_MAX_OWNED streams; another is taken once one is stopped', async () => {
    const first = (await startIngest(alice, 'capped_one')).body;
    await irc.waitFor(() => irc.joined('capped_one') === 1, 10_000, 'the first join');
    const second = (await startIngest(alice, 'capped_two')).body;
    await sleep(1000); // several scans
    expect(irc.joined('capped_two')).toBe(0);
    expect(await alice.ingest.get(second.id)).toMatchObject({ owner: null, status: 'connecting' });
    await alice.ingest.delete(first.id);
    await irc.waitFor(() => irc.joined('capped_two') === 1, 10_000, 'the second join');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('connections that fail, end or hang (one process on Redis)', () => {
  const TTL = 2000;
  let redis: RedisServer;
  let irc: TwitchIrcServer;
  let server: TestServer;
  let alice: ChatPulseClient;
  let sub: FrameLog;
  /** The process's own Redis drivers, used from outside: what another process (or an old version) could do. */
  let client: Redis;
  let store: RedisIngestStore;
  let leases: RedisLeaseManager;

  beforeAll(async () => {
    redis = await startRedisServer();
    irc = await startTwitchIrcServer();
    server = await startServer({
      REDIS_URL: redis.url,
      TWITCH_IRC_URL: irc.url,
      INGEST_SCAN_MS: '200',
      INGEST_LEASE_TTL_MS: String(TTL),
      INGEST_RETRY_ERROR_MS: '300',
      INGEST_RETRY_ENDED_MS: '300',
    });
    alice = await signUp(server.url, 'alice');
    sub = watch(clientOf(server.url));
    client = new Redis(redis.url);
    store = new RedisIngestStore(client);
    leases = new RedisLeaseManager(client);
  }, 60_000);

  afterAll(async () => {
    (sub as FrameLog | undefined)?.close();
    (client as Redis | undefined)?.disconnect();
    await (server as TestServer | undefined)?.app.stop();
    await (irc as TwitchIrcServer | undefined)?.close();
    await (redis as RedisServer | undefined)?.stop();
  });

  const joins = (channel: string) => irc.received.filter((l) => l === `JOIN #${channel}`).length;

  it('shows a refused join (suspended channel) as error, keeps the lease, retries after a cooldown until it is live', async () => {
    irc.refuseJoin('suspended_chan', 'msg_channel_suspended');
    await sub.live.subscribe('twitch:suspended_chan');
    const { id } = (await startIngest(alice, 'suspended_chan')).body;
    const failed = await until(
      async () => {
        const v = await alice.ingest.get(id);
        return v.status === 'error' && v;
      },
      10_000,
      'status error',
    );
    expect(failed.last_error).toMatch(/suspended/);
    // The stream stopped: its subscribers are told why, once however often the retries fail.
    const notice = await sub.until((fs) => fs.find((f) => f.type === 'closed' && f.channel === 'twitch:suspended_chan'));
    expect(notice).toEqual({ type: 'closed', channel: 'twitch:suspended_chan', reason: 'error' });
    // Tried again after the cooldown, refused again: still `error` (not "connecting"), the lease still this process's.
    await irc.waitFor(() => joins('suspended_chan') >= 3, 15_000, 'two more attempts');
    expect(await alice.ingest.get(id)).toMatchObject({
      status: 'error',
      owner: failed.owner,
      last_error: expect.stringMatching(/suspended/) as unknown,
    });
    expect((await leases.current(`ingest:${id}`))?.owner).toBe(failed.owner);

    expect(sub.frames.filter((f) => f.type === 'closed' && f.channel === 'twitch:suspended_chan')).toHaveLength(1);
    irc.refuseJoin('suspended_chan', null); // reinstated
    await irc.waitFor(() => irc.joined('suspended_chan') === 1, 20_000, 'the join once allowed');
    await until(async () => (await alice.ingest.get(id)).status === 'live', 5000, 'status live');
    irc.say('suspended_chan', { login: 'first', userId: '1', text: 'we are back online' });
    await sub.until(() => sub.messages('twitch:suspended_chan').some((m) => m.text === 'we are back online'));
    expect(irc.connections()).toBe(1);
    await alice.ingest.delete(id);
    await irc.waitFor(() => irc.connections() === 0, 5000, 'the disconnect');
  });

  it('cleans up (admin only) the streams that failed, leaving the live ones', async () => {
    irc.refuseJoin('gone_chan', 'msg_room_not_found');
    const failing = (await startIngest(alice, 'gone_chan')).body;
    const live = (await startIngest(alice, 'still_here')).body;
    await until(async () => (await alice.ingest.get(failing.id)).status === 'error', 10_000, 'status error');
    await until(async () => (await alice.ingest.get(live.id)).status === 'live', 10_000, 'status live');

    await expect(alice.request('POST', '/api/v1/ingest/cleanup')).rejects.toMatchObject(refused(403, 'forbidden'));
    await expect(clientOf(server.url).request('POST', '/api/v1/ingest/cleanup')).rejects.toMatchObject(refused(401));
    const admin = clientOf(server.url);
    await admin.auth.login('admin', 'admin-password');
    const res = await admin.response<{ deleted: number }>('POST', '/api/v1/ingest/cleanup');
    expect(res.status).toBe(200);
    expect(res.body.deleted).toBeGreaterThanOrEqual(1);
    const left = (await alice.ingest.list()).items.map((v) => v.id);
    expect(left).not.toContain(failing.id);
    expect(left).toContain(live.id);
    expect((await admin.response<{ deleted: number }>('POST', '/api/v1/ingest/cleanup')).body).toEqual({ deleted: 0 });
    irc.refuseJoin('gone_chan', null);
    await alice.ingest.delete(live.id);
    await irc.waitFor(() => irc.joined('still_here') === 0 && irc.joined('gone_chan') === 0, 5000, 'both left');
  });

  it('shows a stored channel the connector refuses as error instead of crashing the process', async () => {
    const me = await alice.auth.me();
    const rec = { id: ulid(), source: 'twitch' as const, channel: 'Not A Channel!', createdBy: me.id, createdAt: Date.now() };
    await store.create(rec); // e.g. written by an older version with looser checks
    const view = await until(
      async () => (await alice.ingest.list()).items.find((s) => s.id === rec.id && s.status === 'error'),
      10_000,
      'status error',
    );
    expect(view.last_error).toMatch(/3-25 letters/);
    expect((await leases.current(`ingest:${rec.id}`))?.owner).toBe(view.owner);
    await alice.ingest.delete(rec.id);
    await until(async () => (await leases.current(`ingest:${rec.id}`)) === null, 5000, 'the lease released');
  });

  it('keeps renewing other leases and taking new streams while a stopped connection hangs closing', async () => {
    const hung = (await startIngest(alice, 'hangs_on_close')).body;
    const other = (await startIngest(alice, 'keeps_its_lease')).body;
    await irc.waitFor(() => irc.joined('hangs_on_close') === 1 && irc.joined('keeps_its_lease') === 1, 10_000, 'both joins');
    const held = await leases.current(`ingest:${other.id}`);
    expect(held).not.toBeNull();
    const resume = irc.stall('hangs_on_close'); // its PART and close handshake go unanswered from now on
    try {
      await store.delete(hung.id); // deleted behind the owner's back: its next scan stops the connection
      await sleep(TTL * 1.5); // the hung close outlasts the TTL of every lease
      expect(await leases.current(`ingest:${other.id}`)).toMatchObject({ owner: held?.owner, token: held?.token });
      const fresh = await startIngest(alice, 'taken_meanwhile');
      expect(fresh.status).toBe(201);
      await irc.waitFor(() => irc.joined('taken_meanwhile') === 1, 5000, 'a new stream taken');
    } finally {
      resume();
    }
    await irc.waitFor(() => irc.joined('hangs_on_close') === 0, 10_000, 'the hung connection closed');
  });
});
