// The room lifecycle end to end (API-CONTRACT "Social rooms"): real servers, real `ws` clients. One process:
// active -> countdown (REST) -> decision -> kept -> active, ended by a `false` decision and by nobody
// answering, frames on the channel and notifications to each member, GET showing the state, and the refusals.
// Two processes on a real redis-server: every change delivered once to subscribers of both, and a room whose
// creating process was killed with -9 still reaching `ended` (advanced by the survivor's sweeper).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/auth/index.js';
import type { PlainEvent } from '../src/channels/bus.js';
import { RoomLifecycleService } from '../src/channels/room-lifecycle.js';
import { MemoryRoomStore, privateRoom, type RoomRecord, type RoomStore } from '../src/channels/rooms.js';
import { createLogger } from '../src/observability/log.js';
import { call, ROBERTA, startServer, type TestServer } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { account, WsClient, type Account, type Frame } from './ws-client.js';

// Short enough to run whole lifecycles in seconds, long enough for a test to act inside `active`.
const DURATIONS = { ROOM_ACTIVE_S: '3', ROOM_COUNTDOWN_S: '1', ROOM_DECISION_S: '2', ROOM_SWEEP_MS: '100' };

const states = (ws: WsClient, channel: string) => ws.of('room_state', channel).map((f) => f.state);
const notified = (ws: WsClient, room: string) =>
  ws
    .of('notification')
    .filter((f) => f.kind === 'room_state' && (f.data as { room?: string }).room === `room:${room}`)
    .map((f) => (f.data as { state: string }).state);
const waitState = (ws: WsClient, channel: string, state: string, n = 1, timeoutMs = 8000) =>
  ws.until((fs) => fs.filter((f) => f.type === 'room_state' && f.channel === channel && f.state === state).length >= n, timeoutMs, state);

describe('RoomLifecycleService over one store (several processes sweeping, members deciding at once)', () => {
  const published: PlainEvent[] = [];
  const notes: Array<[string, Record<string, unknown>]> = [];
  const make = (store: RoomStore) =>
    new RoomLifecycleService(
      {
        store,
        bus: { publish: (e) => void published.push(e) },
        notifier: { notify: (userId, _kind, data) => void notes.push([userId, data]) },
        log: createLogger('silent'),
      },
      { activeMs: 60_000, countdownMs: 60_000, decisionMs: 60_000, tickMs: 1000 },
    );
  const roomStates = () => published.flatMap((e) => (e.kind === 'frame' ? [(JSON.parse(e.frame) as { state: string }).state] : [e.kind]));
  const principal = (userId: string): Principal => ({ userId, username: userId, role: 'user', via: 'jwt' });

  it('advances a due room once however many sweepers race, and keeps it only when both members decided', async () => {
    const store = new MemoryRoomStore();
    const now = Date.now();
    await store.create(
      privateRoom('pair', ['u1', 'u2'], 'pair', now, { lifecycle: { state: 'countdown', endsAt: now - 1, decisions: {}, seq: 4 } }),
    );
    const sweepers = Array.from({ length: 5 }, () => make(store));
    const moved = await Promise.all(sweepers.map((s) => s.sweep(now)));
    expect(moved.reduce((a, b) => a + b, 0)).toBe(1);
    expect(roomStates()).toEqual(['decision']);
    expect(notes.map(([u, d]) => [u, d.state])).toEqual([
      ['u1', 'decision'],
      ['u2', 'decision'],
    ]);
    await expect((sweepers[0] as RoomLifecycleService).decide(principal('u3'), 'pair', true)).rejects.toMatchObject({ code: 'not_member' });
    // Both members keep at the same moment, on different processes: neither decision is lost, `kept` once.
    await Promise.all([
      (sweepers[1] as RoomLifecycleService).decide(principal('u1'), 'pair', true),
      (sweepers[2] as RoomLifecycleService).decide(principal('u2'), 'pair', true),
    ]);
    expect(roomStates()).toEqual(['decision', 'kept', 'active']);
    const room = (await store.get('pair')) as RoomRecord;
    expect(room.lifecycle).toMatchObject({ state: 'active', decisions: {}, seq: 7 });
  });
});

