// Matching: 1,000 users queued at once, paired by the MatchService (score, greedy best pairs, atomic `take`)
// over the memory queue (the baseline) and over a real redis-server, with one process ticking and with two
// ticking the same queue at once (two services on their own connections, as two gateways would). Two phases:
//   burst     MATCH_RELAX_S=0 (every pair acceptable), ticks back to back: what the machinery sustains
//   realistic MATCH_RELAX_S=30, MATCH_TICK_MS=250 (the defaults): how long users wait for a good enough pair
// Prints pairs per second, p50/p99/max wait, and the rate against the memory baseline of the same run. In the
// realistic phase the run lasts until the last, least compatible pair relaxes into a match: its rate says that,
// the waits say how long users wait.
// Run: npm run bench:match [-- --users 1000]
import { MemoryRoomStore, privateRoom } from '../src/channels/rooms.js';
import { closeRedis, connectRedis } from '../src/redis/connection.js';
import { MatchService } from '../src/social/service.js';
import { UserMoods } from '../src/social/moods.js';
import { MemoryMatchQueue, type MatchQueue, type MatchTicket } from '../src/social/queue.js';
import { RedisMatchQueue } from '../src/social/redis-queue.js';
import { machine, machineLine } from './lib/machine.js';
import { startRedisServer } from './lib/redis-server.js';
import { percentile } from './lib/stats.js';

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const USERS = flag('users', 1000);
const TOPICS = Array.from({ length: 30 }, (_, i) => `topic${i}`);
const LANGUAGES = ['en', 'de', 'fr', 'es'];

// A fixed pseudo-random stream, so every driver queues the same users.
function users(seed: number): Array<Omit<MatchTicket, 'queuedAt'>> {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = (from: readonly string[], n: number) => [
    ...new Set(Array.from({ length: n }, () => from[Math.floor(rnd() * from.length)] as string)),
  ];
  return Array.from({ length: USERS }, (_, i) => ({
    ticket: `t${i}`,
    userId: `u${i}`,
    name: `user${i}`,
    interests: pick(TOPICS, 1 + Math.floor(rnd() * 3)),
    languages: pick(LANGUAGES, 1 + Math.floor(rnd() * 2)),
    mood: rnd() < 0.2 ? null : Math.round((rnd() * 2 - 1) * 100) / 100,
  }));
}

interface Outcome {
  pairs: number;
  seconds: number;
  waitsMs: number[];
  meanScore: number;
}

async function run(queues: MatchQueue[], relaxMs: number, tickMs: number): Promise<Outcome> {
  const rooms = new MemoryRoomStore();
  const waits: number[] = [];
  let scoreSum = 0;
  const services = queues.map(
    (queue) =>
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
          notifier: { notify: () => undefined },
          moods: new UserMoods(),
        },
        { tickMs, relaxMs, graceMs: 60_000 },
      ),
  );
  for (const s of services)
    s.onMatched((p) => {
      waits.push(p.at - p.a.queuedAt, p.at - p.b.queuedAt);
      scoreSum += p.score;
    });
  const start = Date.now();
  await Promise.all(users(42).map((u) => (queues[0] as MatchQueue).enqueue({ ...u, queuedAt: start })));
  const t0 = performance.now();
  const deadline = t0 + 120_000;
  while ((await (queues[0] as MatchQueue).size()) > 1 && performance.now() < deadline) {
    const tickStart = performance.now();
    await Promise.all(services.map((s) => s.tick()));
    const rest = tickMs - (performance.now() - tickStart);
    if (tickMs > 0 && rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  const seconds = (performance.now() - t0) / 1000;
  waits.sort((a, b) => a - b);
  return { pairs: waits.length / 2, seconds, waitsMs: waits, meanScore: waits.length === 0 ? 0 : scoreSum / (waits.length / 2) };
}

async function main(): Promise<void> {
  console.log(`matching bench: ${USERS} users queued at once`);
  console.log(machineLine(machine()));
  const redis = await startRedisServer();
  const conns = await Promise.all([connectRedis(redis.url), connectRedis(redis.url)]);
  const drivers: Array<[string, () => Promise<MatchQueue[]>]> = [
    ['memory (baseline)', async () => [new MemoryMatchQueue()]],
    ['redis, 1 process', async () => [new RedisMatchQueue(conns[0])]],
    ['redis, 2 processes', async () => conns.map((c) => new RedisMatchQueue(c))],
  ];
  try {
    for (const [phase, relaxMs, tickMs] of [
      ['burst (relax 0 s, ticks back to back)', 0, 0],
      ['realistic (relax 30 s, tick 250 ms)', 30_000, 250],
    ] as const) {
      console.log(`\n${phase}`);
      let baseline = 0;
      for (const [name, make] of drivers) {
        await conns[0].flushall();
        const o = await run(await make(), relaxMs, tickMs);
        const rate = o.pairs / o.seconds;
        if (baseline === 0) baseline = rate;
        console.log(
          `  ${name.padEnd(20)} ${String(o.pairs).padStart(4)} pairs in ${o.seconds.toFixed(2)} s: ${rate.toFixed(0).padStart(6)} pairs/s ` +
            `(${(rate / baseline).toFixed(2)}x memory)  wait p50 ${percentile(o.waitsMs, 50)} ms  p99 ${percentile(o.waitsMs, 99)} ms  max ${o.waitsMs.at(-1) ?? 0} ms  ` +
            `mean score ${o.meanScore.toFixed(3)}`,
        );
      }
    }
  } finally {
    await Promise.all(conns.map((c) => closeRedis(c)));
    await redis.stop();
  }
}

await main();
