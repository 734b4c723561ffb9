// Clustering benchmark (npm run bench:cluster [-- --connections 2000 --rate 500 --duration 10 --model DIR]);
// flags and how to read it: docs/benchmarks.md, "Clustering".
//
// 1. Fan-out across instances: one ChatPulse instance on in-memory state (the baseline) against two
//    instances (separate `node dist/src/main.js` processes, each with REDIS_URL) with the subscribers split
//    over both and the publishers on the first, so every message crosses Redis. Same client generator as
//    bench:ws (its subscriber processes, publishers, cache warm-up and phase are imported from bench/ws-*.ts).
// 2. Engine throughput with 1 and 2 gateway processes on one host (WORKERS=1 vs WORKERS=2, inference
//    threads chosen so processes x threads = cores), unique texts through POST /api/v1/sentiment/batch;
//    the measured numbers decide the recommended default split.
//    The same with the two instances on a Redis Cluster (3 masters, REDIS_CLUSTER_NODES): Cluster vs single.
// 3. Holding 20,000 idle connections with WORKERS=2 on one port.
// 4. Rolling restart (bench/cluster-rolling.ts): two hosts on a Redis Cluster, SDK subscribers and acked
//    publishers, each host SIGTERMed and restarted in turn: lost / repeated deliveries, latency during restarts.
// Every server, redis-server and client process is a child of this one and is killed when it exits.
import autocannon from 'autocannon';
import { loadCorpus, uniqueText } from './corpus.js';
import { accountToken, deadPids, newJwtSecret, serverEnv, startChatPulse, stopDeployment, type Deployment } from './lib/chatpulse.js';
import { int, parseFlags } from './lib/flags.js';
import { loadAvgNow, machine, machineLine } from './lib/machine.js';
import { sleep } from './lib/phases.js';
import { cpuOf, cpuSum, machineBusyS, rssOf, type CpuTime } from './lib/proc.js';
import { failureReason, freePort, guardRun, ServerUnavailable } from './lib/processes.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from './lib/redis-server.js';
import { rollingReport, runRolling, type RollingResult } from './cluster-rolling.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';
import { percentile, round, sum } from './lib/stats.js';
import { FANOUT_FLAGS, fanoutSettings, measureRates, runPhase, type PhaseRow } from './ws-phase.js';
import { channelName, monoMs, type SubPlan } from './ws-protocol.js';
import { ClientProc, connectSubscribers, createBenchRooms, waveShare } from './ws-procs.js';
import { connectPublishers, warmCache, type Publisher, type WarmResult } from './ws-publishers.js';

const flags = parseFlags([
  ...FANOUT_FLAGS,
  'parts',
  'splits',
  'concurrency',
  'batch-texts',
  'hold',
  'rolling-subscribers',
  'rolling-rate',
  'rolling-steady',
  'rolling-redis',
]);
// The fan-out part's client generator; --duration and --rounds apply to the engine part too.
const { connections, channels, rates, durationS, publisherCount, pool, clientProcs, wave, drainS, trackPerChannel, rounds, modelDir } =
  fanoutSettings(flags, {
    connections: 2000,
    rate: '500',
    drainS: 15,
  });
const parts = (flags.parts ?? 'fanout,engine,hold,rolling').split(',').map((p) => p.trim());
for (const p of parts)
  if (!['fanout', 'engine', 'hold', 'rolling'].includes(p))
    throw new Error(`--parts: unknown "${p}" (known: fanout, engine, hold, rolling)`);
const rollingSubscribers = int('rolling-subscribers', flags['rolling-subscribers'], 1000);
const rollingRate = int('rolling-rate', flags['rolling-rate'], 500);
const rollingSteadyS = int('rolling-steady', flags['rolling-steady'], 10);
const rollingRedis = flags['rolling-redis'] ?? 'cluster';
if (!['cluster', 'single'].includes(rollingRedis)) throw new Error('--rolling-redis: cluster or single');
// One process cannot hold 20,000 sockets where the open-files hard limit is 20,000 (as here): the hold part
// uses WORKERS=2 on one port, which is how a host serves that many.
const holdTarget = int('hold', flags.hold, 20_000);
const HOLD_WORKERS = 2;
const concurrency = int('concurrency', flags.concurrency, 32);
const batchTexts = int('batch-texts', flags['batch-texts'], 32);
const host = machine();