describe('room lifecycle, one process', () => {
  let s: TestServer;
  let alice: Account;
  let bob: Account;
  let carol: Account;
  let a: WsClient;
  let b: WsClient;
  let c: WsClient;
  const sockets: WsClient[] = [];
  const open = async (who: Account) => {
    const ws = await WsClient.open(s.url, `token=${who.token}`);
    sockets.push(ws);
    return ws;
  };
  const room = async (id: string) =>
    (await call(s.url, 'GET', `/api/v1/rooms/${id}`, { token: carol.token })).body as Record<string, unknown>;

  beforeAll(async () => {
    s = await startServer(DURATIONS);
    alice = await account(s.url, 'alice');
    bob = await account(s.url, 'bob');
    carol = await account(s.url, 'carol');
    [a, b, c] = [await open(alice), await open(bob), await open(carol)];
  });

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    await s.app.stop();
  });

  /** A lifecycle room hosted by alice with bob as moderator (the members), subscribed by all three. */
  async function lifecycleRoom(id: string): Promise<string> {
    const created = await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id, lifecycle: true } });
    expect(created.status).toBe(201);
    const endsAt = Date.parse((created.body as { state_ends_at: string }).state_ends_at);
    expect(created.body).toMatchObject({ state: 'active', status: 'open' });
    expect(endsAt - Date.now()).toBeGreaterThan(2000);
    expect(endsAt - Date.now()).toBeLessThanOrEqual(3000);
    expect((await call(s.url, 'POST', `/api/v1/rooms/${id}/moderators`, { token: alice.token, body: { username: 'bob' } })).status).toBe(
      200,
    );
    for (const ws of [a, b, c]) await ws.subscribe(`room:${id}`);
    return `room:${id}`;
  }

  it('goes active -> countdown (REST) -> decision -> kept -> active, with frames, notifications and GET', async () => {
    const ch = await lifecycleRoom('cycle');
    // Only members start the countdown.
    const refused = await call(s.url, 'POST', '/api/v1/rooms/cycle/countdown', { token: carol.token });
    expect([refused.status, (refused.body as { error: { code: string } }).error.code]).toEqual([403, 'not_member']);

    const started = await call(s.url, 'POST', '/api/v1/rooms/cycle/countdown', { token: bob.token });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ state: 'countdown' });
    await waitState(c, ch, 'countdown');
    const frame = c.of('room_state', ch)[0] as Frame;
    expect(frame).toEqual({
      type: 'room_state',
      channel: ch,
      state: 'countdown',
      ends_at: Date.parse((started.body as { state_ends_at: string }).state_ends_at),
    });
    expect((await room('cycle')).state).toBe('countdown');
    // A second countdown is refused: the room is not active any more.
    const again = await call(s.url, 'POST', '/api/v1/rooms/cycle/countdown', { token: alice.token });
    expect([again.status, (again.body as { error: { code: string } }).error.code]).toEqual([409, 'not_active']);

    // The sweeper ends the countdown (1 s): decision for 2 s.
    await waitState(a, ch, 'decision');
    expect((await room('cycle')).state).toBe('decision');
    c.send({ type: 'decide', channel: ch, keep: true });
    expect(await c.until((fs) => fs.find((f) => f.type === 'error' && f.channel === ch), 5000)).toMatchObject({ code: 'not_member' });
    a.send({ type: 'decide', channel: ch, keep: true });
    const kept = await call(s.url, 'POST', '/api/v1/rooms/cycle/decision', { token: bob.token, body: { keep: true } });
    // Alice's frame may still be on its way when bob's request lands: bob's answer is either the last keep or not.
    expect(kept.status).toBe(200);
    await waitState(b, ch, 'active');
    expect(states(b, ch)).toEqual(['countdown', 'decision', 'kept', 'active']);
    const active = await room('cycle');
    expect(active.state).toBe('active');
    expect(Date.parse(active.state_ends_at as string) - Date.now()).toBeGreaterThan(1500);

    // Each member was notified of every change; carol, who only watches, of none.
    for (const ws of [a, b]) await ws.until((fs) => fs.filter((f) => f.type === 'notification').length >= 4, 5000, 'notifications');
    expect(notified(a, 'cycle')).toEqual(['countdown', 'decision', 'kept', 'active']);
    expect(notified(b, 'cycle')).toEqual(['countdown', 'decision', 'kept', 'active']);
    expect(notified(c, 'cycle')).toEqual([]);
    expect(a.of('error', ch)).toEqual([]);
  });

  it('ends when a member decides false: room_state ended, closed, chat refused, GET shows ended', async () => {
    const ch = await lifecycleRoom('short');
    expect((await call(s.url, 'POST', '/api/v1/rooms/short/countdown', { token: alice.token })).status).toBe(200);
    await waitState(b, ch, 'decision');
    // Too early or too late for the other state's action.
    expect((await call(s.url, 'POST', '/api/v1/rooms/short/countdown', { token: alice.token })).status).toBe(409);
    b.send({ type: 'decide', channel: ch, keep: false });
    await waitState(a, ch, 'ended');
    await a.until((fs) => fs.find((f) => f.type === 'closed' && f.channel === ch), 5000, 'closed');
    expect(states(a, ch)).toEqual(['countdown', 'decision', 'ended']);
    expect(a.of('room_state', ch).at(-1)?.ends_at).toBeNull();
    const ended = await room('short');
    expect(ended).toMatchObject({ state: 'ended', state_ends_at: null, status: 'closed' });
    a.send({ type: 'chat', channel: ch, text: 'still there?' });
    expect(await a.until((fs) => fs.find((f) => f.type === 'error' && f.channel === ch), 5000)).toMatchObject({ code: 'room_closed' });
    const late = await call(s.url, 'POST', '/api/v1/rooms/short/decision', { token: alice.token, body: { keep: true } });
    expect([late.status, (late.body as { error: { code: string } }).error.code]).toEqual([409, 'not_in_decision']);
  });

  it('ends at once when its host closes it', async () => {
    const ch = await lifecycleRoom('shut');
    expect((await call(s.url, 'POST', '/api/v1/rooms/shut/close', { token: alice.token })).status).toBe(200);
    await waitState(b, ch, 'ended', 1, 2000);
    expect(states(b, ch)).toEqual(['ended']);
    expect(await room('shut')).toMatchObject({ state: 'ended', status: 'closed' });
    await b.until(() => notified(b, 'shut').length === 1, 5000, 'notification');
    expect(b.of('closed', ch)).toHaveLength(1);
  });

  it('ends when a member does not answer in time, and only lifecycle rooms take decisions', async () => {
    const ch = await lifecycleRoom('quiet');
    // Nobody starts the countdown: active (3 s) -> countdown (1 s) -> decision (2 s), where only alice answers.
    await waitState(a, ch, 'decision', 1, 10_000);
    a.send({ type: 'decide', channel: ch, keep: true });
    await waitState(a, ch, 'ended', 1, 10_000);
    await waitState(b, ch, 'ended');
    await b.until(() => notified(b, 'quiet').length >= 3, 5000, 'notifications');
    expect(states(b, ch)).toEqual(['countdown', 'decision', 'ended']);
    expect(notified(b, 'quiet')).toEqual(['countdown', 'decision', 'ended']);
    expect((await room('quiet')).state).toBe('ended');

    const plain = await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id: 'plain' } });
    expect(plain.body).not.toHaveProperty('state');
    a.send({ type: 'decide', channel: 'room:plain', keep: true });
    expect(await a.until((fs) => fs.find((f) => f.type === 'error' && f.channel === 'room:plain'), 5000)).toMatchObject({
      code: 'not_lifecycle_room',
    });
    const rest = await call(s.url, 'POST', '/api/v1/rooms/plain/countdown', { token: alice.token });
    expect([rest.status, (rest.body as { error: { code: string } }).error.code]).toEqual([409, 'not_lifecycle_room']);
  });
});

