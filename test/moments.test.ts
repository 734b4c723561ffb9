// Hype and tilt moments end to end, with scripted chat through a real server, the bundled model and real
// WebSocket clients: a calm baseline, then a burst of clearly positive (or negative) lines from
// test/fixtures/chat-sanity.tsv. One `moment` frame per burst to per-message and batched subscribers alike,
// stored and listed by `GET /api/v1/channels/{channel}/moments`; none for a burst of neutral chat; none for a
// second burst within the cooldown (when it ends: test/moment-detector.test.ts). No wall-clock assertions: a moment, if any, follows the message that set
// it off on the same socket, so "none" is checked once every line of a burst has arrived.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ChatPulseClient } from '../src/client/index.js';
import { DEFAULT_MODEL } from '../src/config.js';
import { BUNDLED_MODELS_DIR } from '../src/paths.js';
import { call, createRooms, startServer, type TestServer } from './helpers.js';
import type { ServerFrameOf } from '../src/contract/index.js';
import { account, WsClient, type Account } from './ws-client.js';

type MomentFrame = ServerFrameOf<'moment'>;

/** The short window, shortened so the calm lines are out of it after a few seconds (the baseline is 5 min). */
const SHORT_S = 6;
const CALM = ['hi chat', 'what game is this', 'is this live?', 'brb'];
const NEUTRAL = [
  'ok',
  'what game is this',
  'hi chat',
  'what time is it there',
  'is this live?',
  'what rank is he',
  'who is that',
  'brb',
  'what is the song called',
  'how long has he been streaming',
];
const POSITIVE = [
  'PogChamp',
  'LETS GOOOOO',
  'that clutch was insane PogChamp',
  'gg wp',
  'this stream is amazing',
  'best stream ever <3',
  'EZ Clap',
  'insane play!',
  'what a play',
  'W streamer',
];
const NEGATIVE = [
  'worst stream ever',
  'this is so boring',
  'that was terrible',
  'stream is lagging so bad',
  'i hate this game',
  'trash gameplay',
  'this song sucks',
  'he is so bad at this game',
  'BibleThump',
  'ResidentSleeper',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('moments', () => {
  let s: TestServer;
  let admin: Account;
  let alice: Account;
  let poster: WsClient;
  let watcher: WsClient;
  let batched: WsClient;

  /** Sends lines to a room and waits until the watcher has every one of them. */
  async function say(channel: string, lines: readonly string[]): Promise<void> {
    const before = watcher.of('message', channel).length;
    for (const text of lines) poster.send({ type: 'chat', channel, text });
    await watcher.until(
      (fs) => fs.filter((f) => f.type === 'message' && f.channel === channel).length >= before + lines.length || undefined,
      20_000,
      `${lines.length} lines on ${channel}`,
    );
  }

  /** The moment frames a client got on a channel (each checked against its schema by frame-contract.ts). */
  const moments = (c: WsClient, channel: string): MomentFrame[] => c.of('moment', channel) as unknown as MomentFrame[];

  beforeAll(async () => {
    s = await startServer({
      MODEL_DIR: join(BUNDLED_MODELS_DIR, DEFAULT_MODEL),
      MOOD_WINDOW_S: String(SHORT_S),
      MOOD_TICK_MS: '200',
      CHAT_RATE_PER_30S: '1000',
      WS_FRAME_RATE_PER_10S: '1000',
      STORE_FLUSH_MS: '20',
    });
    [admin, alice] = await Promise.all([account(s.url, 'admin', 'admin-password'), account(s.url, 'alice')]);
    await createRooms(s.url, admin.token, ['hype', 'tilt', 'calm']);
    poster = await WsClient.open(s.url, `token=${alice.token}`);
    watcher = await WsClient.open(s.url, '');
    batched = await WsClient.open(s.url, '');
    for (const room of ['hype', 'tilt', 'calm']) {
      await watcher.subscribe(`room:${room}`);
      await batched.subscribe(`room:${room}`, true);
    }
    // The same calm baseline in every room, then out of the short window before any burst.
    await Promise.all(['hype', 'tilt', 'calm'].map((room) => say(`room:${room}`, CALM)));
    await sleep((SHORT_S + 1) * 1000);
  });

  afterAll(async () => {
    for (const c of [poster, watcher, batched]) c.close();
    await s.app.stop();
  });

  it('a burst of positive chat after a calm baseline is one hype moment, with sample lines, stored and listed; the cooldown holds', async () => {
    await say('room:hype', POSITIVE);
    const [hype] = moments(watcher, 'room:hype') as [MomentFrame];
    expect(moments(watcher, 'room:hype')).toHaveLength(1);
    expect(hype).toMatchObject({ type: 'moment', channel: 'room:hype', kind: 'hype' });
    expect(hype.score).toBeGreaterThanOrEqual(0.3);
    expect(hype.sample.length).toBeGreaterThan(0);
    expect(hype.sample.length).toBeLessThanOrEqual(3);
    for (const line of hype.sample) expect(POSITIVE).toContain(line);
    // A second burst at once: the short window now holds both, as positive against the same calm baseline,
    // so only the cooldown (30 s per channel and kind) keeps it from being a second moment.
    await say('room:hype', [...POSITIVE].reverse());
    expect(moments(watcher, 'room:hype')).toHaveLength(1);
    // The batched subscriber gets the same frame once, after the burst's messages.
    await batched.until((fs) => fs.find((f) => f.type === 'moment' && f.channel === 'room:hype'), 5000, 'batched moment');
    expect(moments(batched, 'room:hype')).toEqual([hype]);
    const types = batched.frames.filter((f) => f.channel === 'room:hype').map((f) => f.type);
    expect(types.indexOf('moment')).toBeGreaterThan(types.indexOf('messages'));

    const listed = async () => (await call(s.url, 'GET', '/api/v1/channels/room:hype/moments', { token: alice.token })).body;
    await vi.waitFor(async () => expect(await listed()).toMatchObject({ moments: [{}] }), { timeout: 5000 });
    expect(await listed()).toEqual({
      channel: 'room:hype',
      moments: [{ kind: 'hype', score: hype.score, ts: hype.ts, sample: hype.sample }],
    });
  });

  it('a burst of negative chat is a tilt moment, which the SDK delivers as a `moment` event and lists', async () => {
    const sdk = new ChatPulseClient({ baseUrl: s.url, token: alice.token, WebSocket });
    const live = sdk.live({ channels: ['room:tilt'] });
    await live.next('subscribed', (f) => f.channel === 'room:tilt');
    const event = live.next('moment', (m) => m.channel === 'room:tilt');
    await say('room:tilt', NEGATIVE);
    const got = await event;
    live.close();
    expect(moments(watcher, 'room:tilt').map((f) => f.kind)).toEqual(['tilt']);
    const [tilt] = moments(watcher, 'room:tilt') as [MomentFrame];
    expect(tilt.score).toBeLessThanOrEqual(-0.3);
    for (const line of tilt.sample) expect(NEGATIVE).toContain(line);
    expect(got).toEqual(tilt);
    await vi.waitFor(
      async () =>
        expect((await call(s.url, 'GET', '/api/v1/channels/room:tilt/moments', { token: alice.token })).body).toMatchObject({
          moments: [{ kind: 'tilt' }],
        }),
      { timeout: 5000 },
    );
    expect(await sdk.channels.moments('room:tilt', { limit: 5 })).toEqual({
      channel: 'room:tilt',
      moments: [{ kind: 'tilt', score: tilt.score, ts: tilt.ts, sample: tilt.sample }],
    });
  });

  it('a burst of neutral chat is no moment', async () => {
    await say('room:calm', NEUTRAL);
    expect(moments(watcher, 'room:calm')).toEqual([]);
    expect((await call(s.url, 'GET', '/api/v1/channels/room:calm/moments', { token: alice.token })).body).toEqual({
      channel: 'room:calm',
      moments: [],
    });
  });

  it("the moments route: the range and limit, its 400s, and the timeline route's auth", async () => {
    const get = (query: string, token: string | null = alice.token) =>
      call(s.url, 'GET', `/api/v1/channels/room:hype/moments${query}`, token === null ? {} : { token });
    const [hype] = moments(watcher, 'room:hype') as [MomentFrame];
    expect(((await get(`?from=${hype.ts}&to=${hype.ts + 1}&limit=1`)).body as { moments: unknown[] }).moments).toHaveLength(1);
    expect(((await get(`?from=${hype.ts + 1}`)).body as { moments: unknown[] }).moments).toEqual([]);
    expect(((await get(`?to=${hype.ts}`)).body as { moments: unknown[] }).moments).toEqual([]);
    for (const bad of ['?limit=0', '?limit=501', '?limit=x', '?from=soon', `?from=${hype.ts}&to=${hype.ts}`]) {
      const res = await get(bad);
      expect(res.status, bad).toBe(400);
      expect(res.body, bad).toMatchObject({ error: { code: 'validation_failed' } });
    }
    expect((await call(s.url, 'GET', '/api/v1/channels/nope/moments', { token: alice.token })).status).toBe(400);
    expect((await get('', null)).status).toBe(401);
  });
});