interface Split {
  processes: number;
  threads: number;
}
const splits: Split[] = (() => {
  if (flags.splits !== undefined) {
    return flags.splits.split(',').map((s) => {
      const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/.exec(s);
      if (m === null || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--splits: "${s}" is not PROCESSESxTHREADS (e.g. 2x1)`);
      return { processes: Number(m[1]), threads: Number(m[2]) };
    });
  }
  // 1 and 2 gateway processes, the cores shared out between them.
  return [
    { processes: 1, threads: host.cores },
    { processes: 2, threads: Math.max(1, Math.floor(host.cores / 2)) },
  ];
})();
const splitName = (s: Split) => `${s.processes} x ${s.threads}`;

/** Untimed traffic before each measured phase (JIT, socket buffers, ORT's first runs). */
const WARM_PHASE_S = 1;
const CONNECT_TIMEOUT_MS = 20_000;
const START_TIMEOUT_MS = 180_000;
/** Splits closer than this in throughput are a tie: the recommendation then takes the fewest processes. */
const TIE = 0.05;
/** Above this share of all cores taken by other work during a split's run, splits are compared per CPU-second. */
const CONTESTED_PCT = 15;
const BACKLOG_P50_MS = 100;

const jwtSecret = newJwtSecret(); // shared by every instance of a deployment

/** The Redis a deployment shares: how its processes find it, and its processes (for their CPU). */
interface SharedRedis {
  label: string;
  env: Record<string, string>;
  pids(): number[];
}
const singleRedis = (r: RedisServer): SharedRedis => ({ label: 'one redis-server', env: { REDIS_URL: r.url }, pids: () => [r.pid] });
const clusterRedis = (c: RedisCluster): SharedRedis => ({
  label: `a Redis Cluster of ${c.nodes.length} masters`,
  env: { REDIS_URL: '', REDIS_CLUSTER_NODES: c.nodes.join(',') },
  pids: () => c.nodes.map((n) => c.pid(n)).filter((pid) => pid > 0),
});
const envOf = (port: number, shared: SharedRedis | null, threads: number) => ({
  ...serverEnv({ port, modelDir, jwtSecret, redisUrl: null, threads }),
  ...shared?.env,
});

// ============================================================================ 1. fan-out through Redis

interface InstanceLatency {
  instance: number;
  port: number;
  subscribers: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

interface FanoutRow extends PhaseRow {
  /** Per instance, its server CPU seconds (serverCpuS: all of them together). */
  perInstanceCpuS: number[];
  redisCpuS: number;
  /** Redis CPU milliseconds per 1,000 published messages. */
  redisCpuMsPer1000: number;
  perInstance: InstanceLatency[];
  /** CPU that no process of the bench used (neighbours), as a share of all cores over the window. */
  otherLoadPct: number;
}

interface FanoutResult {
  deployment: 'one' | 'two' | 'cluster';
  label: string;
  instances: number;
  available: boolean;
  reason: string | null;
  subscribersRequested: number;
  subscribersHeld: number;
  perInstanceHeld: number[];
  subscribersFailed: number;
  failureSamples: string[];
  connectS: number;
  warm: WarmResult | null;
  rows: FanoutRow[];
  deadProcesses: number[];
}

interface Client {
  proc: ClientProc;
  instance: number;
}

interface FanoutRun {
  instances: Deployment[];
  pubs: Publisher[];
  clients: Client[];
  redis: SharedRedis;
}

/** Per instance, the sum of a per-subscriber-process figure over that instance's processes. */
const byInstance = (clients: readonly Client[], instances: number, perClient: readonly number[]): number[] =>
  Array.from({ length: instances }, (_, i) => sum(perClient.filter((_, k) => clients[k]?.instance === i)));

/**
 * Subscriber k joins channel k mod C on instance floor(k / C) mod I, so every channel has subscribers on
 * every instance; the first `--track` per channel measure latency (alternating instances too). Each
 * instance's subscribers go round robin to that instance's subscriber processes.
 */
function plans(clients: readonly Client[], instances: number): SubPlan[][] {
  const perProc: SubPlan[][] = clients.map(() => []);
  const procsOf = Array.from({ length: instances }, (_, i) => clients.flatMap((c, k) => (c.instance === i ? [k] : [])));
  const next = Array.from({ length: instances }, () => 0);
  for (let k = 0; k < connections; k++) {
    const row = Math.floor(k / channels);
    const i = row % instances;
    const procs = procsOf[i] as number[];
    const slot = procs[(next[i] as number)++ % procs.length] as number;
    (perProc[slot] as SubPlan[]).push({ channel: channelName(k % channels), batch: false, track: row < trackPerChannel });
  }
  return perProc;
}

/**
 * One phase (ws-phase.ts) with the server CPU summed over every process of every instance, redis-server's
 * CPU over the same window, and the CPU no process of the bench used (neighbours).
 */
async function fanoutPhase(run: FanoutRun, rate: number, seconds: number, record: boolean): Promise<FanoutRow> {
  const { clients, instances, redis } = run;
  const meter = () => {
    const cpu0 = instances.map((d) => cpuOf(d.pids));
    const redis0 = cpuSum(cpuOf(redis.pids()));
    const busy0 = machineBusyS();
    const self0 = process.cpuUsage();
    return (clientCpuS: number) => {
      const perInstance = instances.map((d, i): CpuTime => {
        const [c1, c0] = [cpuOf(d.pids), cpu0[i] as CpuTime];
        return { user: c1.user - c0.user, sys: c1.sys - c0.sys };
      });
      const serverCpu: CpuTime = { user: sum(perInstance.map((c) => c.user)), sys: sum(perInstance.map((c) => c.sys)) };
      const redisCpuS = cpuSum(cpuOf(redis.pids())) - redis0;
      const self = process.cpuUsage(self0);
      const otherS = machineBusyS() - busy0 - cpuSum(serverCpu) - redisCpuS - clientCpuS - (self.user + self.system) / 1e6;
      return { serverCpu, perInstanceCpuS: perInstance.map(cpuSum), redisCpuS, otherS };
    };
  };
  const assertAlive = () => {
    for (const d of instances) {
      const dead = deadPids(d);
      if (dead.length > 0) throw new ServerUnavailable(`${d.label}: process ${dead.join(', ')} exited during the run`);
    }
  };
  const setup = { pubs: run.pubs, clients: clients.map((c) => c.proc), pool, drainS };
  const { row, measured, perClient, heldPerClient, wallS } = await runPhase(setup, rate, seconds, record, meter, assertAlive);
  const heldPerInstance = byInstance(clients, instances.length, heldPerClient);
  const perInstance: InstanceLatency[] = instances.map((d, i) => {
    const own = perClient.flatMap((s, k) => ((clients[k] as Client).instance === i ? (s.latencies ?? []) : [])).sort((x, y) => x - y);
    return {
      instance: i,
      port: d.port,
      subscribers: heldPerInstance[i] as number,
      p50Ms: round(percentile(own, 50), 2),
      p99Ms: round(percentile(own, 99), 2),
      samples: own.length,
    };
  });
  return {
    ...row,
    perInstanceCpuS: measured.perInstanceCpuS.map((x) => round(x, 2)),
    redisCpuS: round(measured.redisCpuS, 3),
    redisCpuMsPer1000: row.sent === 0 ? NaN : round((measured.redisCpuS * 1000 * 1000) / row.sent, 1),
    perInstance,
    otherLoadPct: round(Math.max(0, (100 * measured.otherS) / (wallS * host.cores)), 1),
  };
}

async function runFanout(deployment: 'one' | 'two' | 'cluster', redis: SharedRedis): Promise<FanoutResult> {
  const count = deployment === 'one' ? 1 : 2;
  const label = {
    one: '(a) one instance, in-memory bus',
    two: '(b) two instances through Redis',
    cluster: '(c) two instances through a Redis Cluster',
  }[deployment];
  const result: FanoutResult = {
    deployment,
    label,
    instances: count,
    available: false,
    reason: null,
    subscribersRequested: connections,
    subscribersHeld: 0,
    perInstanceHeld: [],
    subscribersFailed: 0,
    failureSamples: [],
    connectS: 0,
    warm: null,
    rows: [],
    deadProcesses: [],
  };
  const instances: Deployment[] = [];
  const pubs: Publisher[] = [];
  const clients: Client[] = [];
  try {
    progress(`${label}: starting`);
    for (let i = 0; i < count; i++) {
      const env = envOf(await freePort(), deployment === 'one' ? null : redis, 1);
      instances.push(
        await startChatPulse(`ChatPulse ${deployment === 'one' ? '' : String.fromCharCode(65 + i)}`.trim(), env, 1, START_TIMEOUT_MS),
      );
    }
    progress(`  listening on ${instances.map((d) => `${d.port} (pid ${d.pids.join(',')})`).join(' and ')}`);
    const a = instances[0] as Deployment;
    const loginOn = (instances[count - 1] as Deployment).port;
    // Rooms exist only through the API (shared through Redis with two instances), hosted by an account of their own.
    await createBenchRooms(a.port, await accountToken(a.port, loginOn, `bench_${deployment}_host`), channels);
    // Two instances: registered on A, signed in on B (a Redis user store shared by both), posting on A.
    await connectPublishers(
      pubs,
      'chatpulse',
      a.port,
      publisherCount,
      channels,
      (p) => accountToken(a.port, loginOn, `bench_${deployment}_pub_${p}`),
      CONNECT_TIMEOUT_MS,
    );
    result.warm = await warmCache(pubs, pool, 180_000);
    progress(`  cache warm-up on A: ${result.warm.confirmed}/${result.warm.total} pool texts came back in ${fmt(result.warm.seconds, 1)}s`);

    const perInstanceProcs = Math.max(1, Math.round(clientProcs / count));
    for (let i = 0; i < count; i++) for (let k = 0; k < perInstanceProcs; k++) clients.push({ proc: new ClientProc(), instance: i });
    const perProc = plans(clients, count);
    const waveEach = waveShare(wave, clients.length);
    progress(
      `  connecting ${connections} subscribers over ${channels} channels, split over ${count} instance(s) (${clients.length} subscriber processes, waves of ${waveEach} each)`,
    );
    const shares = clients.map((c, k) => ({
      proc: c.proc,
      port: (instances[c.instance] as Deployment).port,
      subs: perProc[k] as SubPlan[],
    }));
    const held = await connectSubscribers('chatpulse', shares, waveEach, CONNECT_TIMEOUT_MS);
    result.connectS = held.seconds;
    result.subscribersHeld = held.held;
    result.perInstanceHeld = byInstance(clients, count, held.heldPerShare);
    result.subscribersFailed = held.failed;
    result.failureSamples = held.failureSamples;
    progress(
      `  held ${result.subscribersHeld} (${result.perInstanceHeld.join(' + ')}; +${pubs.length} publishers on A), failed ${result.subscribersFailed} in ${result.connectS}s` +
        (result.failureSamples.length > 0 ? `; e.g. ${result.failureSamples[0]}` : ''),
    );
    if (result.subscribersHeld === 0)
      throw new ServerUnavailable(
        `no subscriber connection held${result.failureSamples.length > 0 ? `: ${result.failureSamples[0]}` : ''}`,
      );
    // Settle: handshakes, presence writes and (two instances) B's SSUBSCRIBEs taking effect.
    await sleep(2000);
    result.available = true;

    const run: FanoutRun = { instances, pubs, clients, redis };
    await measureRates(
      { rates, rounds, durationS, warmS: WARM_PHASE_S },
      (rate, seconds, record) => fanoutPhase(run, rate, seconds, record),
      (row) =>
        `(${row.perInstanceCpuS.map((x) => fmt(x, 2)).join(' + ')}) -> ${fmt(row.deliveriesPerCpuS, 0)} deliveries/CPU-s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ` +
        `Redis ${fmt(row.redisCpuMsPer1000, 1)} CPU-ms per 1,000 msgs, client CPU ${fmt(row.clientCpuPct, 0)}%, other load ${fmt(row.otherLoadPct, 0)}% of cores`,
      result.rows,
    );
  } catch (err) {
    result.reason = failureReason(err);
    progress(`  ${label}: ${result.available ? 'stopped early' : 'not available'}: ${result.reason}`);
  } finally {
    for (const d of instances) result.deadProcesses.push(...deadPids(d));
    for (const pub of pubs) pub.close();
    await Promise.all(clients.map((c) => c.proc.close()));
    for (const d of instances) await stopDeployment(d);
  }
  return result;
}

// ======================================================================= 2. engine: processes x threads

interface EngineRow {
  split: string;
  processes: number;
  threads: number;
  round: number;
  seconds: number;
  requests: number;
  reqPerS: number;
  /** Texts classified per second (2xx responses x texts per request). */
  msgsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Every process of the deployment (primary included), over the measured window. */
  serverCpuS: number;
  /** Server CPU as a share of all cores over the window. */
  serverCoresPct: number;
  perProcessCpuS: Array<{ pid: number; role: 'primary' | 'gateway'; cpuS: number }>;
  msgsPerCpuS: number;
  rssMiB: number;
  redisCpuMsPer1000Req: number;
  /** This process (autocannon, the load generator), % of one core. */
  loadGenCpuPct: number;
  /** CPU seconds the other (idle) splits' processes used over the same window. */
  idleSplitsCpuS: number;
  /** CPU that no process of the bench used (neighbours), as a share of all cores over the window. */
  otherLoadPct: number;
  loadAvg: number;
}

interface EngineResult {
  split: string;
  processes: number;
  threads: number;
  available: boolean;
  reason: string | null;
  port: number | null;
  rows: EngineRow[];
  best: EngineRow | null;
  deadProcesses: number[];
  /** Best msgs/s against the first 1-process split measured. */
  vsOneProcess: number | null;
}

interface EngineTarget {
  result: EngineResult;
  deployment: Deployment;
  token: string;
}

const corpus = loadCorpus();
/** Every text of the run is unique (corpus line + counter), so no request is answered from a cache. */
let textCounter = 0;

async function measureSplit(t: EngineTarget, others: readonly EngineTarget[], attempt: number, redis: RedisServer): Promise<EngineRow> {
  const { deployment: d, result } = t;
  const request: autocannon.Request = {
    method: 'POST',
    path: '/api/v1/sentiment/batch',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
    setupRequest: (req) => ({
      ...req,
      body: JSON.stringify({ texts: Array.from({ length: batchTexts }, () => uniqueText(corpus, textCounter++)) }),
    }),
  };
  const options: autocannon.Options = { url: `http://127.0.0.1:${d.port}`, connections: concurrency, requests: [request], timeout: 30 };
  progress(
    `  ${result.split}: ${concurrency} connections x ${batchTexts} unique texts, ${WARM_PHASE_S}s warm-up + ${durationS}s${rounds > 1 ? `, round ${attempt}/${rounds}` : ''}`,
  );
  await autocannon({ ...options, duration: WARM_PHASE_S });
  const cpu0 = d.pids.map((pid) => cpuSum(cpuOf([pid])));
  const redis0 = cpuSum(cpuOf([redis.pid]));
  const otherPids = others.flatMap((o) => o.deployment.pids);
  const others0 = cpuSum(cpuOf(otherPids));
  const busy0 = machineBusyS();
  const self0 = process.cpuUsage();
  const began = monoMs();
  const r = await autocannon({ ...options, duration: durationS });
  const wallS = (monoMs() - began) / 1000;
  const self = process.cpuUsage(self0);
  const perProcess = d.pids.map((pid, k) => ({
    pid,
    role: d.workerPids.includes(pid) ? ('gateway' as const) : ('primary' as const),
    cpuS: round(cpuSum(cpuOf([pid])) - (cpu0[k] as number), 2),
  }));
  const redisCpuS = cpuSum(cpuOf([redis.pid])) - redis0;
  const idleSplitsCpuS = cpuSum(cpuOf(otherPids)) - others0;
  const busyS = machineBusyS() - busy0;
  const dead = deadPids(d);
  if (dead.length > 0) throw new ServerUnavailable(`${result.split}: process ${dead.join(', ')} exited during the run`);
  const serverCpuS = perProcess.reduce((sum, p) => sum + p.cpuS, 0);
  const otherS = busyS - serverCpuS - redisCpuS - idleSplitsCpuS - (self.user + self.system) / 1e6;
  const requests = r['2xx'] + r.non2xx;
  const msgsPerS = (r['2xx'] * batchTexts) / r.duration;
  return {
    split: result.split,
    processes: result.processes,
    threads: result.threads,
    round: attempt,
    seconds: round(r.duration, 2),
    requests,
    reqPerS: round(requests / r.duration, 1),
    msgsPerS: Math.round(msgsPerS),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    serverCpuS: round(serverCpuS, 2),
    serverCoresPct: round((100 * serverCpuS) / (wallS * host.cores), 1),
    perProcessCpuS: perProcess,
    msgsPerCpuS: serverCpuS === 0 ? NaN : Math.round((r['2xx'] * batchTexts) / serverCpuS),
    rssMiB: round(rssOf(d.pids) / 2 ** 20, 1),
    redisCpuMsPer1000Req: requests === 0 ? NaN : round((redisCpuS * 1e6) / requests, 1),
    loadGenCpuPct: round((100 * (self.user + self.system)) / 1e6 / wallS, 1),
    idleSplitsCpuS: round(idleSplitsCpuS, 2),
    otherLoadPct: round(Math.max(0, (100 * otherS) / (wallS * host.cores)), 1),
    loadAvg: loadAvgNow(),
  };
}

async function runEngine(redis: RedisServer): Promise<EngineResult[]> {
  const results: EngineResult[] = splits.map((s) => ({
    split: splitName(s),
    processes: s.processes,
    threads: s.threads,
    available: false,
    reason: null,
    port: null,
    rows: [],
    best: null,
    deadProcesses: [],
    vsOneProcess: null,
  }));
  const targets: EngineTarget[] = [];
  try {
    // Every split is started first and stays up, so rounds alternate between them: a neighbour's burst on
    // a shared machine then lands on one round of one split, not on every round of it.
    for (const [k, s] of splits.entries()) {
      const result = results[k] as EngineResult;
      try {
        progress(`engine split ${result.split} (WORKERS=${s.processes}, INFERENCE_THREADS=${s.threads}): starting`);
        const env = envOf(await freePort(), singleRedis(redis), s.threads);
        const deployment = await startChatPulse(`ChatPulse WORKERS=${s.processes}`, env, s.processes, START_TIMEOUT_MS);
        result.port = deployment.port;
        const token = await accountToken(deployment.port, deployment.port, `bench_engine_${s.processes}x${s.threads}_${k}`);
        targets.push({ result, deployment, token });
        result.available = true;
        progress(
          `  listening on ${deployment.port}: gateway pids ${deployment.workerPids.join(', ')}${deployment.pids.length > deployment.workerPids.length ? ` (primary ${deployment.child.pid})` : ''}`,
        );
      } catch (err) {
        result.reason = failureReason(err);
        progress(`  ${result.split}: not available: ${result.reason}`);
      }
    }
    for (let attempt = 1; attempt <= rounds; attempt++) {
      for (const t of targets) {
        if (!t.result.available || t.result.reason !== null) continue;
        try {
          const row = await measureSplit(
            t,
            targets.filter((o) => o !== t),
            attempt,
            redis,
          );
          t.result.rows.push(row);
          progress(
            `    ${fmt(row.msgsPerS, 0)} msgs/s (${fmt(row.reqPerS, 1)} req/s), p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, server CPU ${fmt(row.serverCpuS, 2)}s ` +
              `(${row.perProcessCpuS.map((p) => fmt(p.cpuS, 2)).join(' + ')}; ${fmt(row.serverCoresPct, 0)}% of ${host.cores} cores), other load ${fmt(row.otherLoadPct, 0)}%, errors ${row.errors + row.timeouts + row.non2xx}`,
          );
        } catch (err) {
          t.result.reason = failureReason(err);
          progress(`  ${t.result.split}: stopped early: ${t.result.reason}`);
        }
      }
    }
  } finally {
    for (const t of targets) {
      t.result.deadProcesses.push(...deadPids(t.deployment));
      await stopDeployment(t.deployment);
    }
  }
  for (const r of results) r.best = r.rows.reduce<EngineRow | null>((a, b) => (a === null || b.msgsPerS > a.msgsPerS ? b : a), null);
  const one = results.find((r) => r.processes === 1 && r.best !== null);
  for (const r of results) r.vsOneProcess = one?.best == null || r.best === null ? null : r.best.msgsPerS / one.best.msgsPerS;
  return results;
}

interface Recommendation {
  processes: number;
  threads: number;
  /** What the splits were compared by: throughput, or (neighbours took a share of the cores) efficiency. */
  judgedBy: 'msgs/s' | 'msgs per server CPU-s';
  line: string;
}

// ============================================================================ 3. holding idle connections

interface HoldResult {
  requested: number;
  workers: number;
  held: number;
  failed: number;
  failureSamples: string[];
  connectS: number;
  rssBeforeMiB: number;
  rssIdleMiB: number;
  /** Server RSS growth over the held connections, all gateway processes and the primary together. */
  perIdleConnKiB: number | null;
  reason: string | null;
}

async function runHold(redis: RedisServer): Promise<HoldResult> {
  const result: HoldResult = {
    requested: holdTarget,
    workers: HOLD_WORKERS,
    held: 0,
    failed: 0,
    failureSamples: [],
    connectS: 0,
    rssBeforeMiB: 0,
    rssIdleMiB: 0,
    perIdleConnKiB: null,
    reason: null,
  };
  const procs: ClientProc[] = [];
  let d: Deployment | null = null;
  try {
    progress(`hold: ${holdTarget} idle subscribers on WORKERS=${HOLD_WORKERS} (one port, Redis)`);
    d = await startChatPulse(
      `ChatPulse WORKERS=${HOLD_WORKERS}`,
      envOf(await freePort(), singleRedis(redis), 1),
      HOLD_WORKERS,
      START_TIMEOUT_MS,
    );
    // Rooms exist only through the API; the fan-out part, when it ran, made them in this Redis already.
    await createBenchRooms(d.port, await accountToken(d.port, d.port, 'bench_hold_host'), channels, true);
    await sleep(1000);
    const before = rssOf(d.pids);
    // Each subscriber process stays well under the open-files limit.
    const count = Math.max(clientProcs, Math.ceil(holdTarget / 9000));
    for (let k = 0; k < count; k++) procs.push(new ClientProc());
    const perProc: SubPlan[][] = procs.map(() => []);
    for (let k = 0; k < holdTarget; k++)
      (perProc[k % count] as SubPlan[]).push({ channel: channelName(k % channels), batch: false, track: false });
    const port = d.port;
    const held = await connectSubscribers(
      'chatpulse',
      procs.map((proc, k) => ({ proc, port, subs: perProc[k] as SubPlan[] })),
      waveShare(wave, count),
      CONNECT_TIMEOUT_MS,
    );
    result.connectS = held.seconds;
    result.held = held.held;
    result.failed = held.failed;
    result.failureSamples = held.failureSamples;
    await sleep(2000); // settle: handshakes, presence writes
    const idle = rssOf(d.pids);
    result.rssBeforeMiB = round(before / 2 ** 20, 1);
    result.rssIdleMiB = round(idle / 2 ** 20, 1);
    result.perIdleConnKiB = result.held > 0 ? round((idle - before) / result.held / 1024, 2) : null;
    progress(
      `  held ${result.held}, failed ${result.failed} in ${result.connectS}s; RSS ${result.rssBeforeMiB} -> ${result.rssIdleMiB} MiB (${result.perIdleConnKiB ?? 'n/a'} KiB per idle connection)`,
    );
  } catch (err) {
    result.reason = err instanceof Error ? err.message : String(err);
    progress(`  hold not measured: ${result.reason}`);
  } finally {
    await Promise.all(procs.map((c) => c.close()));
    if (d) await stopDeployment(d);
  }
  return result;
}

function holdReport(h: HoldResult): string[] {
  const met = h.held >= 20_000 && h.held === h.requested;
  return [
    '',
    `## 3. Holding idle connections (WORKERS=${h.workers}, one port)`,
    '',
    `${h.requested} anonymous subscribers over ${channels} channels, opened in waves, then left idle; server RSS summed over the primary and its gateway processes.`,
    '',
    markdownTable(
      ['requested', 'held', 'failed', 'connect s', 'RSS before MiB', 'RSS idle MiB', 'per idle connection'],
      [
        [
          String(h.requested),
          String(h.held),
          String(h.failed),
          fmt(h.connectS, 2),
          fmt(h.rssBeforeMiB, 1),
          fmt(h.rssIdleMiB, 1),
          h.perIdleConnKiB === null ? 'n/a' : `${fmt(h.perIdleConnKiB, 2)} KiB`,
        ],
      ],
    ),
    '',
    h.reason !== null
      ? `Not measured: ${h.reason}`
      : `Target: 20,000 concurrent connections held: ${h.held} of ${h.requested}, ${met ? 'met' : 'NOT met'}${h.failureSamples.length > 0 ? ` (e.g. ${h.failureSamples[0]})` : ''}.`,
  ];
}

/**
 * The default split, from the measurement. Compared by classified messages/s; but when neighbours took more
 * than CONTESTED_PCT of the cores during a split's run, msgs/s says as much about how the scheduler shared
 * the cores (a split with more runnable threads gets a bigger share of a contested machine) as about the
 * split, so they are compared by messages per server CPU-second instead. The best split wins unless one with
 * fewer processes is within TIE of it (noise on a shared machine; every extra process costs a model copy and
 * a cache, and needs Redis). Caveats are appended, never a different answer.
 */
function recommend(results: readonly EngineResult[], loadAvgEnd: number): Recommendation | null {
  const measured = results.filter((r) => r.best !== null && r.best.msgsPerS > 0);
  if (measured.length === 0) return null;
  const best = (r: EngineResult) => r.best as EngineRow;
  const contested = measured.filter((r) => best(r).otherLoadPct > CONTESTED_PCT);
  const judgedBy: Recommendation['judgedBy'] = contested.length > 0 ? 'msgs per server CPU-s' : 'msgs/s';
  const score = (r: EngineResult) => (judgedBy === 'msgs/s' ? best(r).msgsPerS : best(r).msgsPerCpuS);
  const unit = judgedBy === 'msgs/s' ? 'classified messages/s' : 'classified messages per server CPU-second';
  const leader = measured.reduce((a, b) => (score(b) > score(a) ? b : a));
  const top = score(leader);
  const pick = measured
    .filter((r) => score(r) >= top * (1 - TIE))
    .sort((a, b) => a.processes - b.processes || score(b) - score(a))[0] as EngineResult;
  const others = measured.filter((r) => r !== pick);
  const describe = (r: EngineResult) => {
    const b = best(r);
    return `${r.split}: ${fmt(b.msgsPerS, 0)} msgs/s, ${fmt(b.msgsPerCpuS, 0)} per CPU-s, p99 ${b.p99Ms} ms, ${fmt(b.rssMiB, 0)} MiB`;
  };
  let why: string;
  if (others.length === 0) why = 'the only split measured';
  else if (pick === leader) {
    const runnerUp = others.reduce((a, b) => (score(b) > score(a) ? b : a));
    const gain = score(pick) / score(runnerUp) - 1;
    why =
      gain < TIE
        ? `${fmt(gain * 100, 1)}% more ${unit} than ${runnerUp.split}, under the ${fmt(TIE * 100, 0)}% noise margin, with no more processes`
        : `${fmt(gain * 100, 1)}% more ${unit} than ${runnerUp.split}`;
  } else {
    why = `within ${fmt((1 - score(pick) / top) * 100, 1)}% of ${leader.split} in ${unit}, under the ${fmt(TIE * 100, 0)}% noise margin, with fewer processes (each holds its own model copy and cache)`;
  }
  if (judgedBy !== 'msgs/s') {
    why += ` (judged per CPU-second: other work took up to ${fmt(Math.max(...contested.map((r) => best(r).otherLoadPct)), 0)}% of the cores, and a contested machine can favour the split with more threads in msgs/s)`;
  }
  // The load average counts the bench's own processes too; the neighbours' share is otherLoadPct.
  const caveats: string[] = [];
  if (rounds < 3) caveats.push(`${rounds} round${rounds === 1 ? '' : 's'}`);
  if (contested.length > 0)
    caveats.push(`other work taking up to ${fmt(Math.max(...contested.map((r) => best(r).otherLoadPct)), 0)}% of the cores`);
  const line =
    `Recommendation for ${host.cores} cores: WORKERS=${pick.processes} with INFERENCE_THREADS=${pick.threads} (${pick.split}): ${why} ` +
    `[${[pick, ...others].map(describe).join('; ')}]` +
    (caveats.length > 0
      ? `; measured with ${caveats.join(', ')}: confirm with --rounds 3 on a quiet machine before changing a documented default.`
      : `; ${rounds} rounds, other load at most ${fmt(Math.max(...measured.map((r) => best(r).otherLoadPct)), 0)}% of the cores in the rounds compared (load avg ${fmt(loadAvgEnd, 2)} at end, the bench's own processes included).`);
  return { processes: pick.processes, threads: pick.threads, judgedBy, line };
}

// ============================================================================================= report

interface Comparison {
  rate: number;
  deliveriesPerS: number | null;
  deliveriesPerCpuS: number | null;
  p50DeltaMs: number | null;
  p99DeltaMs: number | null;
}

function compare(
  fanout: readonly FanoutResult[],
  base: FanoutResult['deployment'] = 'one',
  other: FanoutResult['deployment'] = 'two',
): Comparison[] {
  const one = fanout.find((r) => r.deployment === base);
  const two = fanout.find((r) => r.deployment === other);
  return rates.map((rate) => {
    const a = one?.rows.find((r) => r.rate === rate);
    const b = two?.rows.find((r) => r.rate === rate);
    const both = a !== undefined && b !== undefined;
    return {
      rate,
      deliveriesPerS: both ? round(b.deliveriesPerS / a.deliveriesPerS, 3) : null,
      deliveriesPerCpuS: both ? round(b.deliveriesPerCpuS / a.deliveriesPerCpuS, 3) : null,
      p50DeltaMs: both ? round(b.p50Ms - a.p50Ms, 2) : null,
      p99DeltaMs: both ? round(b.p99Ms - a.p99Ms, 2) : null,
    };
  });
}

function report(
  fanout: readonly FanoutResult[],
  comparisons: readonly Comparison[],
  engine: readonly EngineResult[],
  rec: Recommendation | null,
  loadAvgEnd: number,
): string {
  const lines: string[] = [
    '# Cluster benchmark',
    '',
    `Machine: ${machineLine(host)}; load avg ${loadAvgEnd} at end`,
    `Model: \`${modelDir}\``,
  ];
  const times = (x: number | null) => (x === null ? 'n/a' : `${fmt(x, 2)}x`);
  const delta = (x: number | null) => (x === null ? 'n/a' : `${x >= 0 ? '+' : ''}${fmt(x, 1)} ms`);
  const notes: string[] = [];
  if (parts.includes('fanout')) {
    lines.push(
      '',
      '## 1. WebSocket fan-out: one instance vs two instances through Redis',
      '',
      `${connections} subscribers over ${channels} channels, ${publisherCount} publishers (one per channel) on instance A posting texts from a pool of ${pool} each ` +
        `(sentiment cache warmed first); ${durationS}s per rate after a ${WARM_PHASE_S}s warm-up, then drained (at most ${drainS}s)${rounds > 1 ? `, best of ${rounds} rounds by deliveries / CPU-s` : ''}. ` +
        '(a): one process, no REDIS_URL. (b): two processes on different ports with the same REDIS_URL and JWT_SECRET; every channel has subscribers on both, so each message ' +
        'is published to Redis by A and delivered by A and B from their own subscriptions (A too: the Redis bus has no local short cut). INFERENCE_THREADS=1 per process. ' +
        `Latency from each message's scheduled send time to its arrival, sampled on the first ${trackPerChannel} subscribers of each channel.`,
      '',
      'server CPU: user + system seconds of every server process over the phase and its drain (per instance in brackets). Redis CPU: redis-server user + system over the same window, per 1,000 published messages. ' +
        "client CPU: the subscriber processes, % of one core. other load: CPU the machine spent outside the bench's own processes (servers, Redis, subscribers, the bench), % of all cores: neighbours.",
      '',
      markdownTable(
        [
          'deployment',
          'rate msg/s',
          'subscribers',
          'deliveries/s',
          'delivered',
          'p50 ms',
          'p99 ms',
          'server CPU s',
          'deliveries / server CPU-s',
          'Redis CPU ms / 1,000 msgs',
          'client CPU',
          'other load',
        ],
        fanout.flatMap((r) =>
          r.rows.length > 0
            ? r.rows.map((p) => [
                r.label,
                String(p.rate),
                `${p.subscribersHeld}${r.instances > 1 ? ` (${r.perInstanceHeld.join(' + ')})` : ''}`,
                fmt(p.deliveriesPerS, 0),
                `${fmt(p.deliveredPct, 1)}%`,
                String(p.p50Ms),
                String(p.p99Ms),
                `${fmt(p.serverCpuS, 2)}${p.perInstanceCpuS.length > 1 ? ` (${p.perInstanceCpuS.map((s) => fmt(s, 2)).join(' + ')})` : ''}`,
                fmt(p.deliveriesPerCpuS, 0),
                `${fmt(p.redisCpuMsPer1000, 1)}${r.deployment === 'one' ? ' (idle: no Redis traffic)' : ''}`,
                `${fmt(p.clientCpuPct, 0)}%`,
                `${fmt(p.otherLoadPct, 0)}%`,
              ])
            : [[r.label, '-', '-', `not available: ${r.reason ?? 'unknown'}`, '-', '-', '-', '-', '-', '-', '-', '-']],
        ),
      ),
      '',
      ...comparisons.map(
        (c) =>
          `- (b)/(a) at ${c.rate} msg/s: deliveries/s ${times(c.deliveriesPerS)}, deliveries per server CPU-s ${times(c.deliveriesPerCpuS)}, ` +
          `p50 ${delta(c.p50DeltaMs)}, p99 ${delta(c.p99DeltaMs)}`,
      ),
      ...compare(fanout, 'two', 'cluster').map(
        (c) =>
          `- (c)/(b), Redis Cluster vs one Redis, at ${c.rate} msg/s: deliveries/s ${times(c.deliveriesPerS)}, deliveries per server CPU-s ${times(c.deliveriesPerCpuS)}, ` +
          `p50 ${delta(c.p50DeltaMs)}, p99 ${delta(c.p99DeltaMs)}`,
      ),
    );
    const two = fanout.find((r) => r.deployment === 'two');
    for (const p of two?.rows ?? []) {
      lines.push(
        `- (b) at ${p.rate} msg/s by instance: ${p.perInstance.map((i) => `${i === p.perInstance[0] ? 'A (publishers)' : 'B'} p50 ${i.p50Ms} ms, p99 ${i.p99Ms} ms over ${i.samples} samples`).join('; ')}`,
      );
    }
    for (const r of fanout) {
      if (r.available && r.reason !== null) notes.push(`- ${r.label}: stopped early (${r.reason})`);
      if (r.subscribersFailed > 0)
        notes.push(`- ${r.label}: ${r.subscribersFailed} subscriber connections failed, e.g. "${r.failureSamples[0] ?? ''}"`);
      if (r.warm !== null && r.warm.confirmed < r.warm.total)
        notes.push(
          `- ${r.label}: cache warm-up confirmed ${r.warm.confirmed}/${r.warm.total} texts: some deliveries may have waited for inference`,
        );
      for (const p of r.rows) {
        const at = `${r.label} @${p.rate}/s`;
        if (p.errors + p.publisherErrors > 0)
          notes.push(
            `- ${at}: ${p.errors} error frames to subscribers, ${p.publisherErrors} to publishers, e.g. \`${p.errorSamples[0] ?? ''}\``,
          );
        if (p.deliveredPct < 99)
          notes.push(`- ${at}: ${fmt(p.deliveredPct, 1)}% delivered by the end of the drain (CPU for the rest is still counted)`);
        if (p.closedDuring > 0) notes.push(`- ${at}: ${p.closedDuring} subscriber connections closed during the phase`);
        if (p.countMismatches > 0)
          notes.push(`- ${at}: ${p.countMismatches} tracked frames where the delivery count disagreed with the parsed frame`);
        if (p.p50Ms > BACKLOG_P50_MS)
          notes.push(
            `- ${at}: p50 ${p.p50Ms} ms: receivers or servers fell behind (sockets backed up); lower --connections or --rate for a fair ratio`,
          );
        if (p.publisherMaxLagMs > 50)
          notes.push(`- ${at}: the publishers fell up to ${p.publisherMaxLagMs} ms behind schedule (charged to latency)`);
        if (p.clientCpuPct > 80 * clientProcs)
          notes.push(
            `- ${at}: subscriber processes at ${fmt(p.clientCpuPct, 0)}% CPU: the client generator, not the server, may have set the pace`,
          );
      }
    }
  }
  if (parts.includes('engine')) {
    lines.push(
      '',
      '## 2. Engine throughput: gateway processes x inference threads',
      '',
      `ChatPulse with REDIS_URL (required for WORKERS > 1; both splits alike), WORKERS x INFERENCE_THREADS = ${splits.map(splitName).join(' vs ')} on ${host.cores} cores. ` +
        `autocannon in the bench process keeps ${concurrency} POST /api/v1/sentiment/batch requests of ${batchTexts} unique texts each in flight (corpus: ${corpus.source}, counter suffix, ` +
        `so no text is a cache hit) for ${durationS}s after a ${WARM_PHASE_S}s warm-up${rounds > 1 ? `; best of ${rounds} alternating rounds by msgs/s` : ''}. All splits stay up during the run ` +
        `(the idle ones used ${fmt(Math.max(0, ...engine.flatMap((r) => r.rows.map((x) => x.idleSplitsCpuS))), 2)} CPU-s at most over a measured window).`,
      '',
      'msgs/s: texts classified per second (2xx responses x texts per request). server CPU: every process of the split (primary included), per process in brackets: ' +
        'with 2 gateways, an uneven split means the kernel spread the connections unevenly. % of cores: server CPU over the window as a share of all cores (what the neighbours and the load generator left). ' +
        "Redis: CPU-ms per 1,000 requests (auth and rate limiting). other load: CPU the machine spent outside the bench's own processes, % of all cores: neighbours.",
      '',
      markdownTable(
        [
          'split (processes x threads)',
          'msgs/s',
          'req/s',
          'p50 ms',
          'p99 ms',
          'server CPU s',
          '% of cores',
          'msgs / CPU-s',
          'RSS MiB',
          'Redis ms / 1,000 req',
          'autocannon CPU',
          'other load',
          'errors',
          'vs 1 process',
        ],
        engine.map((r) => {
          const b = r.best;
          if (b === null)
            return [r.split, `not available: ${r.reason ?? 'unknown'}`, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
          return [
            r.split,
            fmt(b.msgsPerS, 0),
            fmt(b.reqPerS, 1),
            String(b.p50Ms),
            String(b.p99Ms),
            `${fmt(b.serverCpuS, 2)}${b.perProcessCpuS.length > 1 ? ` (${b.perProcessCpuS.map((p) => `${p.role === 'primary' ? 'primary ' : ''}${fmt(p.cpuS, 2)}`).join(' + ')})` : ''}`,
            `${fmt(b.serverCoresPct, 0)}%`,
            fmt(b.msgsPerCpuS, 0),
            fmt(b.rssMiB, 0),
            fmt(b.redisCpuMsPer1000Req, 1),
            `${fmt(b.loadGenCpuPct, 0)}%`,
            `${fmt(b.otherLoadPct, 0)}%`,
            String(b.errors + b.timeouts + b.non2xx),
            r.vsOneProcess === null ? '-' : `${fmt(r.vsOneProcess, 2)}x`,
          ];
        }),
      ),
      '',
    );
    const multi = engine.filter((r) => r.processes > 1 && r.vsOneProcess !== null);
    for (const r of multi) lines.push(`- Scaling, ${r.split} vs 1 process: ${fmt(r.vsOneProcess as number, 2)}x classified messages/s`);
    if (rounds > 1)
      for (const r of engine)
        lines.push(`- ${r.split} rounds: ${r.rows.map((x) => `${fmt(x.msgsPerS, 0)} msgs/s (load ${x.loadAvg})`).join(', ')}`);
    lines.push(`- ${rec === null ? 'No recommendation: no split was measured.' : rec.line}`);
    for (const r of engine) {
      if (r.available && r.reason !== null) notes.push(`- ${r.split}: stopped early (${r.reason})`);
      for (const x of r.rows)
        if (x.errors + x.timeouts + x.non2xx > 0)
          notes.push(`- ${r.split} round ${x.round}: ${x.errors} errors, ${x.timeouts} timeouts, ${x.non2xx} non-2xx responses`);
    }
  }
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes);
  return lines.join('\n');
}

// =============================================================================================== main

// Every step is bounded on its own; this is the backstop should one hang anyway.
const fanoutBoundS =
  2 *
  (START_TIMEOUT_MS / 1000 +
    200 +
    Math.ceil(connections / wave) * (CONNECT_TIMEOUT_MS / 1000 + 5) +
    rates.length * (rounds + 1) * (durationS + drainS + 40));
const engineBoundS = splits.length * (START_TIMEOUT_MS / 1000 + 30 + rounds * (durationS + WARM_PHASE_S + 70));
const holdBoundS = START_TIMEOUT_MS / 1000 + 60 + Math.ceil(holdTarget / wave) * (CONNECT_TIMEOUT_MS / 1000 + 5);
const rollingBoundS = 2 * (START_TIMEOUT_MS / 1000) * 2 + 4 * rollingSteadyS + 240;
const boundS =
  60 +
  (parts.includes('rolling') ? rollingBoundS : 0) +
  (parts.includes('fanout') ? (fanoutBoundS * 3) / 2 : 0) +
  (parts.includes('engine') ? engineBoundS : 0) +
  (parts.includes('hold') ? holdBoundS : 0);
guardRun('bench:cluster', boundS);
// The exit handlers in lib/processes.ts and lib/redis-server.ts kill every child (servers, workers, redis, clients).

progress(`machine: ${machineLine(host)}`);
progress(`model: ${modelDir}; parts: ${parts.join(', ')}`);
const redis = await startRedisServer();
progress(`redis-server on 127.0.0.1:${redis.port} (pid ${redis.pid}), no persistence`);
const needsCluster = parts.includes('fanout') || (parts.includes('rolling') && rollingRedis === 'cluster');
const cluster = needsCluster ? await startRedisCluster({ masters: 3 }) : null;
if (cluster) progress(`Redis Cluster of 3 masters on ${cluster.nodes.join(', ')}`);
const fanout: FanoutResult[] = [];
let engine: EngineResult[] = [];
let hold: HoldResult | null = null;
let rolling: RollingResult | null = null;
try {
  if (parts.includes('fanout')) {
    fanout.push(await runFanout('one', singleRedis(redis)));
    fanout.push(await runFanout('two', singleRedis(redis)));
    if (cluster) fanout.push(await runFanout('cluster', clusterRedis(cluster)));
  }
  if (parts.includes('engine')) engine = await runEngine(redis);
  if (parts.includes('hold')) hold = await runHold(redis);
  if (parts.includes('rolling')) {
    const shared = rollingRedis === 'cluster' && cluster ? clusterRedis(cluster) : singleRedis(redis);
    rolling = await runRolling({
      subscribers: rollingSubscribers,
      channels,
      rate: rollingRate,
      steadyS: rollingSteadyS,
      clientProcs,
      startTimeoutMs: START_TIMEOUT_MS,
      env: (port) => envOf(port, shared, 1),
      redis: shared.label,
    });
  }
} finally {
  await cluster?.stop();
  await redis.stop();
}
const comparisons = compare(fanout);
const loadAvgEnd = loadAvgNow();
const rec = parts.includes('engine') ? recommend(engine, loadAvgEnd) : null;
const markdown = [
  report(fanout, comparisons, engine, rec, loadAvgEnd),
  ...(hold ? holdReport(hold) : []),
  ...(rolling ? rollingReport(rolling, { steadyS: rollingSteadyS }) : []),
].join('\n');
publishResults(
  'cluster',
  {
    name: 'cluster',
    machine: host,
    loadAvgEnd,
    model: modelDir,
    parts,
    settings: {
      connections,
      channels,
      publishers: publisherCount,
      rates,
      durationS,
      rounds,
      warmPhaseS: WARM_PHASE_S,
      drainS,
      pool,
      clientProcs,
      wave,
      trackPerChannel,
      splits: splits.map(splitName),
      concurrency,
      batchTexts,
      corpus: corpus.source,
    },
    fanout,
    comparisons,
    engine,
    hold,
    rolling,
    recommendation: rec,
  },
  markdown,
);
