// The SDK's recovery against a real server: a subscriber whose socket dies while messages keep being published
// resubscribes with `since` and ends with every message once, in order (per-message and batched); a server
// restarted in-process (a new epoch) and a trimmed history say `recovered: false` and why. Acked chat: chat()
// resolves with the ack, a lost ack is resent under the same ref and published once, a chat sent while
// disconnected waits for the socket, refusals reject with their code. Then the duplicate guard and the resend
// order on a scripted socket, frame by frame.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LiveConnection,
  type ChatAck,
  type ClientFrame,
  type LiveEvents,
  type MessageFrame,
  type ServerFrame,
  type WebSocketLike,
} from '../src/client/index.js';
import { createRooms, startServer, type TestServer } from './helpers.js';
import { clientOf, FrameLog } from './sdk.js';
import { tap, type Tap } from './tap-socket.js';
import { freePort } from '../bench/lib/processes.js';

const LIMITS = {
  CHAT_RATE_PER_30S: '100000',
  WS_FRAME_RATE_PER_10S: '100000',
  WS_CONNECT_RATE_PER_MIN: '10000',
  AUTH_RATE_PER_MIN: '10000',
  // Recovery reads past the replay ring: 5 recent messages per channel, 100 in history.
  REPLAY_SIZE: '5',
  HISTORY_SIZE: '100',
};
/** Reconnects within a fraction of a second, and only when the test says so (tap.offline). */
const QUICK = { reconnect: { minDelayMs: 50, maxDelayMs: 200 }, heartbeat: false } as const;

/** Every message a connection delivered on a channel, `message` frames and batched items alike, in order. */
const delivered = (log: FrameLog, channel: string): MessageFrame[] =>
  log.frames.flatMap((f) =>
    f.type === 'message' && f.channel === channel ? [f] : f.type === 'messages' && f.channel === channel ? f.items : [],
  );

/** Resolves once the connection delivered the message with this id. */
const reached = (log: FrameLog, channel: string, id: string, timeoutMs = 15_000) =>
  log.until(() => delivered(log, channel).some((m) => m.id === id), timeoutMs, `message ${id} on ${channel}`);

// Asymmetric matchers are `any`; typed as unknown, they go into object literals without unsafe assignments.
const ANY_STRING: unknown = expect.any(String);
const matching = (pattern: RegExp): unknown => expect.stringMatching(pattern);

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/** A signed-in admin's live connection that posts (the admin may post in every room). */
async function poster(url: string, options: Parameters<ReturnType<typeof clientOf>['live']>[0] = {}): Promise<LiveConnection> {
  const client = clientOf(url);
  await client.auth.login('admin', 'admin-password');
  return client.live({ heartbeat: false, ...options });
}

