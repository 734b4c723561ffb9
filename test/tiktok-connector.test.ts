// The TikTok connector against the real tiktok-live-connector: real connection objects (network stubbed, as
// TikTok cannot be reached from tests) fed real protobuf messages through the library's own dispatch.
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ControlAction, MemberMessageAction, SignConfig, TikTokLiveConnection, UserOfflineError } from 'tiktok-live-connector';
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../src/errors.js';
import type { IngestConnection, IngestEvent, IngestStatus } from '../src/ingest/source.js';
import { TikTokConnector, tiktokConnectionFactory, type TikTokConnectorOptions } from '../src/ingest/tiktok.js';
import { OfflineTikTokConnection, chat, gift, identity, like, member, roomUser, streamEnd, user } from './fixtures/tiktok.js';

const API_KEY = 'euler_test_key_8f3a9c';
const SESSION_ID = 'sessionid_test_c0ffee42';

/** The sign client's request options, which the library types as `any` (axios options): the part read here. */
interface ClientOptions {
  headers?: Record<string, string>;
}

interface Harness {
  connection: IngestConnection;
  events: IngestEvent[];
  /** Every connection the connector built, one per attempt. */
  conns: OfflineTikTokConnection[];
  statuses(): IngestStatus[];
  /** The data events (everything but status). */
  data(): IngestEvent[];
  live(): Promise<OfflineTikTokConnection>;
}

function start(options: TikTokConnectorOptions & { reach?: () => Promise<void> } = {}): Harness {
  const { reach, ...rest } = options;
  const events: IngestEvent[] = [];
  const conns: OfflineTikTokConnection[] = [];
  const connector = new TikTokConnector({
    reconnectMinMs: 1,
    reconnectMaxMs: 4,
    maxAttempts: 3,
    ...rest,
    createConnection: (uniqueId) => {
      const conn = new OfflineTikTokConnection(uniqueId, reach);
      conns.push(conn);
      return conn;
    },
  });
  const connection = connector.connect('@Streamer', (e) => events.push(e));
  const statuses = () => events.flatMap((e) => (e.kind === 'status' ? [e.status] : []));
  return {
    connection,
    events,
    conns,
    statuses,
    data: () => events.filter((e) => e.kind !== 'status'),
    live: async () => {
      await vi.waitFor(() => expect(statuses().at(-1)).toBe('live'));
      const conn = conns.at(-1);
      if (!conn) throw new Error('no connection');
      return conn;
    },
  };
}

