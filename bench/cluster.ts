// Clustering benchmark (npm run bench:cluster [-- --connections 2000 --rate 500 --duration 10 --model DIR]);
// flags and how to read it: bench/CLUSTER.md.
//
// 1. Fan-out across instances: one ChatPulse instance on in-memory state (the baseline) against two
//    instances (separate `node dist/src/main.js` processes, each with REDIS_URL) with the subscribers split
//    over both and the publishers on the first, so every message crosses Redis. Same client generator as
//    bench:ws (its subscriber processes, publishers and cache warm-up are imported from bench/ws-*.ts).
// 2. Engine throughput with 1 and 2 gateway processes on one host (WORKERS=1 vs WORKERS=2, inference
//    threads chosen so processes x threads = cores), unique texts through POST /api/v1/sentiment/batch;
//    the measured numbers decide the recommended default split.
// Every server, redis-server and client process is a child of this one and is killed when it exits.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { accountToken, cpuOf, cpuSum, deadPids, machineBusyS, rssOf, startChatPulse, startRedis, stopDeployment, type Deployment, type Redis } from './cluster-procs.js';
import { loadCorpus, uniqueText } from './corpus.js';
import { ClientProc } from './ws-procs.js';
import { fmt, machine, machineLine, markdownTable, percentile, positive, progress, resolveModelDir, writeResults } from './machine.js';
import { channelName, mergeStats, monoMs, type ClientStats, type Schedule, type SubPlan } from './ws-protocol.js';
import { cpuSeconds, createBenchRooms, freePort, ServerUnavailable, type CpuTime } from './ws-procs.js';
import { ConnectError, connectPublisher, publish, warmCache, type Publisher, type WarmResult } from './ws-publishers.js';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    model: { type: 'string' },
    parts: { type: 'string' },
    channels: { type: 'string' },
    publishers: { type: 'string' },
    pool: { type: 'string' },
    clients: { type: 'string' },
    wave: { type: 'string' },
    drain: { type: 'string' },
    track: { type: 'string' },
    rounds: { type: 'string' },
    splits: { type: 'string' },
    concurrency: { type: 'string' },
    'batch-texts': { type: 'string' },
    hold: { type: 'string' },
  },
});
const int = (name: string, raw: string | undefined, fallback: number) => Math.round(positive(name, raw, fallback));
const connections = int('connections', flags.connections, 2000);
const rates = (flags.rate ?? '500').split(',').map((r) => positive('rate', r.trim(), 1));
const durationS = positive('duration', flags.duration, 10);
const modelDir = resolveModelDir(flags.model);
const parts = (flags.parts ?? 'fanout,engine,hold').split(',').map((p) => p.trim());
for (const p of parts) if (!['fanout', 'engine', 'hold'].includes(p)) throw new Error(`--parts: unknown "${p}" (known: fanout, engine, hold)`);
// One process cannot hold 20,000 sockets where the open-files hard limit is 20,000 (as here): the hold part
// uses WORKERS=2 on one port, which is how a host serves that many.
const holdTarget = int('hold', flags.hold, 20_000);
const HOLD_WORKERS = 2;
const channels = int('channels', flags.channels, 10);
const publisherCount = int('publishers', flags.publishers, channels);
const pool = int('pool', flags.pool, 500);
const clientProcs = int('clients', flags.clients, 2);
const wave = int('wave', flags.wave, 500);
const drainS = positive('drain', flags.drain, 15);
const trackPerChannel = int('track', flags.track, 20);
const rounds = int('rounds', flags.rounds, 1);
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
  return [{ processes: 1, threads: host.cores }, { processes: 2, threads: Math.max(1, Math.floor(host.cores / 2)) }];
})();
const splitName = (s: Split) => `${s.processes} x ${s.threads}`;

/** Untimed traffic before each measured phase (JIT, socket buffers, ORT's first runs). */
const WARM_PHASE_S = 1;
/** The drain ends early once deliveries stop growing for this long (the rest were dropped, not late). */
const QUIET_MS = 1000;
const CONNECT_TIMEOUT_MS = 20_000;
const START_TIMEOUT_MS = 180_000;
/** Splits closer than this in throughput are a tie: the recommendation then takes the fewest processes. */
const TIE = 0.05;
/** Above this share of all cores taken by other work during a split's run, splits are compared per CPU-second. */
const CONTESTED_PCT = 15;
const BACKLOG_P50_MS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits: number) => Number(x.toFixed(digits));
const sortedCopy = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const jwtSecret = randomBytes(36).toString('base64'); // 48 characters, shared by every instance of a deployment

