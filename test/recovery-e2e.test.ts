// Issue 17, end to end: `node dist/src/main.js` with WORKERS=2 over a real redis-server, an SDK subscriber on
// one worker and a publisher posting acked chats without pause. The worker holding the subscriber's socket is
// killed with -9 (the primary restarts it), or drained with SIGTERM; the client reconnects to whichever
// worker answers, resubscribes with `since`, and ends with every published message exactly once, in order.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatAck, LiveConnection, MessageFrame } from '../src/client/index.js';
import { createRooms, ROBERTA } from './helpers.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { clientOf, FrameLog } from './sdk.js';
import { spawnServer, type ServerProcess } from './spawn.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RECONNECT = { reconnect: { minDelayMs: 200, maxDelayMs: 1000 }, heartbeat: false } as const;

interface LogEntry {
  msg?: string;
  slot?: number;
  pid?: number;
}

/** Every message a connection delivered on a channel, in order. */
const delivered = (log: FrameLog, channel: string): MessageFrame[] =>
  log.frames.flatMap((f) =>
    f.type === 'message' && f.channel === channel ? [f] : f.type === 'messages' && f.channel === channel ? f.items : [],
  );

/** Polls until `check` passes, or fails with `what` after `timeoutMs`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('recovery across a cluster: a worker killed or drained under a subscriber', () => {
  let redis: RedisServer;
  let host: ServerProcess;
  let token: string;
  const opened: LiveConnection[] = [];

  const entries = () => host.log.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogEntry);
  /** The pid of the newest worker started in a slot. */
  const pidOf = (slot: number) =>
    entries()
      .filter((e) => e.msg === 'worker started' && e.slot === slot)
      .at(-1)?.pid;
  /** Open WebSocket connections per worker slot, as the host's /metrics reports them. */
  const connections = async (): Promise<Map<number, number>> => {
    const text = await (await fetch(`${host.url}/metrics`, { headers: { connection: 'close' } })).text();
    return new Map([...text.matchAll(/^chatpulse_ws_connections\{slot="(\d+)"\} (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]));
  };
  const total = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  /** Both workers listen (again): two slots answer the metrics scrape. */
  const bothUp = () => eventually('two workers', async () => ((await connections()).size === 2 ? true : undefined), 30_000);

  beforeAll(async () => {
    redis = await startRedisServer();
    host = await spawnServer(
      {
        WORKERS: '2',
        INFERENCE_THREADS: '1',
        MODEL_DIR: ROBERTA,
        REDIS_URL: redis.url,
        JWT_SECRET: 'recovery-e2e-secret-recovery-e2e-secret-0123',
        ADMIN_USERNAME: 'admin',
        ADMIN_PASSWORD: 'admin-password',
        CHAT_RATE_PER_30S: '100000',
        WS_FRAME_RATE_PER_10S: '100000',
        WS_CONNECT_RATE_PER_MIN: '10000',
        AUTH_RATE_PER_MIN: '10000',
        DRAIN_TIMEOUT_MS: '3000',
        // Far more than a few seconds of publishing: what is tested is exactly-once, not the history bound.
        HISTORY_SIZE: '10000',
      },
      2,
    );
    const admin = clientOf(host.url);
    await admin.auth.login('admin', 'admin-password');
    token = admin.accessToken as string;
    await createRooms(host.url, token, ['e2e-kill', 'e2e-drain']);
  }, 60_000);

  afterEach(() => {
    for (const live of opened.splice(0)) live.close();
  });

  afterAll(async () => {
    const h = host as ServerProcess | undefined;
    if (h && h.child.exitCode === null) {
      const exited = new Promise((r) => h.child.once('exit', r));
      h.child.kill('SIGKILL');
      await exited;
    }
    await (redis as RedisServer | undefined)?.stop();
  });

  /** Waits until the host counts `count` WebSocket connections; returns them per slot. */
  const counted = (count: number) =>
    eventually(`${count} connections`, async () => {
      const m = await connections();
      return total(m) === count ? m : undefined;
    });

  /** Opens a live connection and returns it with the slot of the worker it landed on (`others` are open already). */
  async function place(
    open: () => LiveConnection,
    others: number,
    ready: 'open' | 'subscribed' = 'open',
  ): Promise<{ live: LiveConnection; slot: number }> {
    const before = await counted(others);
    const live = open();
    opened.push(live);
    await live.next(ready, () => true, 15_000);
    const after = await counted(others + 1);
    const slot = [...after.keys()].find((k) => (after.get(k) ?? 0) - (before.get(k) ?? 0) === 1);
    if (slot === undefined) throw new Error(`no slot gained a connection: ${JSON.stringify([...before])} -> ${JSON.stringify([...after])}`);
    return { live, slot };
  }

  /** A publisher on the worker of `slot` (same) or on the other one: the kernel picks, so reconnect until it fits. */
  async function publisherOn(slot: number, same: boolean, others: number): Promise<LiveConnection> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { live, slot: got } = await place(() => clientOf(host.url, { token }).live(RECONNECT), others);
      if ((got === slot) === same) return live;
      live.close();
    }
    throw new Error(`no publisher landed ${same ? 'on' : 'off'} slot ${slot} in 20 tries`);
  }

  /** A subscriber of `channel`, the pid of the worker holding its socket, and a publisher on the other worker. */
  async function setUp(channel: string) {
    await bothUp();
    await counted(0); // the previous test's connections are gone
    let sub: FrameLog | undefined;
    const { slot } = await place(
      () => (sub = new FrameLog(clientOf(host.url).live({ ...RECONNECT, channels: [channel] }))).live,
      0,
      'subscribed',
    );
    const pid = pidOf(slot);
    if (pid === undefined) throw new Error(`no pid for slot ${slot}`);
    const pub = await publisherOn(slot, false, 1);
    return { sub: sub as FrameLog, slot, pid, pub };
  }

  /** Posts acked chats one after another (a short pause between) until stopped; resolves with every ack. */
  function publishing(pub: LiveConnection, channel: string) {
    const acks: ChatAck[] = [];
    let running = true;
    const done = (async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() clears it meanwhile
      while (running) {
        acks.push(await pub.chat(channel, `message ${acks.length}`));
        await sleep(5);
      }
      return acks;
    })();
    return {
      acks,
      /** Resolves once `count` messages were acknowledged. */
      reach: (count: number) => eventually(`${count} acks`, () => (acks.length >= count ? true : undefined), 30_000),
      stop: () => {
        running = false;
        return done;
      },
    };
  }

  /** Every acked message reached the subscriber once, in offset order, nothing else did. */
  async function expectExactlyOnce(sub: FrameLog, channel: string, acks: ChatAck[]): Promise<void> {
    const last = acks.at(-1) as ChatAck;
    await sub.until(() => delivered(sub, channel).some((m) => m.id === last.id), 20_000, 'the last acked message');
    const got = delivered(sub, channel);
    const offsets = acks.map((a) => a.offset);
    // Acks are consecutive: no chat was published twice (a resent ref) and none was lost.
    expect(offsets).toEqual(Array.from({ length: acks.length }, (_, i) => 1 + i));
    expect(new Set(acks.map((a) => a.id)).size).toBe(acks.length);
    expect(got.map((m) => m.id)).toEqual(acks.map((a) => a.id));
    expect(got.map((m) => m.offset)).toEqual(offsets);
  }

  it('kill -9 of the worker holding the subscriber: the primary restarts it, the client recovers every message once', async () => {
    const channel = 'room:e2e-kill';
    const { pub, sub, pid } = await setUp(channel);
    const recovered = sub.live.next('recovered', (e) => e.channel === channel, 30_000);
    const gaps: string[] = [];
    sub.live.on('gap', (g) => gaps.push(g.reason));
    const load = publishing(pub, channel);
    await load.reach(30);
    process.kill(pid, 'SIGKILL');
    const event = await recovered;
    expect(event).toMatchObject({ channel, recovered: true });
    // Published meanwhile, on the other worker: the resubscription had messages to recover.
    expect(event.offset).toBeGreaterThan(event.since.offset);
    const at = load.acks.length;
    await load.reach(at + 30);
    const acks = await load.stop();
    await expectExactlyOnce(sub, channel, acks);
    expect(gaps).toEqual([]);
    // The primary noticed, and put a new worker in the slot.
    await eventually('the worker restarted', () => (host.log.some((l) => l.includes('worker died: restarting')) ? true : undefined));
    await bothUp();
  }, 60_000);

  it('SIGTERM drain of the worker holding the subscriber, under load: the client recovers every message once', async () => {
    const channel = 'room:e2e-drain';
    const { pub, sub, pid, slot } = await setUp(channel);
    // A second publisher on the draining worker: its chat in flight is resent on its next socket.
    const pub2 = await publisherOn(slot, true, 2);
    const closed = sub.live.next('close', () => true, 30_000);
    const recovered = sub.live.next('recovered', (e) => e.channel === channel, 30_000);
    const gaps: string[] = [];
    sub.live.on('gap', (g) => gaps.push(g.reason));
    const loads = [publishing(pub, channel), publishing(pub2, channel)];
    await Promise.all(loads.map((l) => l.reach(20)));
    process.kill(pid, 'SIGTERM');
    expect(await closed).toMatchObject({ code: 1001, willReconnect: true });
    const event = await recovered;
    expect(event).toMatchObject({ channel, recovered: true });
    expect(event.offset).toBeGreaterThan(event.since.offset);
    const at = loads.map((l) => l.acks.length);
    await Promise.all(loads.map((l, i) => l.reach((at[i] ?? 0) + 20)));
    const [a, b] = await Promise.all(loads.map((l) => l.stop()));
    const acks = [...(a ?? []), ...(b ?? [])].sort((x, y) => x.offset - y.offset);
    await expectExactlyOnce(sub, channel, acks);
    expect(gaps).toEqual([]);
    expect(
      await eventually('the drained worker gone', () =>
        host.log.some((l) => l.includes(`"pid":${pid}`) && l.includes('worker died')) ? true : undefined,
      ),
    ).toBe(true);
  }, 60_000);
});
