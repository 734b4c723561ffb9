// Matching end to end: real servers, real `ws` clients, the REST routes; on one process (memory drivers) and
// across two processes sharing a real redis-server (one spawned from dist/, one in this process). Plus the
// MatchService over a real memory queue with a controlled clock: the score, the relaxation, and concurrent ticks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { MatchedNotification, MatchQueuedReply, MatchTicketReply } from '../src/contract/index.js';
import { MatchService, type MatchedPair } from '../src/social/service.js';
import { MemoryMatchQueue, type MatchTicket } from '../src/social/queue.js';
import { compatibility, threshold } from '../src/social/score.js';
import { UserMoods } from '../src/social/moods.js';
import { MemoryRoomStore, privateRoom } from '../src/channels/rooms.js';
import { call, ROBERTA, startServer, type TestServer } from './helpers.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { account, WsClient, type Account, type Frame } from './ws-client.js';

const SECRET = 'match-secret-match-secret-match-secret-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Matched {
  room: string;
  partner: { id: string; name: string };
  score: number;
}
const matchedOf = (fs: Frame[]): Matched[] =>
  fs.filter((f) => f.type === 'notification' && f.kind === 'matched').map((f) => f.data as Matched);

describe('matching on one process', () => {
  let s: TestServer;
  const clients: WsClient[] = [];
  const open = async (who: Account) => {
    const c = await WsClient.open(s.url, `token=${who.token}`);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    s = await startServer({ MATCH_TICK_MS: '50', MATCH_GRACE_MS: '1000' });
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await s.app.stop();
  });

  it('pairs two queued users into one private room only they may post to', async () => {
    const [alice, bob, carol] = await Promise.all([account(s.url, 'm_alice'), account(s.url, 'm_bob'), account(s.url, 'm_carol')]);
    const [wa, wb, wc] = await Promise.all([open(alice), open(bob), open(carol)]);
    const q = await call(s.url, 'POST', '/api/v1/match', {
      token: alice.token,
      body: { interests: ['Chess', 'chess', 'go'], languages: ['en'] },
    });
    expect(q.status).toBe(202);
    expect(q.body).toMatchObject({ position: 1 });
    expect(typeof (q.body as { ticket: unknown }).ticket).toBe('string');
    expect(
      (await call(s.url, 'POST', '/api/v1/match', { token: bob.token, body: { interests: ['chess'], languages: ['en', 'fr'] } })).status,
    ).toBe(202);
    const [ma] = await wa.until((fs) => matchedOf(fs).length > 0 && matchedOf(fs), 5000, 'matched');
    const [mb] = await wb.until((fs) => matchedOf(fs).length > 0 && matchedOf(fs), 5000, 'matched');
    expect(ma?.room).toMatch(/^room:[0-9a-z]+$/);
    expect(mb?.room).toBe(ma?.room);
    expect(ma?.partner).toEqual({ id: bob.id, name: 'm_bob' });
    expect(mb?.partner).toEqual({ id: alice.id, name: 'm_alice' });
    // interests: {chess, go} vs {chess} = 1/2; languages shared = 1; no recent chat: mood neutral 0.5.
    expect(ma?.score).toBe(0.5 * 0.5 + 0.3 * 1 + 0.2 * 0.5);
    expect(Value.Check(MatchedNotification, ma)).toBe(true);
    expect(Value.Check(MatchQueuedReply, q.body)).toBe(true);
    expect(matchedOf(wc.frames)).toEqual([]);
    // Both left the queue.
    expect((await call(s.url, 'GET', '/api/v1/match', { token: alice.token })).status).toBe(404);

    const room = ma?.room as string;
    const roomId = room.slice('room:'.length);
    const view = await call(s.url, 'GET', `/api/v1/rooms/${roomId}`, { token: alice.token });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id: roomId, owner_id: null });
    for (const c of [wa, wb, wc]) expect((await c.subscribe(room)).type).toBe('subscribed'); // others may read
    wa.send({ type: 'chat', channel: room, text: 'hi bob, good game', ref: 'a1' });
    expect(await wa.until((fs) => fs.find((f) => f.type === 'ack' && f.ref === 'a1'))).toBeTruthy();
    wb.send({ type: 'chat', channel: room, text: 'hi alice', ref: 'b1' });
    expect(await wb.until((fs) => fs.find((f) => f.type === 'ack' && f.ref === 'b1'))).toBeTruthy();
    wc.send({ type: 'chat', channel: room, text: 'let me in', ref: 'c1' });
    expect(await wc.until((fs) => fs.find((f) => f.type === 'error' && f.ref === 'c1'))).toMatchObject({ code: 'not_member' });
    await wc.until((fs) => fs.filter((f) => f.type === 'message' && f.channel === room).length >= 2, 5000, 'both messages');
    expect(wc.of('message', room).map((f) => (f.user as { id: string }).id)).toEqual([alice.id, bob.id]);
  });

  it('shows, replaces and leaves a ticket; refuses malformed bodies', async () => {
    const dave = await account(s.url, 'm_dave');
    await open(dave);
    const first = await call(s.url, 'POST', '/api/v1/match', { token: dave.token, body: { interests: ['Music'] } });
    const got = await call(s.url, 'GET', '/api/v1/match', { token: dave.token });
    expect(got.status).toBe(200);
    expect(Value.Check(MatchTicketReply, got.body)).toBe(true);
    expect(Date.parse((got.body as { queued_at: string }).queued_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(got.body).toEqual({
      ticket: (first.body as { ticket: string }).ticket,
      position: 1,
      queued_at: (got.body as { queued_at: string }).queued_at,
      interests: ['music'],
      languages: [],
    });
    const again = await call(s.url, 'POST', '/api/v1/match', { token: dave.token, body: { languages: ['pt-BR'] } });
    expect(again.status).toBe(202);
    expect((again.body as { ticket: string }).ticket).not.toBe((first.body as { ticket: string }).ticket);
    expect((await call(s.url, 'GET', '/api/v1/match', { token: dave.token })).body).toMatchObject({
      interests: [],
      languages: ['pt-br'],
      position: 1,
    });
    expect((await call(s.url, 'DELETE', '/api/v1/match', { token: dave.token })).status).toBe(204);
    expect((await call(s.url, 'DELETE', '/api/v1/match', { token: dave.token })).status).toBe(404);
    expect((await call(s.url, 'GET', '/api/v1/match', { token: dave.token })).status).toBe(404);
    // An empty body queues with nothing said.
    expect((await call(s.url, 'POST', '/api/v1/match', { token: dave.token })).status).toBe(202);
    expect((await call(s.url, 'DELETE', '/api/v1/match', { token: dave.token })).status).toBe(204);

    const bad = async (body: unknown) => (await call(s.url, 'POST', '/api/v1/match', { token: dave.token, body })).status;
    expect(await bad({ languages: ['english!'] })).toBe(400);
    expect(await bad({ interests: [''] })).toBe(400);
    expect(await bad({ interests: 'chess' })).toBe(400);
    expect(await bad({ mood: 1 })).toBe(400);
    expect(await bad({ interests: Array.from({ length: 21 }, (_, i) => `t${i}`) })).toBe(413);
    expect(await bad({ interests: ['x'.repeat(33)] })).toBe(413);
    expect((await call(s.url, 'POST', '/api/v1/match', { body: {} })).status).toBe(401);
    expect((await call(s.url, 'GET', '/api/v1/match', { token: dave.token })).status).toBe(404);
  });

  it('drops the ticket of a user whose sockets all closed, after the grace', async () => {
    const erin = await account(s.url, 'm_erin');
    const we = await open(erin);
    expect((await call(s.url, 'POST', '/api/v1/match', { token: erin.token, body: {} })).status).toBe(202);
    await sleep(1500); // past the grace: still here, the socket keeps it alive
    expect((await call(s.url, 'GET', '/api/v1/match', { token: erin.token })).status).toBe(200);
    we.close();
    await we.closed();
    const deadline = Date.now() + 4000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await sleep(100);
      status = (await call(s.url, 'GET', '/api/v1/match', { token: erin.token })).status;
    }
    expect(status).toBe(404);
  });
});