function serverEnv(port: number, redisUrl: string | null, threads: number): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info', // the "chatpulse listening" line says when a process is ready, and its pid
    INFERENCE_THREADS: String(threads),
    REDIS_URL: redisUrl ?? '',
    MONGODB_URL: '',
    MODEL_DIR: modelDir,
    JWT_SECRET: jwtSecret,
    ACCESS_TOKEN_TTL_S: '3600',
    // The bench measures fan-out and inference, not the abuse limits: all raised far past what it sends.
    WS_MAX_CONNECTIONS: '100000',
    WS_CONNECT_RATE_PER_MIN: '1000000',
    WS_FRAME_RATE_PER_10S: '1000000',
    CHAT_RATE_PER_30S: '1000000',
    AUTH_RATE_PER_MIN: '100000',
    API_RATE_PER_MIN: '1000000',
  };
}

// ============================================================================ 1. fan-out through Redis

interface InstanceLatency {
  instance: number;
  port: number;
  subscribers: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

interface FanoutRow {
  rate: number;
  seconds: number;
  subscribersHeld: number;
  sent: number;
  /** Sent messages times the subscribers held on their channel. */
  expected: number;
  delivered: number;
  deliveredInWindow: number;
  deliveriesPerS: number;
  deliveredPct: number;
  /** All server processes together, over the phase and its drain. */
  serverCpuS: number;
  serverSysS: number;
  serverCpuPct: number;
  perInstanceCpuS: number[];
  deliveriesPerCpuS: number;
  redisCpuS: number;
  /** Redis CPU milliseconds per 1,000 published messages. */
  redisCpuMsPer1000: number;
  p50Ms: number;
  p99Ms: number;
  latencySamples: number;
  perInstance: InstanceLatency[];
  clientCpuPct: number;
  /** CPU that no process of the bench used (neighbours), as a share of all cores over the window. */
  otherLoadPct: number;
  publisherMaxLagMs: number;
  drainS: number;
  errors: number;
  publisherErrors: number;
  errorSamples: string[];
  closedDuring: number;
  countMismatches: number;
  unpaired: number;
  roundsDeliveriesPerCpuS: number[];
}

interface FanoutResult {
  deployment: 'one' | 'two';
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
  redis: Redis;
}


const statsOf = (clients: readonly Client[], samples: boolean): Promise<ClientStats[]> =>
  Promise.all(clients.map((c) => c.proc.request({ cmd: 'stats', samples }, 'stats', 30_000)));

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
 * One phase at `rate` messages/s for `seconds` on the publishers' open-loop schedule, then the drain (until
 * every expected delivery arrived, nothing arrived for QUIET_MS, or --drain passed). Server and Redis CPU
 * are read over the phase plus its drain; deliveries/s counts only the phase's own window.
 */
