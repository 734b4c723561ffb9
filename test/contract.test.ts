// The wire contract (src/contract) against a real server: every server frame type is driven out of it
// (rooms, batches, likes, presence, mood, moderation, renewal, errors, an ingested Twitch chat through the
// IRC double and a TikTok stream through a test connector on the server's own hub) and each one received is
// checked against its schema by frame-contract.ts, which also checks every frame of the other suites; the
// constructors keep the bytes the literals they replaced wrote; every JSON REST reply is a contract schema
// and the live replies match them; `/asyncapi.json` documents every frame and agrees with what was sent.
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientFrameSchemas, frames, RestReplies, SERVER_FRAME_TYPES, type ServerFrameType } from '../src/contract/index.js';
import { plainSchema } from '../src/gateway/openapi.js';
import type { Route } from '../src/gateway/router.js';
import { MemoryIngestBoard } from '../src/ingest/board.js';
import { MemoryLeaseManager } from '../src/ingest/lease.js';
import { IngestManager } from '../src/ingest/manager.js';
import type { IngestConnection, IngestConnector, IngestEvent } from '../src/ingest/source.js';
import { MemoryIngestStore } from '../src/ingest/store.js';
import { createLogger } from '../src/observability/log.js';
import { checked, frameViolation } from './frame-contract.js';
import { call, createRooms, startServer, type JsonResponse, type TestServer } from './helpers.js';
import { startTwitchIrcServer, type TwitchIrcServer } from './twitch-irc-server.js';
import { account, WsClient, type Account, type Frame } from './ws-client.js';

const MAX_TEXT_LENGTH = 500;
const CLIENT_TYPES = Object.keys(clientFrameSchemas(MAX_TEXT_LENGTH));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A copy in which every object schema with listed properties allows no others: a reply names every field. */
function closed(node: Json): Json {
  if (Array.isArray(node)) return node.map(closed);
  if (!isObject(node)) return node;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === 'properties' && isObject(v) ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (out.type === 'object' && isObject(out.properties) && !('additionalProperties' in out) && !('patternProperties' in out))
    out.additionalProperties = false;
  return out;
}

/** A TikTok stand-in: the test emits the platform's events through the connection the manager opens. */
class TestTikTok implements IngestConnector {
  readonly source = 'tiktok' as const;
  emit: ((event: IngestEvent) => void) | null = null;

  normalize(channel: string): string {
    return channel.toLowerCase();
  }

  connect(_channel: string, emit: (event: IngestEvent) => void): IngestConnection {
    this.emit = emit;
    return { stop: async () => void (this.emit = null) };
  }
}

