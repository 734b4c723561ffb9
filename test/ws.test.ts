// The real-time contract over a real uWS server and real `ws` clients: fan-out and order, batched
// subscriptions, replay, presence, mood, likes, rooms and their controls, limits and backpressure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createRooms, startServer, type TestServer } from './helpers.js';
import { account, UpgradeRefused, WsClient, type Account, type Frame } from './ws-client.js';

const LABELS = ['negative', 'neutral', 'positive'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('websocket channels', () => {
  let s: TestServer;
  let alice: Account;
  let bob: Account;
  let carol: Account;
  let admin: Account;
  const clients: WsClient[] = [];
  const open = async (who?: Account) => {
    const c = await WsClient.open(s.url, who ? `token=${who.token}` : '');
    clients.push(c);
    return c;
  };
  const texts = (fs: Frame[], channel: string) => fs.filter((f) => f.type === 'message' && f.channel === channel).map((f) => f.text);

  beforeAll(async () => {
    s = await startServer({
      CHAT_RATE_PER_30S: '100000',
      WS_FRAME_RATE_PER_10S: '100000',
      WS_CONNECT_RATE_PER_MIN: '100000',
      REPLAY_SIZE: '5',
      MOOD_WINDOW_S: '1',
      MOOD_LONG_WINDOW_S: '10',
      MOOD_TICK_MS: '200',
      WS_MAX_FRAME_BYTES: '4096',
      MAX_TEXT_LENGTH: '1000',
      WS_MAX_BACKPRESSURE: '65536',
    });
    [alice, bob, carol, admin] = await Promise.all([
      account(s.url, 'alice'),
      account(s.url, 'bob'),
      account(s.url, 'carol'),
      account(s.url, 'admin', 'admin-password'),
    ]);
    // Rooms exist only through the API; the admin hosts these, so alice, bob and carol post without badges.
    await createRooms(s.url, admin.token, [
      'keyed',
      'fan-a',
      'fan-b',
      'fan-c',
      'batch',
      'replay',
      'recover',
      'acked',
      'mood',
      'likes',
      'anon',
      'x',
      'slow',
    ]);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await s.app.stop();
  });

  it('checks credentials during the upgrade: a bad token never gets a socket', async () => {
    await expect(WsClient.open(s.url, 'token=not-a-jwt')).rejects.toMatchObject({ status: 401 });
    await expect(WsClient.open(s.url, 'api_key=cp_nope')).rejects.toBeInstanceOf(UpgradeRefused);
    const key = await call(s.url, 'POST', '/api/v1/api-keys', {
      token: alice.token,
      body: { name: 'overlay', current_password: 'password123' },
    });
    const viaKey = await WsClient.open(s.url, `api_key=${(key.body as { key: string }).key}`);
    clients.push(viaKey);
    viaKey.send({ type: 'chat', channel: 'room:keyed', text: 'hello from an api key' });
    const own = await viaKey.nth('message', 0);
    expect(own.user).toMatchObject({ id: alice.id, name: 'alice' });
  });

  it('fans out every message to every subscriber of its channel, in publish order, sender included', async () => {
    const channels = ['room:fan-a', 'room:fan-b', 'room:fan-c'];
    const subs = await Promise.all(Array.from({ length: 12 }, () => open()));
    await Promise.all(subs.map((c, i) => c.subscribe(channels[i % 3] as string)));
    const pubA = await open(alice);
    const pubB = await open(bob);
    await pubA.subscribe('room:fan-a');
    await pubB.subscribe('room:fan-a');
    for (let i = 0; i < 15; i++) {
      pubA.send({ type: 'chat', channel: channels[i % 3], text: `a says ${i} gg` });
      pubB.send({ type: 'chat', channel: channels[i % 3], text: `b says ${i} this is awful` });
    }
    await Promise.all(subs.map((c, i) => c.until((fs) => texts(fs, channels[i % 3] as string).length >= 10, 10_000)));
    for (const ch of channels) {
      const seqs = subs.filter((_, i) => channels[i % 3] === ch).map((c) => texts(c.frames, ch));
      for (const seq of seqs) expect(seq).toEqual(seqs[0]);
      // Each sender's messages keep the order it sent them in.
      const own = (who: string) => (seqs[0] as unknown[]).filter((t) => String(t).startsWith(who));
      expect(own('a says')).toEqual(
        Array.from({ length: 15 }, (_, i) => i)
          .filter((i) => channels[i % 3] === ch)
          .map((i) => `a says ${i} gg`),
      );
      expect(own('b says')).toHaveLength(5);
    }
    const sample = subs[0]!.of('message', 'room:fan-a')[0] as Frame;
    expect(LABELS).toContain((sample.sentiment as { label: string }).label);
    expect(sample).toMatchObject({ channel: 'room:fan-a', user: { badges: [] } });
    expect(typeof sample.id).toBe('string');
    expect(typeof sample.ts).toBe('number');
    // Ids sort in publish order.
    const ids = subs[0]!.of('message', 'room:fan-a').map((f) => f.id as string);
    expect([...ids].sort()).toEqual(ids);
    await pubA.until((fs) => texts(fs, 'room:fan-a').filter((t) => String(t).startsWith('a says')).length === 5);
  });

  it('delivers a batched subscription as messages frames holding the same stream', async () => {
    const plain = await open();
    const batched = await open();
    await plain.subscribe('room:batch');
    await batched.subscribe('room:batch', true);
    const pub = await open(alice);
    for (let i = 0; i < 30; i++) pub.send({ type: 'chat', channel: 'room:batch', text: `batched line ${i}` });
    await plain.until((fs) => texts(fs, 'room:batch').length === 30, 10_000);
    await batched.until((fs) => fs.filter((f) => f.type === 'messages').flatMap((f) => f.items as Frame[]).length === 30, 10_000);
    const frames = batched.of('messages', 'room:batch');
    expect(frames.length).toBeLessThan(30); // coalesced
    expect(frames.flatMap((f) => (f.items as Frame[]).map((m) => m.text))).toEqual(texts(plain.frames, 'room:batch'));
    expect(batched.of('message')).toHaveLength(0);
  });

  it('replays the last messages of a room right after subscribed', async () => {
    const pub = await open(bob);
    for (let i = 0; i < 7; i++) pub.send({ type: 'chat', channel: 'room:replay', text: `old ${i}` });
    await pub.until((fs) => texts(fs, 'room:replay').length === 7);
    const late = await open();
    const sub = await late.subscribe('room:replay');
    expect(sub.type).toBe('subscribed');
    await late.until((fs) => texts(fs, 'room:replay').length === 5);
    const idx = late.frames.indexOf(sub);
    expect(late.frames.slice(idx + 1, idx + 6).map((f) => f.text)).toEqual(['old 2', 'old 3', 'old 4', 'old 5', 'old 6']);
    const lateBatch = await open();
    await lateBatch.subscribe('room:replay', true);
    const replayed = await lateBatch.nth('messages', 0);
    expect((replayed.items as Frame[]).map((f) => f.text)).toEqual(['old 2', 'old 3', 'old 4', 'old 5', 'old 6']);
  });

  it('recovers what a client missed: every message after its offset, then live ones, none twice', async () => {
    const pub = await open(bob);
    pub.send({ type: 'chat', channel: 'room:recover', text: 'seen 0' });
    await pub.until((fs) => texts(fs, 'room:recover').length === 1);
    const first = await open();
    const sub = await first.subscribe('room:recover');
    await first.until((fs) => texts(fs, 'room:recover').length === 1);
    const anyEpoch: unknown = expect.any(String);
    expect(sub).toMatchObject({ offset: 1, epoch: anyEpoch });
    const seen = { offset: first.of('message', 'room:recover')[0]?.offset as number, epoch: sub.epoch as string };
    first.close();
    // Published while the client is away: more than REPLAY_SIZE (5), so replay alone would lose some.
    for (let i = 1; i <= 8; i++) pub.send({ type: 'chat', channel: 'room:recover', text: `missed ${i}` });
    await pub.until((fs) => texts(fs, 'room:recover').length === 9);

    for (const batch of [false, true]) {
      const back = await open();
      const again = await back.subscribe('room:recover', batch, seen);
      expect(again).toMatchObject({ recovered: true, offset: batch ? 10 : 9, epoch: seen.epoch }); // + the first pass's live one
      pub.send({ type: 'chat', channel: 'room:recover', text: `live ${batch}` });
      const all = () => back.frames.flatMap((f) => (f.type === 'messages' ? (f.items as Frame[]) : f.type === 'message' ? [f] : []));
      await back.until(() => all().some((f) => f.text === `live ${batch}`), 5000, 'the live message');
      const got = all();
      expect(got.map((f) => f.offset)).toEqual(Array.from({ length: got.length }, (_, i) => 2 + i));
      expect(got.slice(0, 8).map((f) => f.text)).toEqual(Array.from({ length: 8 }, (_, i) => `missed ${i + 1}`));
    }
    // Another epoch cannot be recovered: said so, with the recent messages instead.
    const stale = await open();
    const epochReason: unknown = expect.stringMatching(/epoch/);
    expect(await stale.subscribe('room:recover', false, { offset: 1, epoch: 'gone' })).toMatchObject({
      recovered: false,
      reason: epochReason,
    });
  });

  it('acknowledges chat that carries a ref, once in history, and publishes a repeated ref once', async () => {
    const watcher = await open();
    await watcher.subscribe('room:acked');
    const sender = await open(carol);
    sender.send({ type: 'chat', channel: 'room:acked', text: 'sent once', ref: 'c-1' });
    const ack = await sender.nth('ack', 0);
    sender.send({ type: 'chat', channel: 'room:acked', text: 'sent once', ref: 'c-1' });
    expect(await sender.nth('ack', 1)).toEqual(ack);
    sender.send({ type: 'chat', channel: 'room:acked', text: 'next', ref: 'c-2' });
    expect(await sender.nth('ack', 2)).toMatchObject({ ref: 'c-2', offset: (ack.offset as number) + 1 });
    await watcher.until((fs) => texts(fs, 'room:acked').length === 2);
    expect(texts(watcher.frames, 'room:acked')).toEqual(['sent once', 'next']);
    expect(watcher.of('message', 'room:acked')[0]).toMatchObject({ id: ack.id, offset: ack.offset });
    // A refused one is answered with its ref.
    sender.send({ type: 'chat', channel: 'room:no-such-room', text: 'x', ref: 'c-3' });
    expect(await sender.until((fs) => fs.find((f) => f.type === 'error' && f.ref === 'c-3'))).toMatchObject({ code: 'not_found' });
    // So is one refused before it was parsed (over MAX_TEXT_LENGTH).
    sender.send({ type: 'chat', channel: 'room:acked', text: 'x'.repeat(1001), ref: 'c-4' });
    expect(await sender.until((fs) => fs.find((f) => f.type === 'error' && f.ref === 'c-4'))).toMatchObject({ type: 'error' });
  });

  it('counts viewers: on subscribe, pushed when they change, and after a disconnect', async () => {
    const first = await open();
    expect(await first.subscribe('twitch:somestreamer')).toMatchObject({ viewers: 1 });
    const second = await open();
    expect(await second.subscribe('twitch:somestreamer')).toMatchObject({ viewers: 2 });
    await first.until((fs) => fs.some((f) => f.type === 'presence' && f.viewers === 2));
    second.close();
    await first.until((fs) => fs.some((f) => f.type === 'presence' && f.viewers === 1));
    first.send({ type: 'unsubscribe', channel: 'twitch:somestreamer' });
    await first.until((fs) => fs.some((f) => f.type === 'unsubscribed'));
  });

  it('pushes mood on a tick while a channel has traffic, and stops after it', async () => {
    const watcher = await open();
    await watcher.subscribe('room:mood');
    const pub = await open(carol);
    const sent = Date.now();
    for (let i = 0; i < 6; i++) pub.send({ type: 'chat', channel: 'room:mood', text: `mood line ${i}` });
    const mood = await watcher.nth('mood', 0, 2000);
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(Object.keys(mood.counts as object).sort()).toEqual(LABELS);
    expect(mood).toMatchObject({ channel: 'room:mood', window_s: 1 });
    // The short window (1 s) may be past the burst by the time a tick sends it (quiet: null); the long one holds it.
    expect(mood.score === null || typeof mood.score === 'number').toBe(true);
    expect(typeof (mood.long as { score: unknown }).score).toBe('number');
    expect((mood.long as { window_s: number }).window_s).toBe(10);
    const total = (m: Frame) => Object.values((m.long as { counts: Record<string, number> }).counts).reduce((a, b) => a + b, 0);
    expect(total(mood)).toBe(6);
    // Traffic stopped: frames stop within the short window plus a tick or two.
    await sleep(1800);
    const count = watcher.of('mood').length;
    await sleep(1000);
    expect(watcher.of('mood').length).toBe(count);
    // The last one went out once the short window was empty: it has no score (null, quiet), the long one has.
    const last = watcher.of('mood').at(-1);
    expect(last?.score).toBeNull();
    expect(typeof (last?.long as { score: unknown }).score).toBe('number');
    // A new subscriber gets the current mood at once (the long window still holds the traffic).
    const late = await open();
    await late.subscribe('room:mood');
    const now = await late.nth('mood', 0, 500);
    expect(total(now)).toBe(6);
  });

  it('counts likes: session likes, and one like per user per message', async () => {
    const watcher = await open();
    await watcher.subscribe('room:likes');
    const a = await open(alice);
    const b = await open(bob);
    a.send({ type: 'chat', channel: 'room:likes', text: 'like this one' });
    const msg = await watcher.nth('message', 0);
    a.send({ type: 'like', channel: 'room:likes' });
    a.send({ type: 'like', channel: 'room:likes' });
    await watcher.until((fs) => fs.some((f) => f.type === 'likes' && f.total === 2));
    a.send({ type: 'like', channel: 'room:likes', message_id: msg.id });
    a.send({ type: 'like', channel: 'room:likes', message_id: msg.id });
    const dup = await a.nth('error', 0);
    expect(dup).toMatchObject({ code: 'already_liked' });
    b.send({ type: 'like', channel: 'room:likes', message_id: msg.id });
    const likes = await watcher.until((fs) => fs.find((f) => f.type === 'likes' && f.message_likes === 2));
    expect(likes).toMatchObject({ total: 4, message_id: msg.id });
    const anon = await open();
    anon.send({ type: 'like', channel: 'room:likes' });
    expect(await anon.nth('error', 0)).toMatchObject({ code: 'unauthorized' });
  });

  it('lets anonymous sockets watch but not post, and keeps ingested channels read-only', async () => {
    const anon = await open();
    anon.send({ type: 'chat', channel: 'room:anon', text: 'hi' });
    expect(await anon.nth('error', 0)).toMatchObject({ code: 'unauthorized', channel: 'room:anon' });
    const user = await open(alice);
    user.send({ type: 'chat', channel: 'twitch:somestreamer', text: 'hi' });
    user.send({ type: 'subscribe', channel: 'youtube:nope' });
    user.send({ type: 'subscribe', channel: 'room:has spaces' });
    // Ingestion publishes under lowercase names: a capitalised one would be a channel nothing reaches.
    user.send({ type: 'subscribe', channel: 'tiktok:SomeUser' });
    await user.until((fs) => fs.filter((f) => f.type === 'error').length === 4);
    expect(user.of('error').map((f) => f.code)).toEqual(['forbidden', 'invalid_channel', 'invalid_channel', 'invalid_channel']);
    expect(user.of('error')[3]?.message).toContain('"tiktok:someuser"');
  });

  it('runs rooms: windows, host and moderator badges, delete, timeout, close', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await call(s.url, 'POST', '/api/v1/rooms', {
      token: alice.token,
      body: { id: 'draw', title: 'The draw', opens_at: later },
    });
    expect(scheduled.status).toBe(201);
    expect(scheduled.body).toMatchObject({ id: 'draw', channel: 'room:draw', status: 'scheduled', owner_id: alice.id });
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: bob.token, body: { id: 'draw' } })).status).toBe(409);
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: bob.token, body: { opens_at: 'tomorrow' } })).status).toBe(400);
    const early = await open(bob);
    early.send({ type: 'chat', channel: 'room:draw', text: 'too early' });
    expect(await early.nth('error', 0)).toMatchObject({ code: 'room_not_open' });

    const created = await call(s.url, 'POST', '/api/v1/rooms', {
      token: alice.token,
      body: { id: 'show', closes_at: Date.now() + 3_600_000 },
    });
    expect(created.body).toMatchObject({ status: 'open' });
    expect((await call(s.url, 'GET', '/api/v1/rooms/show', { token: bob.token })).body).toMatchObject({ id: 'show' });
    const list = await call(s.url, 'GET', '/api/v1/rooms?limit=1', { token: bob.token });
    expect(list.body).toMatchObject({ items: [{ id: expect.any(String) as unknown }], next: expect.any(String) as unknown });
    const watcher = await open();
    await watcher.subscribe('room:show');
    const host = await open(alice);
    const viewer = await open(bob);
    const mod = await open(carol);
    expect((await call(s.url, 'POST', '/api/v1/rooms/show/moderators', { token: bob.token, body: { username: 'carol' } })).status).toBe(
      403,
    );
    expect(
      (await call(s.url, 'POST', '/api/v1/rooms/show/moderators', { token: alice.token, body: { username: 'carol' } })).body,
    ).toMatchObject({ moderators: [carol.id] });
    host.send({ type: 'chat', channel: 'room:show', text: 'welcome everyone' });
    mod.send({ type: 'chat', channel: 'room:show', text: 'be nice' });
    viewer.send({ type: 'chat', channel: 'room:show', text: 'spam spam spam' });
    await watcher.until((fs) => texts(fs, 'room:show').length === 3);
    const [hostMsg, modMsg, spam] = watcher.of('message', 'room:show');
    expect((hostMsg!.user as { badges: string[] }).badges).toEqual(['host']);
    expect((modMsg!.user as { badges: string[] }).badges).toEqual(['moderator']);
    expect((spam!.user as { badges: string[] }).badges).toEqual([]);

    expect((await call(s.url, 'DELETE', `/api/v1/rooms/show/messages/${spam!.id as string}`, { token: bob.token })).status).toBe(403);
    expect((await call(s.url, 'DELETE', `/api/v1/rooms/show/messages/${spam!.id as string}`, { token: carol.token })).status).toBe(204);
    expect(await watcher.nth('delete', 0)).toMatchObject({ channel: 'room:show', message_id: spam!.id });
    const fresh = await open();
    await fresh.subscribe('room:show');
    await fresh.until((fs) => texts(fs, 'room:show').length === 2);
    await sleep(100);
    expect(texts(fresh.frames, 'room:show')).toEqual(['welcome everyone', 'be nice']);

    const to = await call(s.url, 'POST', '/api/v1/rooms/show/timeouts', { token: carol.token, body: { user_id: bob.id, duration_s: 60 } });
    expect(to.status).toBe(200);
    expect(
      (await call(s.url, 'POST', '/api/v1/rooms/show/timeouts', { token: carol.token, body: { user_id: alice.id, duration_s: 60 } }))
        .status,
    ).toBe(403);
    viewer.send({ type: 'chat', channel: 'room:show', text: 'let me talk' });
    const timedOut = await viewer.until((fs) => fs.find((f) => f.type === 'error' && f.code === 'timed_out'));
    expect(timedOut.retry_after_ms).toBeGreaterThan(50_000);

    expect((await call(s.url, 'POST', '/api/v1/rooms/show/close', { token: carol.token })).status).toBe(403);
    const adminWs = await open(admin);
    adminWs.send({ type: 'chat', channel: 'room:show', text: 'admin here' });
    const adminMsg = await watcher.until((fs) => fs.find((f) => f.type === 'message' && f.text === 'admin here'));
    expect((adminMsg.user as { badges: string[] }).badges).toEqual(['admin']);
    const closed = await call(s.url, 'POST', '/api/v1/rooms/show/close', { token: alice.token });
    expect(closed.body).toMatchObject({ status: 'closed' });
    expect(await watcher.nth('closed', 0)).toMatchObject({ channel: 'room:show' });
    host.send({ type: 'chat', channel: 'room:show', text: 'after close' });
    expect(await host.until((fs) => fs.find((f) => f.type === 'error'))).toMatchObject({ code: 'room_closed' });
  });

  it('answers malformed frames with error frames and keeps the connection', async () => {
    const c = await open(alice);
    c.send('{not json');
    c.send('[1,2]');
    c.send({ type: 'dance' });
    c.send({ type: 'chat', channel: 'room:x' });
    c.send({ type: 'chat', channel: 'room:x', text: '   ' });
    c.send({ type: 'chat', channel: 'room:x', text: 'x'.repeat(1001) });
    c.send({ type: 'subscribe', channel: 'room:x', extra: 1 });
    c.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await c.until((fs) => fs.filter((f) => f.type === 'error').length === 8);
    expect(c.of('error').map((f) => f.code)).toEqual([
      'invalid_json',
      'invalid_json',
      'unknown_type',
      'invalid_frame',
      'empty_text',
      'text_too_long',
      'invalid_frame',
      'unsupported',
    ]);
    c.send({ type: 'ping' });
    await c.nth('pong', 0);
  });

  it('closes a socket that sends a frame over the size limit (1009), and cuts one far over it', async () => {
    const c = await open(alice);
    c.send({ type: 'chat', channel: 'room:x', text: 'y'.repeat(5000) });
    expect(await c.closed()).toBe(1009);
    const huge = await open(alice);
    huge.send('y'.repeat(20_000));
    expect(await huge.closed()).toBe(1006);
  });

  it('drops a deliberately slow reader while the other subscribers keep receiving', async () => {
    const slow = await open();
    const fast = await open();
    await slow.subscribe('room:slow');
    await fast.subscribe('room:slow');
    // Stop reading: the kernel's buffers fill (a few MB on loopback), then the server's send buffer passes
    // maxBackpressure (64 KiB here) and uWS drops the socket. One text, so the engine's cache answers.
    slow.socket.pause();
    const pub = await open(alice);
    const text = 'z'.repeat(990);
    const n = 6000;
    const before = s.app.ws.counters.closedAbnormal;
    // Paced in steps the fast reader keeps up with: this process both sends and reads, and a burst of all
    // 6,000 at once can starve the fast reader on a busy machine until it too passes maxBackpressure.
    const received = () => fast.of('message', 'room:slow').length;
    for (let sent = 0; sent < n;) {
      for (const end = sent + 50; sent < end; sent++) pub.send({ type: 'chat', channel: 'room:slow', text });
      await fast.until(() => received() >= sent || undefined, 30_000, `${sent} messages on the fast reader`);
    }
    await pub.until(() => s.app.ws.counters.closedAbnormal > before || undefined, 5000, 'slow consumer dropped');
    const ids = fast.of('message', 'room:slow').map((f) => f.id as string);
    expect(new Set(ids).size).toBe(n);
    expect([...ids].sort()).toEqual(ids);
    slow.socket.resume();
    expect(await slow.closed()).toBe(1006);
    expect(slow.of('message', 'room:slow').length).toBeLessThan(n);
  });
});