async function fanoutPhase(run: FanoutRun, rate: number, seconds: number, record: boolean): Promise<FanoutRow> {
  const { pubs, clients, instances, redis } = run;
  const intervalMs = (pubs.length * 1000) / rate;
  const perPublisher = Math.max(1, Math.round((rate * seconds) / pubs.length));
  const t0 = monoMs() + 300;
  const schedule: Schedule = { t0: pubs.map((_, p) => t0 + (p * intervalMs) / pubs.length), intervalMs, pool };
  const windowEnd = t0 + seconds * 1000;
  const ready = await Promise.all(clients.map((c) => c.proc.request({ cmd: 'phase', schedule, windowEnd, record }, 'phase-ready', 30_000)));
  const perChannel: Record<string, number> = {};
  const heldPerInstance = instances.map(() => 0);
  ready.forEach((r, k) => {
    for (const [channel, n] of Object.entries(r.perChannel)) {
      perChannel[channel] = (perChannel[channel] ?? 0) + n;
      heldPerInstance[(clients[k] as Client).instance] = (heldPerInstance[(clients[k] as Client).instance] as number) + n;
    }
  });
  const heldAtStart = Object.values(perChannel).reduce((a, b) => a + b, 0);
  const serverPids = instances.map((d) => d.pids);
  await sleep(Math.max(0, t0 - monoMs()));
  const cpu0 = serverPids.map((pids) => cpuOf(pids));
  const redis0 = cpuSum(cpuOf([redis.pid]));
  const pubErrors0 = pubs.reduce((sum, pub) => sum + pub.errors, 0);
  const clientCpu0 = clients.reduce((sum, c) => sum + cpuSeconds(c.proc.pid), 0);
  const busy0 = machineBusyS();
  const self0 = process.cpuUsage();
  const began = monoMs();
  const { sent, maxLagMs } = await publish(pubs, schedule, perPublisher, windowEnd + 2000);
  const sentTotal = sent.reduce((a, b) => a + b, 0);
  const expected = pubs.reduce((sum, pub, p) => sum + (sent[p] as number) * (perChannel[pub.channel] ?? 0), 0);

  const published = monoMs();
  let last = -1;
  let lastChange = published;
  // Bounded by --drain; polled every 200 ms.
  for (;;) {
    const deliveries = mergeStats(await statsOf(clients, false)).deliveries;
    const now = monoMs();
    if (deliveries >= expected || now - published >= drainS * 1000) break;
    if (deliveries !== last) {
      last = deliveries;
      lastChange = now;
    } else if (now - lastChange >= QUIET_MS) break;
    await sleep(200);
  }
  const ended = monoMs();
  const cpu1 = serverPids.map((pids) => cpuOf(pids));
  const redisCpuS = cpuSum(cpuOf([redis.pid])) - redis0;
  const perInstanceCpuS = cpu1.map((c, i) => cpuSum(c) - cpuSum(cpu0[i] as CpuTime));
  const serverCpuS = perInstanceCpuS.reduce((a, b) => a + b, 0);
  const serverSysS = cpu1.reduce((sum, c, i) => sum + c.sys - (cpu0[i] as CpuTime).sys, 0);
  const publisherErrors = pubs.reduce((sum, pub) => sum + pub.errors, 0) - pubErrors0;
  const clientCpuS = clients.reduce((sum, c) => sum + cpuSeconds(c.proc.pid), 0) - clientCpu0;
  const selfUsage = process.cpuUsage(self0);
  const otherS = machineBusyS() - busy0 - serverCpuS - redisCpuS - clientCpuS - (selfUsage.user + selfUsage.system) / 1e6;
  for (const d of instances) {
    const dead = deadPids(d);
    if (dead.length > 0) throw new ServerUnavailable(`${d.label}: process ${dead.join(', ')} exited during the run`);
  }
  const perClient = await statsOf(clients, record);
  const stats = mergeStats(perClient);
  const latencies = sortedCopy(stats.latencies ?? []);
  const perInstance: InstanceLatency[] = instances.map((d, i) => {
    const own = sortedCopy(perClient.flatMap((s, k) => ((clients[k] as Client).instance === i ? (s.latencies ?? []) : [])));
    return { instance: i, port: d.port, subscribers: heldPerInstance[i] as number, p50Ms: round(percentile(own, 50), 2), p99Ms: round(percentile(own, 99), 2), samples: own.length };
  });
  const wallS = (ended - began) / 1000;
  return {
    rate,
    seconds,
    subscribersHeld: heldAtStart,
    sent: sentTotal,
    expected,
    delivered: stats.deliveries,
    deliveredInWindow: stats.inWindow,
    deliveriesPerS: Math.round(stats.inWindow / seconds),
    deliveredPct: expected === 0 ? NaN : round((100 * stats.deliveries) / expected, 2),
    serverCpuS: round(serverCpuS, 2),
    serverSysS: round(serverSysS, 2),
    serverCpuPct: round((100 * serverCpuS) / wallS, 1),
    perInstanceCpuS: perInstanceCpuS.map((s) => round(s, 2)),
    deliveriesPerCpuS: Math.round(stats.deliveries / serverCpuS),
    redisCpuS: round(redisCpuS, 3),
    redisCpuMsPer1000: sentTotal === 0 ? NaN : round((redisCpuS * 1000 * 1000) / sentTotal, 1),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    latencySamples: latencies.length,
    perInstance,
    clientCpuPct: round((100 * clientCpuS) / wallS, 1),
    otherLoadPct: round(Math.max(0, (100 * otherS) / (wallS * host.cores)), 1),
    publisherMaxLagMs: round(maxLagMs, 1),
    drainS: round((ended - published) / 1000, 2),
    errors: stats.errors,
    publisherErrors,
    errorSamples: [...stats.errorSamples, ...pubs.flatMap((pub) => pub.errorSamples)].slice(0, 5),
    closedDuring: stats.closed,
    countMismatches: stats.mismatches,
    unpaired: stats.unpaired,
    roundsDeliveriesPerCpuS: [],
  };
}

