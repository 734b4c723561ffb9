// Ingestion end to end through the client SDK: real tmi.js (inside ChatPulse) against a local Twitch-IRC
// server, real live subscribers, and ownership across two processes sharing a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPulseClient, Ingest } from '../src/client/index.js';
import { ROBERTA, startServer, type TestServer } from './helpers.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { clientOf, refused, signUp, watch, type FrameLog } from './sdk.js';
import { startTwitchIrcServer, type TwitchIrcServer } from './twitch-irc-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POST /api/v1/ingest with the full answer: its status tells a new stream (201) from one already ingested
 * (200), which `ingest.start()` does not show, and `X-Instance` names the process that answered.
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
    sub?.close();
    await server?.app.stop();
    await irc?.close();
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
    const live = await until(async () => (await bob.ingest.list()).items.find((s) => s.id === stream.id && s.status === 'live'), 5000, 'status live');
    expect(live.owner).toBe(stream.owner);
  });

  it('refuses bad input with clear errors', async () => {
    await expect(alice.ingest.start({ source: 'twitch', channel: 'no spaces allowed' })).rejects.toMatchObject(refused(400));
    // Not a source the SDK's types allow, so a plain request.
    await expect(alice.request('POST', '/api/v1/ingest', { body: { source: 'youtube', channel: 'x' } })).rejects.toMatchObject(refused(400));
    await expect(clientOf(server.url).ingest.start({ source: 'twitch', channel: 'abc' })).rejects.toMatchObject(refused(401, 'unauthorized'));
  });

  it('delivers chat lines to subscribers with sentiment, badges, colour and emotes', async () => {
    irc.say('streamer', {
      login: 'modguy', displayName: 'ModGuy', userId: '1001', badges: 'moderator/1,subscriber/12', color: '#1E90FF',
      emotes: '25:11-15', text: 'great play Kappa', sentTs: 1_700_000_000_000,
    });
    const m = await sub.until(() => sub.messages('twitch:streamer')[0]);
    expect(m).toMatchObject({
      channel: 'twitch:streamer', text: 'great play Kappa', source: 'twitch', sent_ts: 1_700_000_000_000,
      user: { id: '1001', name: 'ModGuy', badges: expect.arrayContaining(['moderator', 'subscriber']), color: '#1e90ff' },
      emotes: [{ id: '25', name: 'Kappa', start: 11, end: 15 }],
    });
    expect(['negative', 'neutral', 'positive', 'LABEL_0', 'LABEL_1', 'LABEL_2']).toContain(m.sentiment.label);
    expect(m.sentiment.score).toBeGreaterThan(0);
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

    const history = await until(async () => {
      const { items } = await alice.messages('twitch:streamer', { limit: 50 });
      return items.some((i) => i.text === 'hello everyone') && items;
    }, 5000, 'history');
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

  it('stops on DELETE by its creator only: the channel is left and the connection closed', async () => {
    await expect(bob.ingest.stop(stream.id)).rejects.toMatchObject(refused(403, 'forbidden'));
    await alice.ingest.stop(stream.id);
    await irc.waitFor(() => irc.connections() === 0, 5000, 'the disconnect');
    expect(irc.received.some((l) => /^PART #streamer/.test(l)) || irc.joined('streamer') === 0).toBe(true);
    expect((await alice.ingest.list()).items.find((s) => s.id === stream.id)).toBeUndefined();
    await expect(alice.ingest.stop(stream.id)).rejects.toMatchObject(refused(404, 'not_found'));
  });
});

// ---------------------------------------------------------------------------------------------------------

const SECRET = 'ingest-secret-ingest-secret-ingest-secret-012345';
const TTL_MS = 3000;
const SCAN_MS = 300;

/** A second process: `node dist/src/main.js` on its own port, sharing Redis. */
const startChild = (redisUrl: string, ircUrl: string): Promise<ServerProcess> =>
  spawnServer({
    INFERENCE_THREADS: '1', MODEL_DIR: ROBERTA, REDIS_URL: redisUrl, JWT_SECRET: SECRET, TWITCH_IRC_URL: ircUrl,
    INGEST_LEASE_TTL_MS: String(TTL_MS), INGEST_SCAN_MS: String(SCAN_MS),
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
    if (a && a.child.exitCode === null) a.child.kill('SIGKILL');
    await irc?.close();
    await redis?.stop();
  });

  it('has exactly one connection while two processes live, and delivers every line once', async () => {
    const created = await startIngest(alice, 'bigstream');
    expect(created.status).toBe(201);
    expect(created.body.owner).toBe(created.headers.get('x-instance'));
    await irc.waitFor(() => irc.joined('bigstream') === 1, 10_000, 'the join');

    const env = { REDIS_URL: redis.url, JWT_SECRET: SECRET, TWITCH_IRC_URL: irc.url, INGEST_LEASE_TTL_MS: String(TTL_MS), INGEST_SCAN_MS: String(SCAN_MS) };
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
    const view = await until(async () => {
      const list = await survivor.ingest.list();
      return list.items[0]?.status === 'live' && list.items[0];
    }, 5000, 'live on the survivor');
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
    c = await startServer({ REDIS_URL: redis.url, JWT_SECRET: SECRET, TWITCH_IRC_URL: irc.url, INGEST_LEASE_TTL_MS: String(TTL_MS), INGEST_SCAN_MS: String(SCAN_MS) });
    await irc.waitFor(() => irc.joined('bigstream') === 1, 5000, 'the pickup');
  });
});