describe('websocket protection', () => {
  it('rate-limits chat per user with retry_after_ms and closes sustained abuse with 1008', async () => {
    const s = await startServer({ CHAT_RATE_PER_30S: '3', WS_ABUSE_STRIKES: '4', WS_FRAME_RATE_PER_10S: '1000' });
    try {
      const u = await account(s.url, 'chatty');
      await createRooms(s.url, u.token, ['r']);
      const c = await WsClient.open(s.url, `token=${u.token}`);
      for (let i = 0; i < 4; i++) c.send({ type: 'chat', channel: 'room:r', text: `m${i}` });
      const err = await c.nth('error', 0);
      expect(err).toMatchObject({ code: 'rate_limited' });
      expect(err.retry_after_ms).toBeGreaterThan(0);
      await c.nth('message', 2);
      await sleep(100);
      expect(c.of('message')).toHaveLength(3);
      for (let i = 0; i < 10; i++) c.send({ type: 'chat', channel: 'room:r', text: `again ${i}` });
      expect(await c.closed()).toBe(1008);
      expect(s.app.ws.counters.closedAbuse).toBe(1);
    } finally {
      await s.app.stop();
    }
  });

  it('caps connections per process (503, still ready: REST goes on) and per IP rate (429), and refuses unknown rooms', async () => {
    const s = await startServer({ WS_MAX_CONNECTIONS: '2', WS_CONNECT_RATE_PER_MIN: '3' });
    try {
      const a = await WsClient.open(s.url);
      const b = await WsClient.open(s.url);
      await expect(WsClient.open(s.url)).rejects.toMatchObject({ status: 503 });
      // Issue 14: a pod at its socket cap stays in the load balancer (it still serves REST).
      expect((await call(s.url, 'GET', '/ready')).status).toBe(200);
      b.close();
      await b.closed();
      await a.subscribe('room:nowhere');
      expect(a.of('error')[0]).toMatchObject({ code: 'not_found', channel: 'room:nowhere' });
      expect((await call(s.url, 'GET', '/ready')).status).toBe(200);
      const c = await WsClient.open(s.url);
      c.close();
      await c.closed();
      await expect(WsClient.open(s.url)).rejects.toMatchObject({ status: 429 });
      a.close();
    } finally {
      await s.app.stop();
    }
  });
});