async function runFanout(deployment: 'one' | 'two', redis: Redis): Promise<FanoutResult> {
  const count = deployment === 'one' ? 1 : 2;
  const label = deployment === 'one' ? '(a) one instance, in-memory bus' : '(b) two instances through Redis';
  const result: FanoutResult = {
    deployment, label, instances: count, available: false, reason: null, subscribersRequested: connections, subscribersHeld: 0,
    perInstanceHeld: [], subscribersFailed: 0, failureSamples: [], connectS: 0, warm: null, rows: [], deadProcesses: [],
  };
  const instances: Deployment[] = [];
  const pubs: Publisher[] = [];
  const clients: Client[] = [];
  try {
    progress(`${label}: starting`);
    for (let i = 0; i < count; i++) {
      const env = serverEnv(await freePort(), deployment === 'one' ? null : redis.url, 1);
      instances.push(await startChatPulse(`ChatPulse ${deployment === 'one' ? '' : String.fromCharCode(65 + i)}`.trim(), env, 1, START_TIMEOUT_MS));
    }
    progress(`  listening on ${instances.map((d) => `${d.port} (pid ${d.pids.join(',')})`).join(' and ')}`);
    const a = instances[0] as Deployment;
    const loginOn = (instances[count - 1] as Deployment).port;
    // Rooms exist only through the API (shared through Redis with two instances), hosted by an account of their own.
    await createBenchRooms(a.port, await accountToken(a.port, loginOn, `bench_${deployment}_host`), channels);
    for (let p = 0; p < publisherCount; p++) {
      // Two instances: registered on A, signed in on B (a Redis user store shared by both), posting on A.
      const token = await accountToken(a.port, loginOn, `bench_${deployment}_pub_${p}`);
      pubs.push(await connectPublisher('chatpulse', a.port, p, channelName(p % channels), token, CONNECT_TIMEOUT_MS));
    }
    result.warm = await warmCache(pubs, pool, 180_000);
    progress(`  cache warm-up on A: ${result.warm.confirmed}/${result.warm.total} pool texts came back in ${fmt(result.warm.seconds, 1)}s`);

    const started = monoMs();
    const perInstanceProcs = Math.max(1, Math.round(clientProcs / count));
    for (let i = 0; i < count; i++) for (let k = 0; k < perInstanceProcs; k++) clients.push({ proc: new ClientProc(), instance: i });
    const perProc = plans(clients, count);
    const waveEach = Math.max(1, Math.ceil(wave / clients.length));
    const waves = Math.ceil(connections / clients.length / waveEach) + 1;
    progress(`  connecting ${connections} subscribers over ${channels} channels, split over ${count} instance(s) (${clients.length} subscriber processes, waves of ${waveEach} each)`);
    const replies = await Promise.all(
      clients.map((c, k) =>
        c.proc.request(
          { cmd: 'connect', wire: 'chatpulse', port: (instances[c.instance] as Deployment).port, subs: perProc[k] as SubPlan[], wave: waveEach, timeoutMs: CONNECT_TIMEOUT_MS },
          'connected',
          waves * (CONNECT_TIMEOUT_MS + 5000) + 30_000,
        ),
      ),
    );
    result.connectS = round((monoMs() - started) / 1000, 2);
    result.perInstanceHeld = instances.map(() => 0);
    replies.forEach((r, k) => {
      result.subscribersHeld += r.held;
      result.perInstanceHeld[(clients[k] as Client).instance] = (result.perInstanceHeld[(clients[k] as Client).instance] as number) + r.held;
      result.subscribersFailed += r.failed;
      result.failureSamples.push(...r.failures.slice(0, 5 - result.failureSamples.length));
    });
    progress(
      `  held ${result.subscribersHeld} (${result.perInstanceHeld.join(' + ')}; +${pubs.length} publishers on A), failed ${result.subscribersFailed} in ${result.connectS}s` +
        (result.failureSamples.length > 0 ? `; e.g. ${result.failureSamples[0]}` : ''),
    );
    if (result.subscribersHeld === 0) throw new ServerUnavailable(`no subscriber connection held${result.failureSamples.length > 0 ? `: ${result.failureSamples[0]}` : ''}`);
    // Settle: handshakes, presence writes and (two instances) B's SSUBSCRIBEs taking effect.
    await sleep(2000);
    result.available = true;

    const run: FanoutRun = { instances, pubs, clients, redis };
    for (const rate of rates) {
      await fanoutPhase(run, rate, WARM_PHASE_S, false);
      let best: FanoutRow | null = null;
      const perRound: number[] = [];
      for (let attempt = 1; attempt <= rounds; attempt++) {
        progress(`  ${rate} msg/s for ${durationS}s${rounds > 1 ? `, round ${attempt}/${rounds}` : ''} (after a ${WARM_PHASE_S}s warm-up)`);
        const row = await fanoutPhase(run, rate, durationS, true);
        perRound.push(row.deliveriesPerCpuS);
        progress(
          `    ${fmt(row.deliveriesPerS, 0)} deliveries/s, ${fmt(row.deliveredPct, 1)}% delivered, server CPU ${fmt(row.serverCpuS, 2)}s ` +
            `(${row.perInstanceCpuS.map((s) => fmt(s, 2)).join(' + ')}) -> ${fmt(row.deliveriesPerCpuS, 0)} deliveries/CPU-s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ` +
            `Redis ${fmt(row.redisCpuMsPer1000, 1)} CPU-ms per 1,000 msgs, client CPU ${fmt(row.clientCpuPct, 0)}%, other load ${fmt(row.otherLoadPct, 0)}% of cores` +
            (row.errors + row.publisherErrors > 0 ? `, ${row.errors + row.publisherErrors} error frames: ${row.errorSamples[0]}` : ''),
        );
        if (best === null || row.deliveriesPerCpuS > best.deliveriesPerCpuS) best = row;
      }
      (best as FanoutRow).roundsDeliveriesPerCpuS = perRound;
      result.rows.push(best as FanoutRow);
    }
  } catch (err) {
    const known = err instanceof ServerUnavailable || err instanceof ConnectError;
    if (!known) console.error(err);
    result.reason = err instanceof Error ? err.message : String(err);
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

async function measureSplit(t: EngineTarget, others: readonly EngineTarget[], attempt: number, redis: Redis): Promise<EngineRow> {
  const { deployment: d, result } = t;
  const request: autocannon.Request = {
    method: 'POST',
    path: '/api/v1/sentiment/batch',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ texts: Array.from({ length: batchTexts }, () => uniqueText(corpus, textCounter++)) }) }),
  };
  const options: autocannon.Options = { url: `http://127.0.0.1:${d.port}`, connections: concurrency, requests: [request], timeout: 30 };
  progress(`  ${result.split}: ${concurrency} connections x ${batchTexts} unique texts, ${WARM_PHASE_S}s warm-up + ${durationS}s${rounds > 1 ? `, round ${attempt}/${rounds}` : ''}`);
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
  const perProcess = d.pids.map((pid, k) => ({ pid, role: d.workerPids.includes(pid) ? ('gateway' as const) : ('primary' as const), cpuS: round(cpuSum(cpuOf([pid])) - (cpu0[k] as number), 2) }));
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
    loadAvg: round(loadavg()[0] ?? NaN, 2),
  };
}