describe('the wire contract', () => {
  let s: TestServer;
  let irc: TwitchIrcServer;
  let alice: Account;
  let bob: Account;
  let a: WsClient;
  let b: WsClient;
  const sockets: WsClient[] = [];
  const open = async (query = '') => {
    const ws = await WsClient.open(s.url, query);
    sockets.push(ws);
    return ws;
  };
  const hasType = (ws: WsClient, type: string, channel?: string) =>
    ws.until((fs) => fs.find((f) => f.type === type && (channel === undefined || f.channel === channel)), 5000, type);

  beforeAll(async () => {
    irc = await startTwitchIrcServer();
    s = await startServer({
      TWITCH_IRC_URL: irc.url,
      INGEST_SCAN_MS: '200',
      MOOD_TICK_MS: '100',
      STORE_FLUSH_MS: '20',
      MAX_TEXT_LENGTH: String(MAX_TEXT_LENGTH),
    });
    alice = await account(s.url, 'alice');
    bob = await account(s.url, 'bob');
    await createRooms(s.url, alice.token, ['contract']);
    a = await open(`token=${alice.token}`);
    b = await open(`token=${bob.token}`);
  });

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    await s.app.stop();
    await irc.close();
  });

  describe('server frames (each checked against its schema as it arrives)', () => {
    it('flags frames off the contract: an unknown type, a missing field, an extra field, a wrong type', () => {
      const message = JSON.parse(
        frames.message({
          channel: 'room:x',
          id: '01JD0000000000000000000000',
          user: { id: 'u', name: 'n', badges: [] },
          text: 't',
          sentiment: { label: 'positive', score: 0.5 },
          ts: 1,
          offset: 1,
        }),
      ) as Record<string, unknown>;
      expect(frameViolation(message)).toBeNull();
      expect(frameViolation({ ...message, type: 'nope' })).toMatch(/unknown server frame type/);
      expect(frameViolation({ ...message, ts: undefined })).toMatch(/^message: .*ts/);
      expect(frameViolation({ ...message, extra: 3 })).toMatch(/additional properties/);
      expect(frameViolation({ ...message, offset: undefined })).toMatch(/offset/);
      expect(frameViolation({ ...message, offset: 0 })).toMatch(/offset/);
      expect(frameViolation({ ...message, user: { id: 'u', name: 'n', badges: 'host' } })).toMatch(/badges/);
      expect(
        frameViolation({
          type: 'gift',
          channel: 'tiktok:x',
          user: { id: 'u', name: 'n', badges: [] },
          gift: 'Rose',
          count: 1,
          diamonds: 1,
        }),
      ).toMatch(/ts/);
    });

    it('room traffic: subscribed, message, messages, presence, mood, moment, likes, pong, authed, error', async () => {
      await a.subscribe('room:contract');
      await b.subscribe('room:contract', true);
      a.send({ type: 'chat', channel: 'room:contract', text: 'what a great stream', ref: 'first' });
      const msg = await hasType(a, 'message', 'room:contract');
      expect(await hasType(a, 'ack')).toEqual({ type: 'ack', ref: 'first', id: msg.id, offset: msg.offset });
      await hasType(b, 'messages', 'room:contract');
      await hasType(a, 'presence', 'room:contract');
      await hasType(a, 'mood', 'room:contract');
      // A moment as the hub sends one it detected, to both kinds of subscriber (this suite's random model
      // makes no bursts: test/moments.test.ts drives real detection with the bundled model).
      s.app.hub.announce({
        kind: 'frame',
        channel: 'room:contract',
        frame: frames.moment('room:contract', 'hype', 0.8123, Date.now(), ['what a great stream']),
      });
      await hasType(a, 'moment', 'room:contract');
      await hasType(b, 'moment', 'room:contract');

      b.send({ type: 'like', channel: 'room:contract', message_id: msg.id });
      a.send({ type: 'like', channel: 'room:contract' });
      await a.until(
        (fs) =>
          fs.some((f) => f.type === 'likes' && f.message_id === msg.id) && fs.some((f) => f.type === 'likes' && f.message_id === undefined),
        5000,
        'both likes',
      );

      // A late subscriber gets the replay as one batch, then the mood.
      const late = await open();
      await late.subscribe('room:contract', true);
      await hasType(late, 'messages', 'room:contract');

      a.send({ type: 'ping' });
      await hasType(a, 'pong');
      const fresh = (await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'alice', password: 'password123' } })).body as {
        access_token: string;
      };
      a.send({ type: 'auth', token: fresh.access_token });
      await hasType(a, 'authed');

      a.send('not json');
      a.send({ type: 'chat', channel: 'twitch:somebody', text: 'hi', ref: 'nope' });
      await a.until((fs) => fs.filter((f) => f.type === 'error').length >= 2, 5000, 'two errors');
      expect(
        a
          .of('error')
          .map((f) => [f.code, f.channel, f.ref])
          .sort(),
      ).toEqual([
        ['forbidden', 'twitch:somebody', 'nope'],
        ['invalid_json', undefined, undefined],
      ]);
    });

    it('moderation: delete, unsubscribed, closed', async () => {
      const id = a.of('message', 'room:contract')[0]?.id as string;
      expect((await call(s.url, 'DELETE', `/api/v1/rooms/contract/messages/${id}`, { token: alice.token })).status).toBe(204);
      await hasType(a, 'delete', 'room:contract');
      b.send({ type: 'unsubscribe', channel: 'room:contract' });
      await hasType(b, 'unsubscribed', 'room:contract');
      expect((await call(s.url, 'POST', '/api/v1/rooms/contract/close', { token: alice.token })).status).toBe(200);
      await hasType(a, 'closed', 'room:contract');
    });

    it('an ingested Twitch line: message with source, colour and emotes', async () => {
      const created = await call(s.url, 'POST', '/api/v1/ingest', { token: alice.token, body: { source: 'twitch', channel: 'streamer' } });
      expect(created.status).toBe(201);
      await a.subscribe('twitch:streamer');
      await irc.waitFor(() => irc.joined('streamer') === 1, 10_000, 'the join');
      irc.say('streamer', {
        login: 'modguy',
        displayName: 'ModGuy',
        userId: '1001',
        badges: 'moderator/1',
        color: '#1E90FF',
        emotes: '25:11-15',
        text: 'great play Kappa',
      });
      const line = await hasType(a, 'message', 'twitch:streamer');
      expect(line).toMatchObject({
        source: 'twitch',
        user: { color: '#1e90ff' },
        emotes: [{ id: '25', name: 'Kappa', start: 11, end: 15 }],
      });
    });

    it("a TikTok stream through the ingest manager and the server's hub: message, gift, likes, presence with the platform's viewers", async () => {
      const tiktok = new TestTikTok();
      const store = new MemoryIngestStore();
      await store.create({ id: 'T1', source: 'tiktok', channel: 'gifter', createdBy: alice.id, createdAt: Date.now() });
      const manager = new IngestManager(
        {
          store,
          leases: new MemoryLeaseManager(),
          board: new MemoryIngestBoard(),
          connectors: new Map([['tiktok', tiktok]]),
          hub: s.app.hub,
          ownerId: 'contract-test',
          log: createLogger('silent'),
        },
        { leaseTtlMs: 10_000, scanMs: 5_000, maxOwned: 1, maxStreams: 1, retryEndedMs: 1_000, retryErrorMs: 1_000 },
      );
      try {
        await a.subscribe('tiktok:gifter');
        manager.start();
        const emit = await vi.waitFor(() => tiktok.emit ?? Promise.reject(new Error('not connected yet')), { timeout: 5000 });
        const user = { id: '42', name: 'fan', badges: ['follower'] };
        emit({ kind: 'status', status: 'live' });
        emit({ kind: 'chat', sourceId: 'tt-1', user, text: 'love this', sentAt: Date.now(), emotes: [] });
        emit({ kind: 'gift', user, gift: 'Rose', count: 3, diamonds: 3 });
        emit({ kind: 'likes', total: 120 });
        emit({ kind: 'viewers', count: 77 });
        await hasType(a, 'gift', 'tiktok:gifter');
        await hasType(a, 'message', 'tiktok:gifter');
        await a.until((fs) => fs.find((f) => f.type === 'likes' && f.channel === 'tiktok:gifter' && f.total === 120), 5000, 'tiktok likes');
        await a.until(
          (fs) => fs.find((f) => f.type === 'presence' && f.channel === 'tiktok:gifter' && f.external_viewers === 77),
          5000,
          'external viewers',
        );
      } finally {
        await manager.close();
      }
    });

    it("a notification: on every socket of its user, nobody else's", async () => {
      const second = await open(`token=${alice.token}`);
      s.app.notifier.notify(alice.id, 'matched', { room: 'room:x', score: 0.5 });
      for (const ws of [a, second]) expect(await hasType(ws, 'notification')).toMatchObject({ kind: 'matched', data: { room: 'room:x' } });
      b.send({ type: 'ping' });
      await hasType(b, 'pong');
      expect(b.of('notification')).toEqual([]);
    });

    it('a lifecycle room: room_state on the channel and as a notification; decide refused outside `decision`', async () => {
      const created = await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id: 'life', lifecycle: true } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ state: 'active' });
      await b.subscribe('room:life');
      expect((await call(s.url, 'POST', '/api/v1/rooms/life/countdown', { token: alice.token })).status).toBe(200);
      const state = await hasType(b, 'room_state', 'room:life');
      expect(state).toMatchObject({ state: 'countdown' });
      expect(await a.until((fs) => fs.find((f) => f.type === 'notification' && f.kind === 'room_state'), 5000)).toMatchObject({
        data: { room: 'room:life', state: 'countdown', ends_at: state.ends_at },
      });
      a.send({ type: 'decide', channel: 'room:life', keep: true });
      expect(await a.until((fs) => fs.find((f) => f.type === 'error' && f.channel === 'room:life'), 5000)).toMatchObject({
        code: 'not_in_decision',
      });
    });

    it('exercised every server frame schema, and no frame was off its schema', () => {
      const missing = SERVER_FRAME_TYPES.filter((type) => (checked.get(type) ?? 0) === 0);
      expect(missing).toEqual([]);
      for (const ws of sockets) for (const f of ws.frames) expect(frameViolation(f), JSON.stringify(f)).toBeNull();
    });
  });

  describe('frame constructors', () => {
    it('write the bytes the hand-built literals wrote (field order included)', () => {
      const user = { id: 'u1', name: 'kai', badges: ['host'] };
      const sentiment = { label: 'positive', score: 0.9915 };
      const base = { channel: 'room:finals', id: '01JD0000000000000000000000', user, text: 'welcome!', sentiment, ts: 1763800000000 };
      expect(frames.message({ ...base, offset: 7 })).toBe(JSON.stringify({ type: 'message', ...base, offset: 7 }));
      const tuser = { id: '1001', name: 'ModGuy', badges: ['moderator'], color: '#1e90ff' };
      const emotes = [{ id: '25', name: 'Kappa', start: 11, end: 15 }];
      const ingested = {
        ...base,
        channel: 'twitch:x',
        user: tuser,
        source: 'twitch' as const,
        source_id: 'abc',
        sent_ts: 1763799999000,
        emotes,
      };
      expect(frames.message({ ...ingested, offset: 8 })).toBe(
        JSON.stringify({
          type: 'message',
          ...base,
          channel: 'twitch:x',
          user: { ...tuser },
          source: 'twitch',
          source_id: 'abc',
          sent_ts: 1763799999000,
          emotes,
          offset: 8,
        }),
      );
      const m1 = frames.message({ ...base, offset: 1 });
      expect(frames.messages('room:finals', [m1, m1])).toBe(
        JSON.stringify({ type: 'messages', channel: 'room:finals', items: [JSON.parse(m1), JSON.parse(m1)] }),
      );
      const short = { counts: { negative: 1, neutral: 3, positive: 8 }, score: 0.41, rate: 1.2, window_s: 10 };
      const long = { ...short, window_s: 60 };
      expect(frames.mood('room:finals', short, long, 5)).toBe(
        JSON.stringify({ type: 'mood', channel: 'room:finals', ...short, ts: 5, long }),
      );
      expect(frames.presence('c', 4)).toBe(JSON.stringify({ type: 'presence', channel: 'c', viewers: 4 }));
      expect(frames.presence('c', 4, 9)).toBe(JSON.stringify({ type: 'presence', channel: 'c', viewers: 4, external_viewers: 9 }));
      expect(frames.likes('c', 17)).toBe(JSON.stringify({ type: 'likes', channel: 'c', total: 17 }));
      expect(frames.likes('c', 17, 'm', 1)).toBe(
        JSON.stringify({ type: 'likes', channel: 'c', total: 17, message_id: 'm', message_likes: 1 }),
      );
      expect(frames.delete('c', 'm')).toBe(JSON.stringify({ type: 'delete', channel: 'c', message_id: 'm' }));
      expect(frames.closed('c')).toBe(JSON.stringify({ type: 'closed', channel: 'c' }));
      expect(frames.room_state('c', 'decision', 5)).toBe(
        JSON.stringify({ type: 'room_state', channel: 'c', state: 'decision', ends_at: 5 }),
      );
      expect(frames.room_state('c', 'ended', null)).toBe(
        JSON.stringify({ type: 'room_state', channel: 'c', state: 'ended', ends_at: null }),
      );
      expect(frames.subscribed({ channel: 'c', viewers: 3, epoch: 'e', offset: 4 })).toBe(
        JSON.stringify({ type: 'subscribed', channel: 'c', viewers: 3, epoch: 'e', offset: 4 }),
      );
      expect(frames.subscribed({ channel: 'c', viewers: 3, epoch: 'e', offset: 4, recovered: false, reason: 'r' })).toBe(
        JSON.stringify({ type: 'subscribed', channel: 'c', viewers: 3, epoch: 'e', offset: 4, recovered: false, reason: 'r' }),
      );
      expect(frames.ack('r1', 'm', 9)).toBe(JSON.stringify({ type: 'ack', ref: 'r1', id: 'm', offset: 9 }));
      expect(frames.unsubscribed('c')).toBe(JSON.stringify({ type: 'unsubscribed', channel: 'c' }));
      expect(frames.pong()).toBe('{"type":"pong"}');
      expect(frames.authed(1000)).toBe(JSON.stringify({ type: 'authed', expires_at: 1000 }));
      expect(frames.error({ code: 'x', message: 'y' })).toBe(JSON.stringify({ type: 'error', code: 'x', message: 'y' }));
      expect(frames.error({ code: 'x', message: 'y', channel: 'c', retry_after_ms: 5 })).toBe(
        JSON.stringify({ type: 'error', code: 'x', message: 'y', channel: 'c', retry_after_ms: 5 }),
      );
      const gift = { channel: 'tiktok:x', user, gift: 'Rose', count: 3, diamonds: 3, ts: 7 };
      expect(frames.gift(gift)).toBe(JSON.stringify({ type: 'gift', ...gift }));
      const moment = { channel: 'room:finals', kind: 'tilt' as const, score: -0.61, ts: 9, sample: ['L', 'Sadge'] };
      expect(frames.moment(moment.channel, moment.kind, moment.score, moment.ts, moment.sample)).toBe(
        JSON.stringify({ type: 'moment', ...moment }),
      );
      // A quiet window: no score (null), not a neutral 0.
      const quiet = { counts: { negative: 0, neutral: 0, positive: 0 }, score: null, rate: 0, window_s: 10 };
      // Every constructor's output is a frame of its own schema.
      for (const f of [
        m1,
        frames.message({ ...ingested, offset: 2 }),
        frames.messages('room:finals', [m1]),
        frames.mood('room:finals', short, long, 5),
        frames.mood('room:finals', quiet, long, 5),
        frames.moment(moment.channel, moment.kind, moment.score, moment.ts, moment.sample),
        frames.gift(gift),
        frames.error({ code: 'x', message: 'y', channel: 'c', retry_after_ms: 5 }),
      ]) {
        expect(frameViolation(JSON.parse(f))).toBeNull();
      }
    });
  });

  describe('REST replies', () => {
    const contract = new Set<unknown>(Object.values(RestReplies));
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    const routeOf = (method: Route['method'], path: string): Route => {
      const r = s.app.routes.find((x) => x.method === method && x.path === path);
      if (!r) throw new Error(`no route ${method} ${path}`);
      return r;
    };
    /** The live reply matches the contract schema its route documents, closed: every field is named. */
    const conforms = (method: Route['method'], path: string, reply: JsonResponse) => {
      expect(reply.status, `${method} ${path}: ${JSON.stringify(reply.body)}`).toBeLessThan(300);
      const schema = routeOf(method, path).response;
      expect(contract.has(schema), `${method} ${path} documents a contract schema`).toBe(true);
      const validate = ajv.compile(closed(plainSchema(schema)) as object);
      expect(validate(reply.body), `${method} ${path}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(reply.body)}`).toBe(true);
    };

    it('every JSON reply a route documents is a schema of src/contract', () => {
      for (const r of s.app.routes.filter((x) => !x.hidden)) {
        const bodies = [r.response, ...Object.values(r.responses ?? {}).filter((v) => typeof v !== 'string')].filter(
          (v) => v !== undefined,
        );
        for (const body of bodies) expect(contract.has(body), `${r.method} ${r.path}`).toBe(true);
        const bodiless = r.method === 'del' || r.path === '/docs' || Object.keys(r.responses ?? {}).includes('204');
        if (bodies.length === 0) expect(bodiless, `${r.method} ${r.path} documents no reply`).toBe(true);
      }
    });

    it('history, reports, account, admin and ingest replies match their schemas', async () => {
      const token = alice.token;
      // Stored by the writer a moment after publishing.
      const stored = async () =>
        ((await call(s.url, 'GET', '/api/v1/channels/twitch:streamer/messages', { token })).body as { items: unknown[] }).items;
      await vi.waitFor(async () => expect(await stored()).not.toEqual([]), { timeout: 5000 });
      conforms('get', '/api/v1/channels', await call(s.url, 'GET', '/api/v1/channels', { token }));
      conforms(
        'get',
        '/api/v1/channels/:channel/messages',
        await call(s.url, 'GET', '/api/v1/channels/twitch:streamer/messages', { token }),
      );
      conforms('get', '/api/v1/channels/:channel/timeline', await call(s.url, 'GET', '/api/v1/channels/room:contract/timeline', { token }));
      conforms('get', '/api/v1/channels/:channel/moments', await call(s.url, 'GET', '/api/v1/channels/room:contract/moments', { token }));
      const report = await call(s.url, 'POST', '/api/v1/reports', {
        token,
        body: { channel: 'room:contract', from: Date.now() - 3_600_000, to: Date.now() + 1000 },
      });
      conforms('post', '/api/v1/reports', report);
      conforms('get', '/api/v1/reports', await call(s.url, 'GET', '/api/v1/reports', { token }));
      conforms('get', '/api/v1/reports/:id', await call(s.url, 'GET', `/api/v1/reports/${(report.body as { id: string }).id}`, { token }));
      const streams = await call(s.url, 'GET', '/api/v1/ingest', { token });
      conforms('get', '/api/v1/ingest', streams);
      conforms(
        'get',
        '/api/v1/ingest/:id',
        await call(s.url, 'GET', `/api/v1/ingest/${(streams.body as { items: Array<{ id: string }> }).items[0]?.id}`, { token }),
      );

      const admin = (
        (await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body as {
          access_token: string;
        }
      ).access_token;
      conforms('get', '/api/v1/admin/stats', await call(s.url, 'GET', '/api/v1/admin/stats', { token: admin }));
      conforms('get', '/api/v1/admin/users', await call(s.url, 'GET', '/api/v1/admin/users?limit=2', { token: admin }));
      conforms(
        'patch',
        '/api/v1/admin/users/:id',
        await call(s.url, 'PATCH', `/api/v1/admin/users/${bob.id}`, { token: admin, body: { disabled: false } }),
      );

      const carol = await account(s.url, 'carol');
      conforms(
        'put',
        '/api/v1/users/me',
        await call(s.url, 'PUT', '/api/v1/users/me', {
          token: carol.token,
          body: { display_name: 'Carol', avatar_url: 'https://example.com/c.png' },
        }),
      );
      conforms(
        'post',
        '/api/v1/users/me/password',
        await call(s.url, 'POST', '/api/v1/users/me/password', {
          token: carol.token,
          body: { current_password: 'password123', new_password: 'password456' },
        }),
      );
    });
  });

  describe('the AsyncAPI document', () => {
    interface AsyncApi {
      asyncapi: string;
      channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
      operations: Record<
        string,
        { action: string; channel: { $ref: string }; messages: Array<{ $ref: string }>; reply?: { messages: Array<{ $ref: string }> } }
      >;
      components: { schemas: Record<string, Json>; messages: Record<string, { name: string; payload: { $ref: string } }> };
    }
    let doc: AsyncApi;
    const resolve = (ref: string): unknown =>
      ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), doc);

    beforeAll(async () => {
      const res = await fetch(`${s.url}/asyncapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      doc = (await res.json()) as AsyncApi;
    });

    it('is served, linked from /docs and listed in the OpenAPI document', async () => {
      expect(doc.asyncapi).toBe('3.0.0');
      expect(await (await fetch(`${s.url}/docs`)).text()).toContain('href="/asyncapi.json"');
      const openapi = (await (await fetch(`${s.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(openapi.paths['/asyncapi.json']).toMatchObject({ get: { tags: ['docs'] } });
    });

    it('has one message and one operation per frame type: the server receives client frames and sends its own', () => {
      const all = [...CLIENT_TYPES, ...SERVER_FRAME_TYPES];
      expect(CLIENT_TYPES).toHaveLength(7);
      expect(SERVER_FRAME_TYPES).toHaveLength(17);
      expect(Object.keys(doc.components.messages).sort()).toEqual([...all].sort());
      expect(Object.keys(doc.channels.live?.messages ?? {}).sort()).toEqual([...all].sort());
      expect(doc.channels.live?.address).toBe('/ws');
      const ops = Object.values(doc.operations);
      expect(ops).toHaveLength(all.length);
      for (const type of CLIENT_TYPES)
        expect(ops.filter((o) => o.action === 'receive' && o.messages[0]?.$ref.endsWith(`/${type}`))).toHaveLength(1);
      for (const type of SERVER_FRAME_TYPES)
        expect(ops.filter((o) => o.action === 'send' && o.messages[0]?.$ref.endsWith(`/${type}`))).toHaveLength(1);
      expect(doc.operations.receiveSubscribe?.reply?.messages[0]?.$ref).toBe('#/channels/live/messages/subscribed');
      expect(doc.operations.receiveChat?.reply?.messages[0]?.$ref).toBe('#/channels/live/messages/ack');
      const chat = resolve('#/components/schemas/ChatFrame') as { properties: { text: { maxLength: number } } };
      expect(chat.properties.text.maxLength).toBe(MAX_TEXT_LENGTH);
    });

    it("resolves every $ref, and every frame this suite received validates against the document's payload", () => {
      let refs = 0;
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (isObject(node)) {
          if (typeof node.$ref === 'string') {
            refs++;
            expect(resolve(node.$ref), node.$ref).toBeDefined();
          }
          Object.values(node).forEach(walk);
        }
      };
      walk(doc);
      expect(refs).toBeGreaterThan(3 * 21);
      const ajv = new Ajv({ strict: false, allErrors: true });
      const validators = new Map<string, ValidateFunction>();
      const received: Frame[] = sockets.flatMap((ws) => ws.frames);
      const seen = new Set<ServerFrameType>();
      for (const f of received) {
        const payload = doc.components.messages[f.type]?.payload;
        expect(payload, f.type).toBeDefined();
        let validate = validators.get(f.type);
        if (!validate) validators.set(f.type, (validate = ajv.compile({ $ref: payload?.$ref, components: doc.components })));
        expect(validate(f), `${f.type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
        seen.add(f.type as ServerFrameType);
      }
      expect([...seen].sort()).toEqual([...SERVER_FRAME_TYPES].sort());
    });
  });
});