describe('MatchService over a real memory queue', () => {
  const ticket = (userId: string, queuedAt: number, extra: Partial<MatchTicket> = {}): MatchTicket => ({
    ticket: `t-${userId}`,
    userId,
    name: userId,
    interests: [],
    languages: [],
    mood: null,
    queuedAt,
    ...extra,
  });

  const service = (queue: MemoryMatchQueue, rooms: MemoryRoomStore, notes: Array<[string, Record<string, unknown>]>) =>
    new MatchService(
      {
        queue,
        rooms: {
          createPrivate: async (id, members, title) => {
            const room = privateRoom(id, members, title, Date.now());
            await rooms.create(room);
            return room;
          },
        },
        notifier: { notify: (userId, _kind, data) => void notes.push([userId, data]) },
        moods: new UserMoods(),
      },
      { tickMs: 1000, relaxMs: 30_000, graceMs: 10_000 },
    );

  it('scores interests, languages and moods, and waits for a good enough pair until the wait relaxes it', async () => {
    const a = ticket('a', 0, { interests: ['chess'], languages: ['en'], mood: 0.8 });
    const b = ticket('b', 0, { interests: ['cooking'], languages: ['de'], mood: -0.8 });
    // 0.5 * 0 + 0.3 * 0 + 0.2 * (1 - 1.6 / 2)
    expect(compatibility(a, b)).toBe(0.04);
    expect(compatibility(a, { ...b, interests: ['chess'], languages: ['en'], mood: 0.8 })).toBe(1);
    expect(threshold(a, b, 0, 30_000)).toBe(0.5);
    expect(threshold(a, b, 15_000, 30_000)).toBe(0.25);
    expect(threshold(a, b, 30_000, 30_000)).toBe(0);

    const queue = new MemoryMatchQueue();
    const notes: Array<[string, Record<string, unknown>]> = [];
    const svc = service(queue, new MemoryRoomStore(), notes);
    await queue.enqueue(a);
    await queue.enqueue(b);
    expect(await svc.tick(1000)).toEqual([]);
    expect(await svc.tick(20_000)).toEqual([]); // the bar is 0.5 * (1 - 20/30) = 0.167 > 0.04
    expect(await svc.tick(28_000)).toHaveLength(1); // 0.5 * (1 - 28/30) = 0.033 <= 0.04
    expect(await queue.size()).toBe(0);
    expect(notes.map(([u]) => u).sort()).toEqual(['a', 'b']);
  });

  it('prefers the best partner: a newcomer who shares everything beats one who shares nothing', async () => {
    const queue = new MemoryMatchQueue();
    const notes: Array<[string, Record<string, unknown>]> = [];
    const svc = service(queue, new MemoryRoomStore(), notes);
    await queue.enqueue(ticket('a', 0, { interests: ['chess'], languages: ['en'] }));
    await queue.enqueue(ticket('b', 0, { interests: ['cooking'], languages: ['de'] }));
    await queue.enqueue(ticket('c', 0, { interests: ['chess'], languages: ['en'] }));
    const [pair] = await svc.tick(100);
    expect([pair?.a.userId, pair?.b.userId]).toEqual(['a', 'c']);
    expect((await queue.waiting(10)).map((t) => t.userId)).toEqual(['b']);
  });

  it('never pairs anyone twice when several services tick the same queue at once', async () => {
    const queue = new MemoryMatchQueue();
    const rooms = new MemoryRoomStore();
    const notes: Array<[string, Record<string, unknown>]> = [];
    const services = [service(queue, rooms, notes), service(queue, rooms, notes), service(queue, rooms, notes)];
    for (let i = 0; i < 60; i++) await queue.enqueue(ticket(`u${i}`, i, { interests: [`t${i % 4}`] }));
    const pairs: MatchedPair[] = [];
    for (let round = 0; round < 5 && (await queue.size()) > 0; round++) {
      pairs.push(...(await Promise.all(services.map((s) => s.tick(40_000 + round)))).flat());
    }
    expect(await queue.size()).toBe(0);
    const users = pairs.flatMap((p) => [p.a.userId, p.b.userId]);
    expect(users).toHaveLength(60);
    expect(new Set(users).size).toBe(60);
    expect(notes).toHaveLength(60);
    expect(await rooms.count()).toBe(30);
  });

  it('copies the user recent mood into the ticket when queued', async () => {
    const moods = new UserMoods({ perUser: 3 });
    for (const p of [1, 0.5, 0, -0.5]) moods.record('a', p, 1000);
    expect(moods.mood('a', 1000)).toBe(0); // the last three: (0.5 + 0 - 0.5) / 3
    const queue = new MemoryMatchQueue();
    const svc = new MatchService(
      {
        queue,
        rooms: { createPrivate: async (id, members, title) => privateRoom(id, members, title, 0) },
        notifier: { notify: () => undefined },
        moods,
      },
      { tickMs: 1000, relaxMs: 30_000, graceMs: 10_000 },
    );
    moods.record('b', 0.9, Date.now());
    const { ticket: t } = await svc.enqueue({ userId: 'b', username: 'bee' }, { interests: [], languages: [] });
    expect(t.mood).toBe(0.9);
  });
});