async function runEngine(redis: Redis): Promise<EngineResult[]> {
  const results: EngineResult[] = splits.map((s) => ({
    split: splitName(s), processes: s.processes, threads: s.threads, available: false, reason: null, port: null, rows: [], best: null, deadProcesses: [], vsOneProcess: null,
  }));
  const targets: EngineTarget[] = [];
  try {
    // Every split is started first and stays up, so rounds alternate between them: a neighbour's burst on
    // a shared machine then lands on one round of one split, not on every round of it.
    for (const [k, s] of splits.entries()) {
      const result = results[k] as EngineResult;
      try {
        progress(`engine split ${result.split} (WORKERS=${s.processes}, INFERENCE_THREADS=${s.threads}): starting`);
        const env = serverEnv(await freePort(), redis.url, s.threads);
        const deployment = await startChatPulse(`ChatPulse WORKERS=${s.processes}`, env, s.processes, START_TIMEOUT_MS);
        result.port = deployment.port;
        const token = await accountToken(deployment.port, deployment.port, `bench_engine_${s.processes}x${s.threads}_${k}`);
        targets.push({ result, deployment, token });
        result.available = true;
        progress(`  listening on ${deployment.port}: gateway pids ${deployment.workerPids.join(', ')}${deployment.pids.length > deployment.workerPids.length ? ` (primary ${deployment.child.pid})` : ''}`);
      } catch (err) {
        if (!(err instanceof ServerUnavailable)) console.error(err);
        result.reason = err instanceof Error ? err.message : String(err);
        progress(`  ${result.split}: not available: ${result.reason}`);
      }
    }
    for (let attempt = 1; attempt <= rounds; attempt++) {
      for (const t of targets) {
        if (!t.result.available || t.result.reason !== null) continue;
        try {
          const row = await measureSplit(t, targets.filter((o) => o !== t), attempt, redis);
          t.result.rows.push(row);
          progress(
            `    ${fmt(row.msgsPerS, 0)} msgs/s (${fmt(row.reqPerS, 1)} req/s), p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, server CPU ${fmt(row.serverCpuS, 2)}s ` +
              `(${row.perProcessCpuS.map((p) => fmt(p.cpuS, 2)).join(' + ')}; ${fmt(row.serverCoresPct, 0)}% of ${host.cores} cores), other load ${fmt(row.otherLoadPct, 0)}%, errors ${row.errors + row.timeouts + row.non2xx}`,
          );
        } catch (err) {
          if (!(err instanceof ServerUnavailable)) console.error(err);
          t.result.reason = err instanceof Error ? err.message : String(err);
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

/**
 * The default split, from the measurement. Compared by classified messages/s; but when neighbours took more
 * than CONTESTED_PCT of the cores during a split's run, msgs/s says as much about how the scheduler shared
 * the cores (a split with more runnable threads gets a bigger share of a contested machine) as about the
 * split, so they are compared by messages per server CPU-second instead. The best split wins unless one with
 * fewer processes is within TIE of it (noise on a shared machine; every extra process costs a model copy and
 * a cache, and needs Redis). Caveats are appended, never a different answer.
 */
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

async function runHold(redis: Redis): Promise<HoldResult> {
  const result: HoldResult = { requested: holdTarget, workers: HOLD_WORKERS, held: 0, failed: 0, failureSamples: [], connectS: 0, rssBeforeMiB: 0, rssIdleMiB: 0, perIdleConnKiB: null, reason: null };
  const procs: ClientProc[] = [];
  let d: Deployment | null = null;
  try {
    progress(`hold: ${holdTarget} idle subscribers on WORKERS=${HOLD_WORKERS} (one port, Redis)`);
    d = await startChatPulse(`ChatPulse WORKERS=${HOLD_WORKERS}`, serverEnv(await freePort(), redis.url, 1), HOLD_WORKERS, START_TIMEOUT_MS);
    await sleep(1000);
    const before = rssOf(d.pids);
    // Each subscriber process stays well under the open-files limit.
    const count = Math.max(clientProcs, Math.ceil(holdTarget / 9000));
    for (let k = 0; k < count; k++) procs.push(new ClientProc());
    const perProc: SubPlan[][] = procs.map(() => []);
    for (let k = 0; k < holdTarget; k++) (perProc[k % count] as SubPlan[]).push({ channel: channelName(k % channels), batch: false, track: false });
    const waveEach = Math.max(1, Math.ceil(wave / count));
    const waves = Math.ceil(holdTarget / count / waveEach) + 1;
    const started = monoMs();
    const port = d.port;
    const replies = await Promise.all(
      procs.map((c, k) =>
        c.request({ cmd: 'connect', wire: 'chatpulse', port, subs: perProc[k] as SubPlan[], wave: waveEach, timeoutMs: CONNECT_TIMEOUT_MS }, 'connected', waves * (CONNECT_TIMEOUT_MS + 5000) + 30_000),
      ),
    );
    result.connectS = round((monoMs() - started) / 1000, 2);
    for (const r of replies) {
      result.held += r.held;
      result.failed += r.failed;
      result.failureSamples.push(...r.failures.slice(0, 5 - result.failureSamples.length));
    }
    await sleep(2000); // settle: handshakes, presence writes
    const idle = rssOf(d.pids);
    result.rssBeforeMiB = round(before / 2 ** 20, 1);
    result.rssIdleMiB = round(idle / 2 ** 20, 1);
    result.perIdleConnKiB = result.held > 0 ? round((idle - before) / result.held / 1024, 2) : null;
    progress(`  held ${result.held}, failed ${result.failed} in ${result.connectS}s; RSS ${result.rssBeforeMiB} -> ${result.rssIdleMiB} MiB (${result.perIdleConnKiB ?? 'n/a'} KiB per idle connection)`);
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
      [[String(h.requested), String(h.held), String(h.failed), fmt(h.connectS, 2), fmt(h.rssBeforeMiB, 1), fmt(h.rssIdleMiB, 1), h.perIdleConnKiB === null ? 'n/a' : `${fmt(h.perIdleConnKiB, 2)} KiB`]],
    ),
    '',
    h.reason !== null
      ? `Not measured: ${h.reason}`
      : `Target: 20,000 concurrent connections held: ${h.held} of ${h.requested}, ${met ? 'met' : 'NOT met'}${h.failureSamples.length > 0 ? ` (e.g. ${h.failureSamples[0]})` : ''}.`,
  ];
}

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
  const pick = measured.filter((r) => score(r) >= top * (1 - TIE)).sort((a, b) => a.processes - b.processes || score(b) - score(a))[0] as EngineResult;
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
  if (contested.length > 0) caveats.push(`other work taking up to ${fmt(Math.max(...contested.map((r) => best(r).otherLoadPct)), 0)}% of the cores`);
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

function compare(fanout: readonly FanoutResult[]): Comparison[] {
  const one = fanout.find((r) => r.deployment === 'one');
  const two = fanout.find((r) => r.deployment === 'two');
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

function report(fanout: readonly FanoutResult[], comparisons: readonly Comparison[], engine: readonly EngineResult[], rec: Recommendation | null, loadAvgEnd: number): string {
  const lines: string[] = ['# Cluster benchmark', '', `Machine: ${machineLine(host)}; load avg ${loadAvgEnd} at end`, `Model: \`${modelDir}\``];
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
        'client CPU: the subscriber processes, % of one core. other load: CPU the machine spent outside the bench\'s own processes (servers, Redis, subscribers, the bench), % of all cores: neighbours.',
      '',
      markdownTable(
        ['deployment', 'rate msg/s', 'subscribers', 'deliveries/s', 'delivered', 'p50 ms', 'p99 ms', 'server CPU s', 'deliveries / server CPU-s', 'Redis CPU ms / 1,000 msgs', 'client CPU', 'other load'],
        fanout.flatMap((r) =>
          r.rows.length > 0
            ? r.rows.map((p) => [
                r.label, String(p.rate), `${p.subscribersHeld}${r.instances > 1 ? ` (${r.perInstanceHeld.join(' + ')})` : ''}`, fmt(p.deliveriesPerS, 0), `${fmt(p.deliveredPct, 1)}%`,
                String(p.p50Ms), String(p.p99Ms), `${fmt(p.serverCpuS, 2)}${p.perInstanceCpuS.length > 1 ? ` (${p.perInstanceCpuS.map((s) => fmt(s, 2)).join(' + ')})` : ''}`,
                fmt(p.deliveriesPerCpuS, 0), `${fmt(p.redisCpuMsPer1000, 1)}${r.deployment === 'one' ? ' (idle: no Redis traffic)' : ''}`, `${fmt(p.clientCpuPct, 0)}%`, `${fmt(p.otherLoadPct, 0)}%`,
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
    );
    const two = fanout.find((r) => r.deployment === 'two');
    for (const p of two?.rows ?? []) {
      lines.push(`- (b) at ${p.rate} msg/s by instance: ${p.perInstance.map((i) => `${i === p.perInstance[0] ? 'A (publishers)' : 'B'} p50 ${i.p50Ms} ms, p99 ${i.p99Ms} ms over ${i.samples} samples`).join('; ')}`);
    }
    for (const r of fanout) {
      if (r.available && r.reason !== null) notes.push(`- ${r.label}: stopped early (${r.reason})`);
      if (r.subscribersFailed > 0) notes.push(`- ${r.label}: ${r.subscribersFailed} subscriber connections failed, e.g. "${r.failureSamples[0] ?? ''}"`);
      if (r.warm !== null && r.warm.confirmed < r.warm.total) notes.push(`- ${r.label}: cache warm-up confirmed ${r.warm.confirmed}/${r.warm.total} texts: some deliveries may have waited for inference`);
      for (const p of r.rows) {
        const at = `${r.label} @${p.rate}/s`;
        if (p.errors + p.publisherErrors > 0) notes.push(`- ${at}: ${p.errors} error frames to subscribers, ${p.publisherErrors} to publishers, e.g. \`${p.errorSamples[0] ?? ''}\``);
        if (p.deliveredPct < 99) notes.push(`- ${at}: ${fmt(p.deliveredPct, 1)}% delivered by the end of the drain (CPU for the rest is still counted)`);
        if (p.closedDuring > 0) notes.push(`- ${at}: ${p.closedDuring} subscriber connections closed during the phase`);
        if (p.countMismatches > 0) notes.push(`- ${at}: ${p.countMismatches} tracked frames where the delivery count disagreed with the parsed frame`);
        if (p.p50Ms > BACKLOG_P50_MS) notes.push(`- ${at}: p50 ${p.p50Ms} ms: receivers or servers fell behind (sockets backed up); lower --connections or --rate for a fair ratio`);
        if (p.publisherMaxLagMs > 50) notes.push(`- ${at}: the publishers fell up to ${p.publisherMaxLagMs} ms behind schedule (charged to latency)`);
        if (p.clientCpuPct > 80 * clientProcs) notes.push(`- ${at}: subscriber processes at ${fmt(p.clientCpuPct, 0)}% CPU: the client generator, not the server, may have set the pace`);
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
        'Redis: CPU-ms per 1,000 requests (auth and rate limiting). other load: CPU the machine spent outside the bench\'s own processes, % of all cores: neighbours.',
      '',
      markdownTable(
        ['split (processes x threads)', 'msgs/s', 'req/s', 'p50 ms', 'p99 ms', 'server CPU s', '% of cores', 'msgs / CPU-s', 'RSS MiB', 'Redis ms / 1,000 req', 'autocannon CPU', 'other load', 'errors', 'vs 1 process'],
        engine.map((r) => {
          const b = r.best;
          if (b === null) return [r.split, `not available: ${r.reason ?? 'unknown'}`, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
          return [
            r.split, fmt(b.msgsPerS, 0), fmt(b.reqPerS, 1), String(b.p50Ms), String(b.p99Ms),
            `${fmt(b.serverCpuS, 2)}${b.perProcessCpuS.length > 1 ? ` (${b.perProcessCpuS.map((p) => `${p.role === 'primary' ? 'primary ' : ''}${fmt(p.cpuS, 2)}`).join(' + ')})` : ''}`,
            `${fmt(b.serverCoresPct, 0)}%`, fmt(b.msgsPerCpuS, 0), fmt(b.rssMiB, 0), fmt(b.redisCpuMsPer1000Req, 1), `${fmt(b.loadGenCpuPct, 0)}%`, `${fmt(b.otherLoadPct, 0)}%`,
            String(b.errors + b.timeouts + b.non2xx), r.vsOneProcess === null ? '-' : `${fmt(r.vsOneProcess, 2)}x`,
          ];
        }),
      ),
      '',
    );
    const multi = engine.filter((r) => r.processes > 1 && r.vsOneProcess !== null);
    for (const r of multi) lines.push(`- Scaling, ${r.split} vs 1 process: ${fmt(r.vsOneProcess as number, 2)}x classified messages/s`);
    if (rounds > 1) for (const r of engine) lines.push(`- ${r.split} rounds: ${r.rows.map((x) => `${fmt(x.msgsPerS, 0)} msgs/s (load ${x.loadAvg})`).join(', ')}`);
    lines.push(`- ${rec === null ? 'No recommendation: no split was measured.' : rec.line}`);
    for (const r of engine) {
      if (r.available && r.reason !== null) notes.push(`- ${r.split}: stopped early (${r.reason})`);
      for (const x of r.rows) if (x.errors + x.timeouts + x.non2xx > 0) notes.push(`- ${r.split} round ${x.round}: ${x.errors} errors, ${x.timeouts} timeouts, ${x.non2xx} non-2xx responses`);
    }
  }
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes);
  return lines.join('\n');
}

// =============================================================================================== main

// Every step is bounded on its own; this is the backstop should one hang anyway.
const fanoutBoundS = 2 * (START_TIMEOUT_MS / 1000 + 200 + Math.ceil(connections / wave) * (CONNECT_TIMEOUT_MS / 1000 + 5) + rates.length * (rounds + 1) * (durationS + drainS + 40));
const engineBoundS = splits.length * (START_TIMEOUT_MS / 1000 + 30 + rounds * (durationS + WARM_PHASE_S + 70));
const holdBoundS = START_TIMEOUT_MS / 1000 + 60 + Math.ceil(holdTarget / wave) * (CONNECT_TIMEOUT_MS / 1000 + 5);
const boundS = 60 + (parts.includes('fanout') ? fanoutBoundS : 0) + (parts.includes('engine') ? engineBoundS : 0) + (parts.includes('hold') ? holdBoundS : 0);
const watchdog = setTimeout(() => {
  console.error(`bench:cluster: still running after ${boundS}s: giving up`);
  process.exit(2);
}, boundS * 1000);
watchdog.unref();
// The exit handlers in ws-procs.ts and cluster-procs.ts kill every child (servers, workers, redis, clients).
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

progress(`machine: ${machineLine(host)}`);
progress(`model: ${modelDir}; parts: ${parts.join(', ')}`);
const redis = await startRedis();
progress(`redis-server on 127.0.0.1:${redis.port} (pid ${redis.pid}), no persistence`);
const fanout: FanoutResult[] = [];
let engine: EngineResult[] = [];
let hold: HoldResult | null = null;
try {
  if (parts.includes('fanout')) {
    fanout.push(await runFanout('one', redis));
    fanout.push(await runFanout('two', redis));
  }
  if (parts.includes('engine')) engine = await runEngine(redis);
  if (parts.includes('hold')) hold = await runHold(redis);
} finally {
  await redis.stop();
}
const comparisons = compare(fanout);
const loadAvgEnd = round(loadavg()[0] ?? NaN, 2);
const rec = parts.includes('engine') ? recommend(engine, loadAvgEnd) : null;
const markdown = [report(fanout, comparisons, engine, rec, loadAvgEnd), ...(hold ? holdReport(hold) : [])].join('\n');
const files = writeResults(
  'cluster',
  {
    name: 'cluster', machine: host, loadAvgEnd, model: modelDir, parts,
    settings: {
      connections, channels, publishers: publisherCount, rates, durationS, rounds, warmPhaseS: WARM_PHASE_S, drainS, pool, clientProcs, wave, trackPerChannel,
      splits: splits.map(splitName), concurrency, batchTexts, corpus: corpus.source,
    },
    fanout, comparisons, engine, hold,
    recommendation: rec,
  },
  markdown,
);
console.log('\n' + markdown + '\n');
progress(`wrote ${files.join(', ')}`);