describe('room lifecycle across processes (redis)', () => {
  const SECRET = 'lifecycle-secret-lifecycle-secret-0123456789';
  let redis: RedisServer;
  let hostA: ServerProcess;
  let b: TestServer;
  let alice: Account;
  let bob: Account;
  const sockets: WsClient[] = [];
  const open = async (url: string, who: Account) => {
    const ws = await WsClient.open(url, `token=${who.token}`);
    sockets.push(ws);
    return ws;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    const env = { REDIS_URL: redis.url, JWT_SECRET: SECRET, ...DURATIONS };
    hostA = await spawnServer({ ...env, INFERENCE_THREADS: '1', MODEL_DIR: ROBERTA });
    b = await startServer(env);
    alice = await account(hostA.url, 'alice');
    bob = await account(b.url, 'bob');
  }, 60_000);

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    await (b as TestServer | undefined)?.app.stop();
    // `as ... | undefined`: a beforeAll that failed part-way left it unassigned.
    const host = hostA as ServerProcess | undefined;
    if (host && host.child.exitCode === null && host.child.signalCode === null) {
      const exited = new Promise((r) => host.child.once('exit', r));
      host.child.kill('SIGKILL');
      await exited;
    }
    await (redis as RedisServer | undefined)?.stop();
  });

  it('announces every change once on both processes, decisions taken on either', async () => {
    const created = await call(hostA.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id: 'shared', lifecycle: true } });
    expect(created.status).toBe(201);
    expect((await call(b.url, 'POST', '/api/v1/rooms/shared/moderators', { token: alice.token, body: { username: 'bob' } })).status).toBe(
      200,
    );
    const onA = await open(hostA.url, alice);
    const onB = await open(b.url, bob);
    for (const ws of [onA, onB]) await ws.subscribe('room:shared');
    expect((await call(b.url, 'POST', '/api/v1/rooms/shared/countdown', { token: bob.token })).status).toBe(200);
    await waitState(onA, 'room:shared', 'decision');
    expect((await call(b.url, 'GET', '/api/v1/rooms/shared', { token: bob.token })).body).toMatchObject({ state: 'decision' });
    onA.send({ type: 'decide', channel: 'room:shared', keep: true });
    expect((await call(b.url, 'POST', '/api/v1/rooms/shared/decision', { token: bob.token, body: { keep: true } })).status).toBe(200);
    await waitState(onB, 'room:shared', 'active');
    await waitState(onA, 'room:shared', 'active');
    // Both sweepers saw the countdown end; one made the change, and it was announced once.
    for (const ws of [onA, onB]) expect(states(ws, 'room:shared')).toEqual(['countdown', 'decision', 'kept', 'active']);
    await onB.until((fs) => fs.filter((f) => f.type === 'notification').length >= 4, 5000, 'notifications');
    expect(notified(onB, 'shared')).toEqual(['countdown', 'decision', 'kept', 'active']);
  });

  it('a room whose creating process was killed with -9 still reaches ended, advanced by the other process', async () => {
    const created = await call(hostA.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id: 'orphan', lifecycle: true } });
    expect(created.status).toBe(201);
    const watcher = await open(b.url, bob);
    await watcher.subscribe('room:orphan');
    const exited = new Promise((r) => hostA.child.once('exit', r));
    hostA.child.kill('SIGKILL');
    await exited;
    // active (3 s) -> countdown (1 s) -> decision (2 s) -> ended, nobody left on host A to do it.
    await waitState(watcher, 'room:orphan', 'ended', 1, 15_000);
    expect(states(watcher, 'room:orphan')).toEqual(['countdown', 'decision', 'ended']);
    await watcher.until((fs) => fs.find((f) => f.type === 'closed' && f.channel === 'room:orphan'), 5000, 'closed');
    expect((await call(b.url, 'GET', '/api/v1/rooms/orphan', { token: bob.token })).body).toMatchObject({
      state: 'ended',
      status: 'closed',
    });
  });
});