describe('matching across processes on a real redis-server', () => {
  let redis: RedisServer;
  let a: ServerProcess;
  let b: TestServer;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    const env = { REDIS_URL: redis.url, JWT_SECRET: SECRET, MATCH_TICK_MS: '50' };
    [a, b] = await Promise.all([spawnServer({ ...env, WORKERS: '1', INFERENCE_THREADS: '1', MODEL_DIR: ROBERTA }), startServer(env)]);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await (b as TestServer | undefined)?.app.stop();
    const host = a as ServerProcess | undefined;
    if (host && host.child.exitCode === null) {
      const exited = new Promise((r) => host.child.once('exit', r));
      host.child.kill('SIGKILL');
      await exited;
    }
    await (redis as RedisServer | undefined)?.stop();
  });

  it('pairs users queued on different processes, each exactly once, under both processes ticking', async () => {
    const n = 12;
    const users = await Promise.all(Array.from({ length: n }, (_, i) => account(i % 2 === 0 ? a.url : b.url, `x_user${i}`)));
    const urlOf = (i: number) => (i % 2 === 0 ? a.url : b.url);
    const sockets = await Promise.all(users.map((u, i) => WsClient.open(urlOf(i), `token=${u.token}`)));
    clients.push(...sockets);
    await Promise.all(
      users.map(async (u, i) => {
        // Users 2k (on A) and 2k+1 (on B) share a topic no one else has: their pair scores best.
        const res = await call(urlOf(i), 'POST', '/api/v1/match', { token: u.token, body: { interests: [`topic${Math.floor(i / 2)}`] } });
        expect(res.status).toBe(202);
      }),
    );
    // Everyone hears of exactly one pair (the relaxation pairs the last ones whatever their topics).
    const got = await Promise.all(sockets.map((ws) => ws.until((fs) => matchedOf(fs)[0], 40_000, 'matched')));
    await sleep(500); // a second `matched` would have arrived by now
    sockets.forEach((ws) => expect(matchedOf(ws.frames)).toHaveLength(1));
    const byRoom = new Map<string, string[]>();
    got.forEach((m, i) => byRoom.set(m.room, [...(byRoom.get(m.room) ?? []), users[i]!.id]));
    expect(byRoom.size).toBe(n / 2);
    got.forEach((m, i) => {
      const members = byRoom.get(m.room)!;
      expect(members).toHaveLength(2);
      expect(members).toContain(m.partner.id);
      expect(m.partner.id).not.toBe(users[i]!.id);
    });
    // A pair across the two processes exists (even users are on A, odd ones on B).
    const idx = new Map(users.map((u, i) => [u.id, i]));
    expect([...byRoom.values()].some(([x, y]) => (idx.get(x!)! + idx.get(y!)!) % 2 === 1)).toBe(true);
    // The room is shared state: a member posts through the other process.
    const [first] = got;
    const partnerIdx = idx.get(first!.partner.id)!;
    const other = WsClient.open(urlOf(partnerIdx + 1), `token=${users[partnerIdx]!.token}`);
    const ws = await other;
    clients.push(ws);
    ws.send({ type: 'chat', channel: first!.room, text: 'across processes', ref: 'x1' });
    expect(await ws.until((fs) => fs.find((f) => (f.type === 'ack' || f.type === 'error') && f.ref === 'x1'))).toMatchObject({
      type: 'ack',
    });
  }, 60_000);
});