describe('SDK recovery against a real server', () => {
  let s: TestServer;
  let pub: LiveConnection;
  const opened: LiveConnection[] = [];
  const track = <T extends LiveConnection | FrameLog>(x: T): T => {
    opened.push(x instanceof FrameLog ? x.live : x);
    return x;
  };
  /** An anonymous watcher that logs what it delivers. */
  const watcher = (options: Parameters<ReturnType<typeof clientOf>['live']>[0]) =>
    track(new FrameLog(clientOf(s.url).live({ ...QUICK, ...options })));

  beforeAll(async () => {
    s = await startServer(LIMITS);
    pub = track(await poster(s.url));
    const admin = clientOf(s.url);
    await admin.auth.login('admin', 'admin-password');
    await createRooms(s.url, admin.accessToken as string, ['recover', 'resume', 'acked', 'lost-ack', 'queued', 'refused']);
  });

  afterAll(async () => {
    for (const live of opened) live.close();
    await (s as TestServer | undefined)?.app.stop();
  });

  it('recovers what a subscriber missed while its socket was down: every message once, in order, per-message and batched', async () => {
    const channel = 'room:recover';
    const taps: Tap[] = [tap(), tap()];
    const subs = [
      watcher({ WebSocket: taps[0]!.WebSocket, channels: [channel] }),
      watcher({ WebSocket: taps[1]!.WebSocket, channels: [{ channel, batch: true }] }),
    ];
    const gaps: Array<LiveEvents['gap']> = [];
    for (const sub of subs) sub.live.on('gap', (g) => gaps.push(g));
    await Promise.all(subs.map((sub) => sub.live.next('subscribed', (f) => f.channel === channel)));

    const acks: ChatAck[] = [];
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) acks.push(await pub.chat(channel, `line ${acks.length}`));
    };
    await publish(10);
    await Promise.all(subs.map((sub) => reached(sub, channel, acks[9]!.id)));
    const before = subs.map((sub) => sub.live.position(channel));
    expect(before[0]).toEqual({ epoch: ANY_STRING, offset: acks[9]!.offset });

    // The network goes: both sockets die without a close frame, and they cannot come back while we publish.
    const down = subs.map((sub) => sub.live.next('reconnecting'));
    for (const t of taps) {
      t.offline = true;
      t.cut();
    }
    await Promise.all(down);
    await publish(30);
    const recovered = subs.map((sub) => sub.live.next('recovered', (e) => e.channel === channel, 20_000));
    for (const t of taps) t.offline = false;
    const events = await Promise.all(recovered);
    await publish(10);

    for (const [i, sub] of subs.entries()) {
      expect(events[i]).toEqual({
        channel,
        recovered: true,
        since: before[i],
        epoch: before[i]!.epoch,
        offset: acks[39]!.offset,
      });
      await reached(sub, channel, acks.at(-1)!.id);
      const got = delivered(sub, channel);
      expect(got.map((m) => m.id)).toEqual(acks.map((a) => a.id));
      expect(got.map((m) => m.offset)).toEqual(range(acks[0]!.offset, 50));
      expect(sub.live.position(channel)).toEqual({ epoch: before[i]!.epoch, offset: acks.at(-1)!.offset });
    }
    expect(gaps).toEqual([]);
    // The batched subscriber got the missed messages in `messages` frames too.
    expect(subs[1]!.frames.some((f) => f.type === 'message')).toBe(false);
  });

  it('resumes from a saved position (`since`), and says recovered: false when history was trimmed or the epoch is unknown', async () => {
    const channel = 'room:resume';
    const first = await pub.subscribe(channel);
    const acks: ChatAck[] = [];
    for (let i = 0; i < 10; i++) acks.push(await pub.chat(channel, `resume ${i}`));
    const epoch = first.epoch;

    const resumed = watcher({ channels: [{ channel, since: { epoch, offset: acks[4]!.offset } }] });
    expect(await resumed.live.next('recovered')).toMatchObject({ recovered: true, since: { epoch, offset: acks[4]!.offset } });
    await reached(resumed, channel, acks[9]!.id);
    expect(delivered(resumed, channel).map((m) => m.id)).toEqual(acks.slice(5).map((a) => a.id));

    // Past HISTORY_SIZE (100): the first messages are gone.
    const more = await Promise.all(range(0, 100).map((i) => pub.chat(channel, `flood ${i}`)));
    const last = more.at(-1)!;
    expect(more.map((a) => a.offset)).toEqual(range(acks[9]!.offset + 1, 100));
    const trimmed = watcher({ channels: [{ channel, since: { epoch, offset: acks[0]!.offset } }] });
    const gap = trimmed.live.next('gap');
    expect(await trimmed.live.next('recovered')).toMatchObject({ recovered: false, reason: matching(/trimmed/) });
    expect(await gap).toMatchObject({ channel, reason: matching(/trimmed/), epoch, offset: last.offset });
    await reached(trimmed, channel, last.id);
    // What history still holds comes instead (consecutive, up to the latest): not the first ones.
    const kept = delivered(trimmed, channel).map((m) => m.offset);
    expect(kept[0]).toBeGreaterThan(acks[0]!.offset + 1);
    expect(kept).toEqual(range(kept[0]!, last.offset - kept[0]! + 1));

    const stranger = watcher({ channels: [{ channel, since: { epoch: 'no-such-epoch', offset: 3 } }] });
    expect(await stranger.live.next('recovered')).toMatchObject({ recovered: false, reason: matching(/epoch/) });
    expect(stranger.live.position(channel)).toEqual({ epoch, offset: last.offset });
  });

  it('says recovered: false (a new epoch) after the server restarted and lost its memory history, then goes on live', async () => {
    // An explicit port: uWS sets SO_REUSEADDR only then, so the restarted server can bind it at once.
    const port = await freePort();
    const env = { ...LIMITS, PORT: String(port) };
    const channel = 'room:epoch';
    let server = await startServer(env);
    try {
      const p1 = await poster(server.url);
      const admin = clientOf(server.url);
      await admin.auth.login('admin', 'admin-password');
      await createRooms(server.url, admin.accessToken as string, ['epoch']);
      const t = tap();
      const sub = track(new FrameLog(clientOf(server.url).live({ ...QUICK, WebSocket: t.WebSocket, channels: [channel] })));
      await sub.live.next('subscribed');
      const a = await p1.chat(channel, 'before the restart');
      await reached(sub, channel, a.id);
      const before = sub.live.position(channel);
      p1.close();

      t.offline = true; // until the room exists again on the new process
      const down = sub.live.next('reconnecting');
      await server.app.stop();
      await down;
      server = await startServer(env);
      const admin2 = clientOf(server.url);
      await admin2.auth.login('admin', 'admin-password');
      await createRooms(server.url, admin2.accessToken as string, ['epoch']);
      const gap = sub.live.next('gap', () => true, 20_000);
      const recovered = sub.live.next('recovered', () => true, 20_000);
      t.offline = false;
      expect(await recovered).toMatchObject({ channel, recovered: false, reason: matching(/epoch/), since: before });
      expect(await gap).toMatchObject({ channel, since: before });
      const now = sub.live.position(channel);
      expect(now?.epoch).not.toBe(before?.epoch);

      const p2 = track(await poster(server.url));
      const b = await p2.chat(channel, 'after the restart');
      expect(b.offset).toBe(1);
      await reached(sub, channel, b.id);
      expect(delivered(sub, channel).map((m) => m.text)).toEqual(['before the restart', 'after the restart']);
    } finally {
      await server.app.stop();
    }
  });

  it('resolves chat() with the ack: the id and offset its subscribers see', async () => {
    const channel = 'room:acked';
    const sub = watcher({ channels: [channel] });
    await sub.live.next('subscribed');
    const ack = await pub.chat(channel, 'acknowledged, with an offset');
    expect(ack).toEqual({ ref: ANY_STRING, id: ANY_STRING, offset: 1 });
    expect(ack.ref.length).toBeLessThanOrEqual(64);
    await reached(sub, channel, ack.id);
    expect(delivered(sub, channel)).toEqual([
      expect.objectContaining({ id: ack.id, offset: ack.offset, text: 'acknowledged, with an offset' }),
    ]);
    // The same ref again (a caller retrying after a timeout): published once, acked with the first id.
    const again = await pub.chat(channel, 'acknowledged, with an offset', { ref: ack.ref });
    expect(again).toEqual(ack);
    const next = await pub.chat(channel, 'the next one');
    expect(next.offset).toBe(2);
    await reached(sub, channel, next.id);
    expect(delivered(sub, channel).map((m) => m.offset)).toEqual([1, 2]);
    expect(pub.pendingChats).toBe(0);
  });

  it('resends a chat whose ack was lost with its socket, under the same ref: published once', async () => {
    const channel = 'room:lost-ack';
    const sub = watcher({ channels: [channel] });
    await sub.live.next('subscribed');
    const t = tap();
    const p = track(await poster(s.url, { ...QUICK, WebSocket: t.WebSocket, channels: [channel] }));
    await p.next('subscribed');
    // The server publishes and acks; the ack never reaches the SDK, and then the socket dies.
    t.drop = (f) => f.type === 'ack';
    const sent = p.chat(channel, 'published before the socket died');
    await sub.until(() => delivered(sub, channel).length === 1, 10_000, 'the published chat');
    expect(p.pendingChats).toBe(1);
    t.drop = null;
    t.cut();
    const ack = await sent;
    const [published] = delivered(sub, channel);
    expect(ack).toMatchObject({ id: published?.id, offset: published?.offset });
    // Anything after it arrives, and the resent one did not publish a second time.
    const marker = await p.chat(channel, 'marker');
    await reached(sub, channel, marker.id);
    expect(delivered(sub, channel).map((m) => m.text)).toEqual(['published before the socket died', 'marker']);
    expect(marker.offset).toBe(ack.offset + 1);
  });

  it('queues a chat while disconnected and sends it once the socket is back', async () => {
    const channel = 'room:queued';
    const sub = watcher({ channels: [channel] });
    await sub.live.next('subscribed');
    const t = tap();
    const p = track(await poster(s.url, { ...QUICK, WebSocket: t.WebSocket }));
    await p.next('open');
    t.offline = true;
    const down = p.next('reconnecting');
    t.cut();
    await down;
    const queued = [p.chat(channel, 'queued one'), p.chat(channel, 'queued two')];
    expect(p.pendingChats).toBe(2);
    t.offline = false;
    const acks = await Promise.all(queued);
    expect(acks.map((a) => a.offset)).toEqual([1, 2]);
    await reached(sub, channel, acks[1]!.id);
    expect(delivered(sub, channel).map((m) => m.text)).toEqual(['queued one', 'queued two']);
  });

  it('rejects a refused chat with the LiveError of its code; bounds the queue; close() rejects what is pending', async () => {
    await expect(pub.chat('twitch:somestreamer', 'hi')).rejects.toMatchObject({ name: 'LiveError', code: 'forbidden' });
    const anon = track(clientOf(s.url).live(QUICK));
    await expect(anon.chat('room:refused', 'who am I?')).rejects.toMatchObject({ name: 'LiveError', code: 'unauthorized' });
    await expect(pub.chat('room:no-such-room', 'hello?')).rejects.toMatchObject({ name: 'LiveError', code: 'not_found' });
    // The connection stays usable after refusals.
    expect((await pub.chat('room:refused', 'still fine')).offset).toBe(1);

    const t = tap();
    t.offline = true;
    const idle = track(await poster(s.url, { ...QUICK, WebSocket: t.WebSocket, maxPendingChats: 2 }));
    const pending = [idle.chat('room:refused', 'one'), idle.chat('room:refused', 'two')];
    await expect(idle.chat('room:refused', 'three')).rejects.toMatchObject({ code: 'queue_full' });
    idle.close();
    for (const p of pending) await expect(p).rejects.toMatchObject({ name: 'LiveError', code: 'closed' });
    expect(() => idle.chat('room:refused', 'after close')).toThrow(/closed for good/);
  });
});

