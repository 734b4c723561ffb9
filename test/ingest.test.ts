// Ingestion end to end: real tmi.js (inside ChatPulse) against a local Twitch-IRC server, real WebSocket
// subscribers, and ownership across two processes sharing a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ROBERTA, startServer, type TestServer } from './helpers.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { startTwitchIrcServer, type TwitchIrcServer } from './twitch-irc-server.js';
import { account, WsClient, type Account, type Frame } from './ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface IngestView {
  id: string;
  source: string;
  channel: string;
  ws_channel: string;
  status: string;
  owner: string | null;
  counters: { messages: number; deletes: number; reconnects: number };
}

async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const messages = (c: WsClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);

describe('ingesting a Twitch chat on one process', () => {
  let irc: TwitchIrcServer;
  let server: TestServer;
  let alice: Account;
  let bob: Account;
  let sub: WsClient;
  let stream: IngestView;

  beforeAll(async () => {
    irc = await startTwitchIrcServer();
    server = await startServer({ TWITCH_IRC_URL: irc.url, INGEST_SCAN_MS: '200', INGEST_LEASE_TTL_MS: '2000', STORE_FLUSH_MS: '20' });
    alice = await account(server.url, 'alice');
    bob = await account(server.url, 'bob');
    sub = await WsClient.open(server.url);
    await sub.subscribe('twitch:streamer');
  });

  afterAll(async () => {
    sub?.close();
    await server?.app.stop();
    await irc?.close();
  });

  it('starts once: anonymous read-only, normalized name, the same stream returned on a second start', async () => {
    const first = await call(server.url, 'POST', '/api/v1/ingest', { token: alice.token, body: { source: 'twitch', channel: '#StreaMer' } });
    expect(first.status).toBe(201);
    stream = first.body as IngestView;
    expect(stream).toMatchObject({ source: 'twitch', channel: 'streamer', ws_channel: 'twitch:streamer' });
    expect(stream.owner).toMatch(/:\d+$/);
    await irc.waitFor(() => irc.joined('streamer') === 1, 10_000, 'the join');
    expect(irc.received.some((l) => /^NICK justinfan\d+/.test(l))).toBe(true);
    expect(irc.received.some((l) => l.startsWith('PASS oauth:'))).toBe(false);

    const again = await call(server.url, 'POST', '/api/v1/ingest', { token: bob.token, body: { source: 'twitch', channel: 'streamer' } });
    expect(again.status).toBe(200);
    expect((again.body as IngestView).id).toBe(stream.id);
    await sleep(300);
    expect(irc.connectionsTotal).toBe(1);
    const live = await until(async () => {
      const list = (await call(server.url, 'GET', '/api/v1/ingest', { token: bob.token })).body as { items: IngestView[] };
      return list.items.find((s) => s.id === stream.id && s.status === 'live');
    }, 5000, 'status live');
    expect(live.owner).toBe(stream.owner);
  });

  it('refuses bad input with clear errors', async () => {
    const bad = await call(server.url, 'POST', '/api/v1/ingest', { token: alice.token, body: { source: 'twitch', channel: 'no spaces allowed' } });
    expect(bad.status).toBe(400);
    const unknown = await call(server.url, 'POST', '/api/v1/ingest', { token: alice.token, body: { source: 'youtube', channel: 'x' } });
    expect(unknown.status).toBe(400);
    expect((await call(server.url, 'POST', '/api/v1/ingest', { body: { source: 'twitch', channel: 'abc' } })).status).toBe(401);
  });

  it('delivers chat lines to subscribers with sentiment, badges, colour and emotes', async () => {
    irc.say('streamer', {
      login: 'modguy', displayName: 'ModGuy', userId: '1001', badges: 'moderator/1,subscriber/12', color: '#1E90FF',
      emotes: '25:11-15', text: 'great play Kappa', sentTs: 1_700_000_000_000,
    });
    const [m] = (await sub.until((f) => {
      const got = f.filter((x) => x.type === 'message' && x.channel === 'twitch:streamer');
      return got.length >= 1 && got;
    })) as Frame[];
    expect(m).toMatchObject({
      channel: 'twitch:streamer', text: 'great play Kappa', source: 'twitch', sent_ts: 1_700_000_000_000,
      user: { id: '1001', name: 'ModGuy', badges: expect.arrayContaining(['moderator', 'subscriber']), color: '#1e90ff' },
      emotes: [{ id: '25', name: 'Kappa', start: 11, end: 15 }],
    });
    const sentiment = (m as Frame).sentiment as { label: string; score: number };
    expect(['negative', 'neutral', 'positive', 'LABEL_0', 'LABEL_1', 'LABEL_2']).toContain(sentiment.label);
    expect(sentiment.score).toBeGreaterThan(0);
  });

  it('turns CLEARMSG and CLEARCHAT into delete frames and removes the messages from history', async () => {
    const id1 = irc.say('streamer', { login: 'troll', userId: '666', text: 'first bad line' });
    irc.say('streamer', { login: 'troll', userId: '666', text: 'second bad line' });
    irc.say('streamer', { login: 'nice', userId: '7', text: 'hello everyone' });
    const got = (await sub.until((f) => {
      const ms = f.filter((x) => x.type === 'message' && x.channel === 'twitch:streamer');
      return ms.length >= 4 && ms;
    })) as Frame[];
    const byText = (t: string) => got.find((f) => f.text === t)?.id as string;
    irc.clearMsg('streamer', id1, 'troll');
    await sub.until((f) => f.some((x) => x.type === 'delete' && x.message_id === byText('first bad line')));
    irc.clearChat('streamer', { userId: '666', login: 'troll', durationS: 600 });
    await sub.until((f) => f.some((x) => x.type === 'delete' && x.message_id === byText('second bad line')));
    await sleep(200);
    const deleted = sub.frames.filter((x) => x.type === 'delete').map((x) => x.message_id);
    expect(deleted).not.toContain(byText('hello everyone'));

    const history = await until(async () => {
      const res = await call(server.url, 'GET', `/api/v1/channels/${encodeURIComponent('twitch:streamer')}/messages?limit=50`, { token: alice.token });
      const items = (res.body as { items: Array<{ text: string }> }).items;
      return items.some((i) => i.text === 'hello everyone') && items;
    }, 5000, 'history');
    expect(history.map((i) => i.text)).not.toContain('first bad line');
    expect(history.map((i) => i.text)).not.toContain('second bad line');
  });

  it('reconnects after the IRC server drops the connection and resumes delivery', async () => {
    const before = messages(sub, 'twitch:streamer').length;
    irc.dropAll();
    await irc.waitFor(() => irc.connectionsTotal === 2 && irc.joined('streamer') === 1, 15_000, 'the rejoin');
    irc.say('streamer', { login: 'back', userId: '8', text: 'we are back' });
    await sub.until((f) => f.filter((x) => x.type === 'message' && x.channel === 'twitch:streamer').length > before);
    const view = (await call(server.url, 'GET', `/api/v1/ingest/${stream.id}`, { token: alice.token })).body as IngestView;
    expect(view.counters.reconnects).toBeGreaterThanOrEqual(1);
    expect(view.counters.deletes).toBe(2);
  });

  it('stops on DELETE by its creator only: the channel is left and the connection closed', async () => {
    expect((await call(server.url, 'DELETE', `/api/v1/ingest/${stream.id}`, { token: bob.token })).status).toBe(403);
    expect((await call(server.url, 'DELETE', `/api/v1/ingest/${stream.id}`, { token: alice.token })).status).toBe(204);
    await irc.waitFor(() => irc.connections() === 0, 5000, 'the disconnect');
    expect(irc.received.some((l) => /^PART #streamer/.test(l)) || irc.joined('streamer') === 0).toBe(true);
    const list = (await call(server.url, 'GET', '/api/v1/ingest', { token: alice.token })).body as { items: IngestView[] };
    expect(list.items.find((s) => s.id === stream.id)).toBeUndefined();
    expect((await call(server.url, 'DELETE', `/api/v1/ingest/${stream.id}`, { token: alice.token })).status).toBe(404);
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
  let alice: Account;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    irc = await startTwitchIrcServer();
    a = await startChild(redis.url, irc.url);
    alice = await account(a.url, 'alice');
  }, 60_000);

  afterAll(async () => {
    for (const cl of clients) cl.close();
    await b?.app.stop();
    await c?.app.stop();
    if (a && a.child.exitCode === null) a.child.kill('SIGKILL');
    await irc?.close();
    await redis?.stop();
  });

  it('has exactly one connection while two processes live, and delivers every line once', async () => {
    const created = await call(a.url, 'POST', '/api/v1/ingest', { token: alice.token, body: { source: 'twitch', channel: 'bigstream' } });
    expect(created.status).toBe(201);
    expect((created.body as IngestView).owner).toBe(created.headers.get('x-instance'));
    await irc.waitFor(() => irc.joined('bigstream') === 1, 10_000, 'the join');

    const env = { REDIS_URL: redis.url, JWT_SECRET: SECRET, TWITCH_IRC_URL: irc.url, INGEST_LEASE_TTL_MS: String(TTL_MS), INGEST_SCAN_MS: String(SCAN_MS) };
    b = await startServer(env);
    const subA = await WsClient.open(a.url);
    const subB = await WsClient.open(b.url);
    clients.push(subA, subB);
    await subA.subscribe('twitch:bigstream');
    await subB.subscribe('twitch:bigstream');
    await sleep(SCAN_MS * 4); // B has scanned several times and found the stream owned

    for (let i = 0; i < 30; i++) irc.say('bigstream', { login: `viewer${i}`, userId: String(i), text: `line ${i} pog` });
    for (const s of [subA, subB]) await s.until((f) => f.filter((x) => x.type === 'message').length >= 30, 10_000);
    await sleep(300);
    for (const s of [subA, subB]) {
      const texts = messages(s, 'twitch:bigstream').map((m) => m.text);
      expect(texts).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i} pog`)); // each once, in order
    }
    expect(irc.connections()).toBe(1);
    expect(irc.connectionsTotal).toBe(1);
    const list = (await call(b.url, 'GET', '/api/v1/ingest', { token: alice.token })).body as { items: IngestView[] };
    expect(list.items[0]).toMatchObject({ channel: 'bigstream', status: 'live', owner: `${created.headers.get('x-instance')}` });
  });

  it('lets the other process take over within the lease TTL when the owner is killed with -9', async () => {
    const server = b as TestServer;
    const subB = clients[1] as WsClient;
    const exited = new Promise((r) => a.child.once('exit', r));
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await exited;
    // The dead owner's socket closes with it; the new one appears once its lease lapses.
    await irc.waitFor(() => irc.connectionsTotal === 2 && irc.joined('bigstream') === 1, TTL_MS + SCAN_MS + 5000, 'the takeover');
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThanOrEqual(TTL_MS + SCAN_MS + 2000);
    const view = await until(async () => {
      const list = (await call(server.url, 'GET', '/api/v1/ingest', { token: alice.token })).body as { items: IngestView[] };
      return list.items[0]?.status === 'live' && list.items[0];
    }, 5000, 'live on the survivor');
    expect(view.owner).toBe(`${(await fetch(`${server.url}/health`)).headers.get('x-instance')}`);

    const before = messages(subB, 'twitch:bigstream').length;
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