describe('TikTokConnector.normalize', () => {
  const connector = new TikTokConnector();

  it('trims, strips one @ and lower-cases', () => {
    expect(connector.normalize('  @Some.User_1 ')).toBe('some.user_1');
    expect(connector.normalize('ab')).toBe('ab');
  });

  it.each(['a', 'x'.repeat(25), 'has space', 'bad-dash', '@@double', '', 'émile'])('rejects %j', (bad) => {
    const err = (() => {
      try {
        connector.normalize(bad);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
  });
});

describe('TikTokConnector mapping', () => {
  it('goes connecting → live on the real connect() and maps chat with badges', async () => {
    const h = start();
    const conn = await h.live();
    expect(h.statuses()).toEqual(['connecting', 'live']);
    expect(conn).toBeInstanceOf(TikTokLiveConnection);
    expect(conn.uniqueId).toBe('streamer');
    expect(conn.isConnected).toBe(true);

    await conn.receive(
      chat({
        msgId: '7301234567890123456',
        createTime: '1700000000123',
        user: user({ id: '6800000000000000001', nickname: 'Ada', uniqueId: 'ada.l' }),
        identity: identity({ isModeratorOfAnchor: true, isSubscriberOfAnchor: true, isFollowerOfAnchor: true, isGiftGiverOfAnchor: true }),
        text: 'hello 🎉 stream',
      }),
    );
    expect(h.data()).toEqual([
      {
        kind: 'chat',
        sourceId: '7301234567890123456',
        user: { id: '6800000000000000001', name: 'Ada', badges: ['moderator', 'subscriber', 'follower', 'gifter'] },
        text: 'hello 🎉 stream',
        sentAt: 1700000000123,
        emotes: [],
      },
    ]);
    await h.connection.stop();
  });

  it('falls back to the handle, a stable id and the receive time when the message lacks them', async () => {
    const h = start();
    const conn = await h.live();
    const bare = chat({ user: user({ id: '42', uniqueId: 'grace.h', admin: true }), text: 'no id here' });
    const before = Date.now();
    await conn.receive(bare, bare);
    const chats = h.data();
    expect(chats).toHaveLength(2);
    const [first, second] = chats;
    if (first?.kind !== 'chat' || second?.kind !== 'chat') throw new Error('expected chats');
    expect(first.user).toEqual({ id: '42', name: 'grace.h', badges: ['moderator'] });
    expect(first.sourceId).toMatch(/^tt-[0-9a-f]{24}$/);
    expect(second.sourceId).toBe(first.sourceId);
    expect(first.sentAt).toBeGreaterThanOrEqual(before);
    expect(first.sentAt).toBeLessThanOrEqual(Date.now());
    await h.connection.stop();
  });

  it('maps like totals, members, viewers', async () => {
    const h = start();
    const conn = await h.live();
    const viewer = user({ id: '7', nickname: 'Lin', uniqueId: 'lin' });
    await conn.receive(like(1200, 15), like(1230, 30), member(viewer), roomUser(345));
    // A subscription announcement arrives as a member message too, and is not a join.
    await conn.receive(member(viewer, MemberMessageAction.MEMBER_MESSAGE_ACTION_SUBSCRIBED));
    expect(h.data()).toEqual([
      { kind: 'likes', total: 1200 },
      { kind: 'likes', total: 1230 },
      { kind: 'member', user: { id: '7', name: 'Lin', badges: [] } },
      { kind: 'viewers', count: 345 },
    ]);
    await h.connection.stop();
  });

  it('reports a gift streak once, at its end, and a non-streak gift at once', async () => {
    const h = start();
    const conn = await h.live();
    const fan = user({ id: '9', nickname: 'Mo' });
    const rose = (repeatCount: number, repeatEnd: boolean) =>
      gift({ user: fan, name: 'Rose', type: 1, diamondCount: 1, repeatCount, repeatEnd });
    await conn.receive(rose(1, false), rose(2, false), rose(3, false));
    expect(h.data()).toEqual([]);
    await conn.receive(rose(3, true));
    await conn.receive(gift({ user: fan, name: 'Galaxy', type: 2, diamondCount: 1000, repeatCount: 1, repeatEnd: false, giftId: '11046' }));
    expect(h.data()).toEqual([
      { kind: 'gift', user: { id: '9', name: 'Mo', badges: [] }, gift: 'Rose', count: 3, diamonds: 3 },
      { kind: 'gift', user: { id: '9', name: 'Mo', badges: [] }, gift: 'Galaxy', count: 1, diamonds: 1000 },
    ]);
    await h.connection.stop();
  });
});

describe('TikTokConnector lifecycle', () => {
  it.each([ControlAction.CONTROL_ACTION_STREAM_ENDED, ControlAction.CONTROL_ACTION_STREAM_SUSPENDED])(
    'stream end (control action %i) → ended, disconnected, no reconnect',
    async (action) => {
      const h = start();
      const conn = await h.live();
      await conn.receive(streamEnd(action));
      expect(h.statuses()).toEqual(['connecting', 'live', 'ended']);
      expect(conn.isConnected).toBe(false);
      // The real library's socket close follows; it must not bring the connector back.
      conn.drop();
      await conn.receive(chat({ user: user({ id: '1' }), text: 'late' }));
      await sleep(30);
      expect(h.conns).toHaveLength(1);
      expect(h.statuses()).toEqual(['connecting', 'live', 'ended']);
      expect(h.data()).toEqual([]);
      await h.connection.stop();
    },
  );

  it('reconnects on a fresh connection after the socket drops, and ignores the dead one', async () => {
    const h = start();
    const first = await h.live();
    first.drop();
    await vi.waitFor(() => expect(h.statuses()).toEqual(['connecting', 'live', 'reconnecting', 'live']));
    expect(h.conns).toHaveLength(2);
    const second = h.conns[1];
    if (!second) throw new Error('no second connection');
    await first.receive(like(10));
    await second.receive(like(20));
    expect(h.data()).toEqual([{ kind: 'likes', total: 20 }]);
    await h.connection.stop();
  });

  it('retries a failing connect with backoff, then gives up with an error that names no secret', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const h = start({
      signApiKey: API_KEY,
      sessionId: SESSION_ID,
      ttTargetIdc: 'useast1a',
      log,
      reach: async () => {
        throw new Error(`sign server refused X-Api-Key ${API_KEY}\n  (Cookie: sessionid=${SESSION_ID})`);
      },
    });
    await vi.waitFor(() => expect(h.statuses().at(-1)).toBe('error'));
    await sleep(30);
    // Each failure is logged; the status only changes once.
    expect(h.statuses()).toEqual(['connecting', 'reconnecting', 'error']);
    expect(lines.filter((l) => l.includes('tiktok connect failed'))).toHaveLength(3);
    expect(h.conns).toHaveLength(3);
    const last = h.events.at(-1);
    expect(last).toMatchObject({ kind: 'status', status: 'error' });
    if (last?.kind !== 'status') throw new Error('expected a status');
    expect(last.error).toContain('after 3 failed attempts');
    expect(last.error).toContain('sign server refused X-Api-Key [redacted] (Cookie: sessionid=[redacted])');
    for (const text of [JSON.stringify(h.events), lines.join('')]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(SESSION_ID);
    }
    await h.connection.stop();
  });

  it("treats the library's UserOfflineError as ended, without retrying", async () => {
    const h = start({
      reach: async () => {
        throw new UserOfflineError("The requested user isn't online :(");
      },
    });
    await vi.waitFor(() => expect(h.statuses().at(-1)).toBe('ended'));
    await sleep(30);
    expect(h.events).toEqual([
      { kind: 'status', status: 'connecting' },
      { kind: 'status', status: 'ended', error: '@streamer is not live' },
    ]);
    expect(h.conns).toHaveLength(1);
    await h.connection.stop();
  });

  it('stop → disconnected, listeners gone, nothing emitted after it resolves', async () => {
    const h = start();
    const conn = await h.live();
    await conn.receive(like(5));
    await h.connection.stop();
    expect(conn.isConnected).toBe(false);
    expect(conn.listenedEvents()).toEqual([]);
    const seen = h.events.length;
    await conn.receive(like(6), chat({ user: user({ id: '1' }), text: 'after stop' }));
    conn.drop();
    await sleep(30);
    expect(h.events).toHaveLength(seen);
    expect(h.conns).toHaveLength(1);
  });

  it('stop cancels a pending reconnect', async () => {
    const h = start({
      reconnectMinMs: 100,
      reconnectMaxMs: 100,
      reach: async () => {
        throw new Error('no route to host');
      },
    });
    await vi.waitFor(() => expect(h.statuses()).toEqual(['connecting', 'reconnecting']));
    await h.connection.stop();
    await sleep(200);
    expect(h.conns).toHaveLength(1);
    expect(h.statuses()).toEqual(['connecting', 'reconnecting']);
  });

  it('stop while connecting: the late connection is closed and never reported live', async () => {
    let open = (): void => undefined;
    const h = start({ reach: () => new Promise<void>((resolve) => (open = resolve)) });
    await vi.waitFor(() => expect(h.conns).toHaveLength(1));
    await h.connection.stop();
    open();
    const conn = h.conns[0];
    await vi.waitFor(() => expect(conn?.isConnected).toBe(false));
    await sleep(20);
    expect(h.statuses()).toEqual(['connecting']);
  });
});

describe('tiktokConnectionFactory', () => {
  it("builds the library's connection with its own sign client and the session cookie, leaving SignConfig alone", () => {
    const snapshot = () => ({
      apiKey: SignConfig.apiKey,
      basePath: SignConfig.basePath,
      cachedInstance: SignConfig.cachedInstance,
      headers: JSON.stringify((SignConfig.baseOptions as ClientOptions | undefined)?.headers ?? {}),
    });
    const before = snapshot();
    const create = tiktokConnectionFactory({
      signApiKey: API_KEY,
      signServerUrl: 'http://127.0.0.1:9/sign',
      sessionId: SESSION_ID,
      ttTargetIdc: 'useast1a',
    });
    const a = create('@some.user');
    const b = create('other_user');
    expect(snapshot()).toEqual(before);

    expect(a).toBeInstanceOf(TikTokLiveConnection);
    expect(a.uniqueId).toBe('some.user');
    expect(a.isConnected).toBe(false);
    expect(a.options.processInitialData).toBe(false);
    expect(a.options.fetchRoomInfoOnConnect).toBe(true);
    expect(a.options.authenticateWs).toBeFalsy();
    expect(a.apiClient.configuration.basePath).toBe('http://127.0.0.1:9/sign');
    expect((a.apiClient.configuration.baseOptions as Required<ClientOptions>).headers['X-Api-Key']).toBe(API_KEY);
    expect(b.apiClient).toBe(a.apiClient);
    expect(a.webClient.clientHeaders['Cookie']).toContain(`sessionid=${SESSION_ID}`);
    expect(a.webClient.clientHeaders['Cookie']).toContain('tt-target-idc=useast1a');
  });

  it('without sign settings uses the library default client, and wants ttTargetIdc with a session', () => {
    const conn = tiktokConnectionFactory({})('someone');
    expect(conn.apiClient).toBe(SignConfig.cachedInstance);
    expect(() => tiktokConnectionFactory({ sessionId: SESSION_ID })).toThrow(/ttTargetIdc/);
  });
});