// ---------------------------------------------------------------------------------- a scripted server

/** A socket whose server is the test: it records what the SDK sends and hands it the frames the test writes. */
class ScriptedSocket implements WebSocketLike {
  static made: ScriptedSocket[] = [];
  readyState = 0;
  readonly sent: ClientFrame[] = [];
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor() {
    ScriptedSocket.made.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }

  close(): void {
    this.readyState = 3;
  }

  receive(...frames: ServerFrame[]): void {
    for (const f of frames) this.onmessage?.({ data: JSON.stringify(f) });
  }

  /** The connection dies. */
  die(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

const msg = (offset: number, id = `id-${offset}`): MessageFrame => ({
  type: 'message',
  channel: 'room:a',
  id,
  user: { id: 'u1', name: 'someone', badges: [] },
  text: `text ${id}`,
  sentiment: { label: 'neutral', score: 0.9 },
  ts: 1_700_000_000_000 + offset,
  offset,
});

describe('SDK duplicate guard and resend order (scripted server)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** The next socket the SDK opens, once it is open. */
  const nextSocket = async (index: number): Promise<ScriptedSocket> => {
    for (let i = 0; i < 200 && (ScriptedSocket.made[index]?.readyState ?? 0) !== 1; i++) await sleep(5);
    const socket = ScriptedSocket.made[index];
    if (!socket) throw new Error(`no socket #${index}`);
    return socket;
  };

  it('drops what it has, resubscribes with since, and tells a restarted history from a repeat', async () => {
    ScriptedSocket.made = [];
    const live = new LiveConnection({
      url: 'http://127.0.0.1:9',
      WebSocket: ScriptedSocket,
      channels: ['room:a'],
      heartbeat: false,
      reconnect: { minDelayMs: 1, maxDelayMs: 1 },
    });
    const offsets: number[] = [];
    const events: Array<LiveEvents['recovered']> = [];
    live.on('message', (m) => offsets.push(m.offset));
    live.on('recovered', (e) => events.push(e));
    try {
      const s1 = await nextSocket(0);
      expect(s1.sent).toEqual([{ type: 'subscribe', channel: 'room:a', batch: false }]);
      // A fresh subscriber: the recent messages (1, 2), then live ones; repeats are dropped.
      s1.receive(
        { type: 'subscribed', channel: 'room:a', viewers: 1, epoch: 'e1', offset: 2 },
        msg(1),
        msg(2),
        msg(3),
        msg(3),
        msg(2),
        msg(4),
      );
      expect(offsets).toEqual([1, 2, 3, 4]);
      // A chat sent now; the socket dies before its ack.
      const chat = live.chat('room:a', 'hello');
      const ref = (s1.sent.at(-1) as { ref: string }).ref;
      expect(s1.sent.at(-1)).toEqual({ type: 'chat', channel: 'room:a', text: 'hello', ref });
      s1.die();

      const s2 = await nextSocket(1);
      // Resubscribed with since; the chat waits for the answer, so the missed messages come first.
      expect(s2.sent).toEqual([{ type: 'subscribe', channel: 'room:a', batch: false, since: { epoch: 'e1', offset: 4 } }]);
      s2.receive({ type: 'subscribed', channel: 'room:a', viewers: 1, epoch: 'e1', offset: 6, recovered: true }, msg(4), msg(5), msg(6));
      expect(events).toEqual([{ channel: 'room:a', recovered: true, since: { epoch: 'e1', offset: 4 }, epoch: 'e1', offset: 6 }]);
      expect(s2.sent.at(-1)).toEqual({ type: 'chat', channel: 'room:a', text: 'hello', ref });
      s2.receive({ type: 'ack', ref, id: 'id-7', offset: 7 }, msg(7));
      expect(await chat).toEqual({ ref, id: 'id-7', offset: 7 });
      expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7]);

      // Offsets from 1 again with messages never seen: the channel's history restarted (a new epoch).
      s2.receive(msg(1, 'new-1'), msg(2, 'new-2'), msg(2, 'new-2'));
      expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7, 1, 2]);
      // A refusal of a chat is not taken for a refused subscription.
      const refused = live.chat('room:a', 'too fast');
      const ref2 = (s2.sent.at(-1) as { ref: string }).ref;
      s2.receive({ type: 'error', code: 'rate_limited', message: 'slow down', channel: 'room:a', retry_after_ms: 500, ref: ref2 });
      await expect(refused).rejects.toMatchObject({ name: 'LiveError', code: 'rate_limited', retryAfterMs: 500 });
      expect(live.channels.has('room:a')).toBe(true);
      s2.die();

      const s3 = await nextSocket(2);
      expect(s3.sent).toEqual([{ type: 'subscribe', channel: 'room:a', batch: false, since: { epoch: 'e1', offset: 2 } }]);
      s3.receive(
        { type: 'subscribed', channel: 'room:a', viewers: 1, epoch: 'e2', offset: 3, recovered: false, reason: 'epoch changed' },
        msg(1, 'new-1'),
        msg(2, 'new-2'),
        msg(3, 'new-3'),
      );
      expect(events.at(-1)).toMatchObject({ recovered: false, reason: 'epoch changed', epoch: 'e2' });
      expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7, 1, 2, 3]);
      expect(live.position('room:a')).toEqual({ epoch: 'e2', offset: 3 });
    } finally {
      live.close();
    }
  });
});
