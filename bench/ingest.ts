// Ingest benchmark (npm run bench:ingest [-- --quick --subscribers 50 --steps 200,500,1000,2000,5000
// --seconds 5 --model DIR --batch --texts unique|repeat]): Twitch chat pushed at rising rates through
// ChatPulse's real ingest path (tmi.js -> engine -> hub -> WebSocket subscribers), end to end.
//
// Two processes, so that what is measured is the one under test:
// - this process holds ChatPulse (startChatPulse, in-process, so the engine's counters are at hand) and,
//   before ChatPulse starts, the baseline: a bare tmi.js client that only receives. Its CPU time
//   (process.cpuUsage: every thread, the inference workers included) is the server's;
// - a forked copy of this file (`--role load`) holds the load generator: the local Twitch-IRC server
//   pushing the chat and the subscribers receiving it (the client SDK's LiveConnection over `ws`, as an
//   application would). Its CPU is read from /proc and reported apart: on 2 cores it competes with
//   ChatPulse for them, which caps the rates that can be offered.
//
// Every line's IRC message id carries its sequence number and the wall-clock time its frame was written
// (`b<seq>t<epoch ms>`), and reaches subscribers as `source_id`: latency is IRC send -> WS delivery.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import tmi from 'tmi.js';
import type { ChatUserstate } from 'tmi.js';
import WebSocket from 'ws';
import type { ChatPulse } from '../src/app/index.js';
// The client SDK has no dependencies: the load process imports it without pulling in ChatPulse.
import { ChatPulseClient, LiveConnection, type MessageFrame } from '../src/client/index.js';
// A test double imported by a bench, on purpose: it is the only Twitch IRC edge we can drive at a chosen
// rate without a network or an account, and it is the same double the ingest tests trust to speak enough
// of Twitch's dialect for the real tmi.js client (the one inside ChatPulse and the baseline's) to work.
import { startTwitchIrcServer, type ChatLine, type TwitchIrcServer } from '../test/twitch-irc-server.js';
import { loadCorpus, uniqueText, type Corpus } from './corpus.js';
import { int, parseFlags, positive, positiveList } from './lib/flags.js';
import { loadAvgNow, machine, machineLine, resolveModelDir } from './lib/machine.js';
import { drainDeliveries, sleep } from './lib/phases.js';
import { cpuSeconds, cpuSum, cpuTime, machineBusyS } from './lib/proc.js';
import { guardRun, spawnNode } from './lib/processes.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';
import { percentile } from './lib/stats.js';

const flags = parseFlags(['role', 'subscribers', 'steps', 'seconds', 'drain', 'track', 'model', 'texts'], ['quick', 'batch']);

/** Wall-clock ms with sub-ms resolution: comparable between the two processes of one machine. */
const nowEpoch = (): number => performance.timeOrigin + performance.now();

const BASE_CHANNEL = 'benchbase';
const STREAM_CHANNEL = 'benchstream';
const TICK_MS = 10;

// ------------------------------------------------------------------------------------------------ shared

/** Unique deliveries of the current step to one receiver (a subscriber, or the baseline's tmi client). */
class Tally {
  base = 0;
  size = 0;
  windowEnd = Infinity;
  seen = new Uint8Array(0);
  unique = 0;
  inWindow = 0;
  dups = 0;
  /** Lines of an earlier step (arrived after its drain) or of the warm-up. */
  stray = 0;
  readonly latencies: number[] | null;

  constructor(track: boolean) {
    this.latencies = track ? [] : null;
  }

  reset(base: number, size: number, windowEnd: number): void {
    this.base = base;
    this.size = size;
    this.windowEnd = windowEnd;
    this.seen = new Uint8Array(size);
    this.unique = this.inWindow = this.dups = this.stray = 0;
    if (this.latencies) this.latencies.length = 0;
  }

  add(seq: number, sentEpoch: number, now: number): void {
    const k = seq - this.base;
    if (k < 0 || k >= this.size) {
      this.stray++;
      return;
    }
    if (this.seen[k] === 1) {
      this.dups++;
      return;
    }
    this.seen[k] = 1;
    this.unique++;
    if (now <= this.windowEnd) this.inWindow++;
    this.latencies?.push(now - sentEpoch);
  }
}

/** `b<seq>t<epoch>` (a line's IRC id, a message's `source_id`) -> [seq, epoch], or null for an id the bench did not make. */
function parseId(id: string): [number, number] | null {
  const t = id.indexOf('t');
  if (id[0] !== 'b' || t < 2) return null;
  const seq = Number(id.slice(1, t));
  const sent = Number(id.slice(t + 1));
  return Number.isInteger(seq) && Number.isFinite(sent) ? [seq, sent] : null;
}

interface StepPlan {
  channel: string;
  rate: number;
  seconds: number;
  firstSeq: number;
  /** Epoch ms of the first line: a little ahead, so both processes have reset their tallies by then. */
  startEpoch: number;
}

const linesOf = (plan: Pick<StepPlan, 'rate' | 'seconds'>) => Math.max(1, Math.round(plan.rate * plan.seconds));

interface Collected {
  held: number;
  unique: number;
  inWindow: number;
  minUnique: number;
  dups: number;
  stray: number;
  closed: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

type ToLoad =
  | { cmd: 'irc' }
  | { cmd: 'connect'; baseUrl: string; channel: string; count: number; batch: boolean; track: number }
  | { cmd: 'joined'; channel: string }
  | { cmd: 'reset'; plan: StepPlan }
  | { cmd: 'send'; plan: StepPlan }
  | { cmd: 'collect'; latencies: boolean }
  | { cmd: 'close' };

type FromLoad =
  | { type: 'irc'; url: string }
  | { type: 'connected'; held: number; failed: number; failure: string | null }
  | { type: 'joined'; n: number }
  | { type: 'reset' }
  | { type: 'sent'; sent: number; ticks: number; maxLagMs: number; endEpoch: number }
  | { type: 'collected'; stats: Collected }
  | { type: 'closed' }
  | { type: 'error'; message: string };

// ------------------------------------------------------------------------------------------ load process

/** `ws` for the SDK, set up as a bench client: no compression offered, no UTF-8 check of text frames. */
class BenchSocket extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 10_000 });
  }
}

async function loadMain(): Promise<void> {
  const send = (msg: FromLoad) => process.send?.(msg);
  const corpus: Corpus = loadCorpus('twitch');
  const repeat = flags.texts === 'repeat';
  // Chat lines hold no CR/LF (they would split the IRC line) and Twitch caps them at 500 characters.
  const texts = corpus.texts.map((t) => t.replace(/[\r\n]+/g, ' ').slice(0, 480));
  const textOf = (seq: number) => (repeat ? (texts[seq % texts.length] as string) : uniqueText({ source: corpus.source, texts }, seq));
  let irc: TwitchIrcServer | null = null;

  interface Sub {
    live: LiveConnection;
    tally: Tally;
    errors: number;
  }
  const subs: Sub[] = [];
  let closedAtReset = 0;

  /** A delivery, timed when the SDK hands the parsed frame over (as an application would see it). */
  const record = (sub: Sub, m: MessageFrame, now: number) => {
    const parsed = m.source_id === undefined ? null : parseId(m.source_id);
    if (parsed) sub.tally.add(parsed[0], parsed[1], now);
  };

  const connectOne = async (baseUrl: string, channel: string, batch: boolean, track: boolean): Promise<Sub> => {
    const live = new LiveConnection({
      url: baseUrl,
      WebSocket: BenchSocket,
      // What the server does, unsmoothed: a socket it closes (past WS_MAX_BACKPRESSURE) stays closed and is
      // counted, not replaced; a line delivered twice is counted, not dropped as a replay; no pings.
      reconnect: false,
      heartbeat: false,
      dedupe: 0,
    });
    const sub: Sub = { live, tally: new Tally(track), errors: 0 };
    // Set by the 'error' listener (a closure: the type says so, or the `??` below would read as dead).
    let socketError = null as string | null;
    live.on('message', (m) => record(sub, m, nowEpoch()));
    live.on('messages', (f) => {
      const now = nowEpoch();
      for (const m of f.items) record(sub, m, now);
    });
    live.on('error', (e) => {
      // Transport trouble ends in a close (counted as such); error frames from the server are counted here.
      if (e.code === 'socket_error') socketError = e.message;
      else sub.errors++;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        live.subscribe(channel, { batch }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no "subscribed" within 10 s')), 10_000);
        }),
      ]);
      return sub;
    } catch (err) {
      live.close();
      throw new Error(socketError ?? (err instanceof Error ? err.message : String(err)), { cause: err });
    } finally {
      clearTimeout(timer);
    }
  };

  const collect = (latencies: boolean): Collected => {
    const all: number[] = [];
    let unique = 0;
    let inWindow = 0;
    let dups = 0;
    let stray = 0;
    let errors = 0;
    let minUnique = Infinity;
    for (const s of subs) {
      unique += s.tally.unique;
      inWindow += s.tally.inWindow;
      dups += s.tally.dups;
      stray += s.tally.stray;
      errors += s.errors;
      minUnique = Math.min(minUnique, s.tally.unique);
      if (latencies && s.tally.latencies) for (const l of s.tally.latencies) all.push(l);
    }
    all.sort((a, b) => a - b);
    const held = subs.length - closedAtReset;
    return {
      held,
      unique,
      inWindow,
      minUnique: subs.length === 0 ? 0 : minUnique,
      dups,
      stray,
      closed: subs.filter((s) => !s.live.isOpen).length - closedAtReset,
      errors,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      max: all.at(-1) ?? 0,
      samples: all.length,
    };
  };

  const pushLines = async (plan: StepPlan) => {
    const server = irc as TwitchIrcServer;
    const total = linesOf(plan);
    let sent = 0;
    let ticks = 0;
    let maxLagMs = 0;
    await sleep(Math.max(0, plan.startEpoch - nowEpoch()));
    for (;;) {
      const now = nowEpoch();
      // Line k is due at startEpoch + k / rate; whatever is due goes out now, in one frame.
      const due = Math.min(total, Math.floor(((now - plan.startEpoch) * plan.rate) / 1000) + 1);
      if (due > sent) {
        maxLagMs = Math.max(maxLagMs, now - (plan.startEpoch + (sent * 1000) / plan.rate));
        const lines: ChatLine[] = [];
        for (let k = sent; k < due; k++) {
          const seq = plan.firstSeq + k;
          const viewer = seq % 997;
          lines.push({
            id: `b${seq}t${now.toFixed(3)}`,
            login: `viewer${viewer}`,
            userId: String(100_000 + viewer),
            ...(viewer % 7 === 0 ? { badges: 'subscriber/6' } : {}),
            text: textOf(seq),
          });
        }
        server.sayMany(plan.channel, lines);
        sent = due;
        ticks++;
      }
      if (sent >= total) break;
      await sleep(TICK_MS);
    }
    return { sent, ticks, maxLagMs, endEpoch: nowEpoch() };
  };

  process.on('message', (message: unknown) => {
    const raw = message as ToLoad;
    void (async () => {
      try {
        switch (raw.cmd) {
          case 'irc':
            irc = await startTwitchIrcServer();
            send({ type: 'irc', url: irc.url });
            return;
          case 'connect': {
            let failed = 0;
            let failure: string | null = null;
            // A few at a time: the server's per-IP connect limit is raised by the bench, not its handshake cost.
            for (let k = 0; k < raw.count; k += 10) {
              const batch = await Promise.allSettled(
                Array.from({ length: Math.min(10, raw.count - k) }, (_, j) =>
                  connectOne(raw.baseUrl, raw.channel, raw.batch, k + j < raw.track),
                ),
              );
              for (const r of batch) {
                if (r.status === 'fulfilled') subs.push(r.value);
                else {
                  failed++;
                  failure ??= r.reason instanceof Error ? r.reason.message : String(r.reason);
                }
              }
            }
            send({ type: 'connected', held: subs.length, failed, failure });
            return;
          }
          case 'joined':
            send({ type: 'joined', n: irc?.joined(raw.channel) ?? 0 });
            return;
          case 'reset':
            closedAtReset = subs.filter((s) => !s.live.isOpen).length;
            for (const s of subs) s.tally.reset(raw.plan.firstSeq, linesOf(raw.plan), raw.plan.startEpoch + raw.plan.seconds * 1000);
            send({ type: 'reset' });
            return;
          case 'send':
            send({ type: 'sent', ...(await pushLines(raw.plan)) });
            return;
          case 'collect':
            send({ type: 'collected', stats: collect(raw.latencies) });
            return;
          case 'close':
            for (const s of subs) s.live.close();
            await irc?.close();
            send({ type: 'closed' });
            process.disconnect();
            return;
        }
      } catch (err) {
        send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
}

// ------------------------------------------------------------------------------------------ bench process

/** CPU seconds of this process's main thread (the event loop) alone; the rest are inference workers, GC and I/O threads. */
const mainThreadCpuS = (): number => cpuSum(cpuTime(process.pid, process.pid));

const quick = flags.quick === true;

class Load {
  private waiting: { type: FromLoad['type']; resolve: (m: FromLoad) => void; reject: (e: Error) => void } | null = null;

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: unknown) => {
      const m = message as FromLoad;
      const w = this.waiting;
      if (w === null) return;
      this.waiting = null;
      if (m.type === 'error') w.reject(new Error(`load generator: ${m.message}`));
      else if (m.type !== w.type) w.reject(new Error(`load generator answered ${m.type}, expected ${w.type}`));
      else w.resolve(m);
    });
    child.once('exit', (code, signal) => this.waiting?.reject(new Error(`load generator exited (${signal ?? code})`)));
  }

  request<T extends FromLoad['type']>(msg: ToLoad, type: T, timeoutMs: number): Promise<Extract<FromLoad, { type: T }>> {
    if (this.waiting !== null) throw new Error('one request at a time');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`load generator: no "${type}" within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      this.waiting = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<FromLoad, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(msg);
    });
  }

  cpuS(): number {
    return cpuSeconds(this.child.pid as number);
  }
}

interface StepRow {
  rate: number;
  seconds: number;
  sent: number;
  /** Receivers held at the step's start (subscribers; 1 for the baseline). */
  receivers: number;
  expected: number;
  unique: number;
  /** Unique lines per second per receiver, arrived within the step's own seconds. */
  deliveredPerS: number;
  deliveredPct: number;
  /** The receiver that got the fewest lines, in % of the lines sent. */
  worstPct: number;
  neverDelivered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  latencySamples: number;
  dups: number;
  stray: number;
  closed: number;
  errors: number;
  cpuS: number;
  /** Of cpuS, the main thread's: the event loop (tmi.js, hub, fan-out, store writer); the rest is mostly inference. */
  mainCpuS: number;
  cpuPct: number;
  cpuMsPer1000: number;
  loadCpuPct: number;
  /** What the rest of the machine (neighbours) used over the step, in % of all cores. */
  otherLoadPct: number;
  drainS: number;
  senderMaxLagMs: number;
  /** ChatPulse only. */
  ingestMessages: number | null;
  ingestDropped: number | null;
  engineBatches: number | null;
  engineMeanBatch: number | null;
  /** ChatPulse only: each stage's p99 over the step (ms, as the histogram bucket bound it falls in), from /metrics. */
  stageP99Ms: Record<string, number | null> | null;
  engineShed: number | null;
  vsTmiCpu: number | null;
}

async function benchMain(): Promise<void> {
  const subscribers = int('subscribers', flags.subscribers, quick ? 20 : 50);
  const steps = positiveList('steps', flags.steps ?? (quick ? '200,1000,3000' : '200,500,1000,2000,5000')).map(Math.round);
  const seconds = positive('seconds', flags.seconds, quick ? 2 : 5);
  const maxDrainS = positive('drain', flags.drain, quick ? 8 : 15);
  const track = int('track', flags.track, 10);
  const batch = flags.batch === true;
  const textsMode = flags.texts ?? 'unique';
  if (textsMode !== 'unique' && textsMode !== 'repeat') throw new Error('--texts must be unique or repeat');
  const modelDir = resolveModelDir(flags.model);
  const host = machine();
  const WARM_S = 2;
  // JIT, the inference threads' first runs and socket buffers warm up on a few thousand lines, not on a trickle.
  const warmRate = Math.min(1000, Math.max(...steps));
  /** A drain ends once the deliveries stopped growing for this long (the rest were dropped, not late). */
  const QUIET_MS = 1500;

  guardRun('bench:ingest', 180 + steps.length * 2 * (WARM_S + seconds + maxDrainS + 10), 'its time budget');

  progress(`machine: ${machineLine(host)}`);
  progress(
    `steps ${steps.join(', ')} lines/s, ${seconds}s each; ${subscribers} subscribers (${batch ? 'batched' : 'per-message'}); texts ${textsMode}; model ${modelDir}`,
  );
  // Killed with the bench (lib/processes.ts), like every child it starts.
  const child = spawnNode([fileURLToPath(import.meta.url), '--role', 'load', '--texts', textsMode], {}, true);
  const load = new Load(child);
  const { url: ircUrl } = await load.request({ cmd: 'irc' }, 'irc', 30_000);
  progress(`Twitch-IRC double at ${ircUrl} (load-generator process ${child.pid})`);
  let nextSeq = 1;

  /** Resets the tallies (ours via `local`, the subscribers' in the load process), sends the step, drains. */
  async function runStep(
    channel: string,
    rate: number,
    secs: number,
    local: Tally | null,
    delivered: () => Promise<{ unique: number; expected: number }>,
    extraQuiet: () => boolean,
  ): Promise<{
    plan: StepPlan;
    sent: number;
    maxLagMs: number;
    cpuS: number;
    mainCpuS: number;
    loadCpuS: number;
    otherS: number;
    wallS: number;
    drainS: number;
  }> {
    const plan: StepPlan = { channel, rate, seconds: secs, firstSeq: nextSeq, startEpoch: nowEpoch() + 200 };
    nextSeq += linesOf(plan);
    local?.reset(plan.firstSeq, linesOf(plan), plan.startEpoch + secs * 1000);
    await load.request({ cmd: 'reset', plan }, 'reset', 10_000);
    await sleep(Math.max(0, plan.startEpoch - nowEpoch()));
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpuS();
    const loadCpu0 = load.cpuS();
    const busy0 = machineBusyS();
    const began = nowEpoch();
    const { sent, maxLagMs, endEpoch } = await load.request({ cmd: 'send', plan }, 'sent', (secs + 60) * 1000);
    await drainDeliveries(
      async () => {
        const { unique, expected } = await delivered();
        return { delivered: unique, expected };
      },
      { maxMs: maxDrainS * 1000, quietMs: QUIET_MS, everyMs: 100, settled: extraQuiet },
    );
    const ended = nowEpoch();
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const loadCpuS = load.cpuS() - loadCpu0;
    return {
      plan,
      sent,
      maxLagMs,
      cpuS,
      mainCpuS: mainThreadCpuS() - main0,
      loadCpuS,
      otherS: Math.max(0, machineBusyS() - busy0 - cpuS - loadCpuS),
      wallS: (ended - began) / 1000,
      drainS: (ended - endEpoch) / 1000,
    };
  }

  // ------------------------------------------------------------------ baseline: bare tmi.js, no ChatPulse
  const irc = new URL(ircUrl);
  const bare = new tmi.Client({
    options: { skipUpdatingEmotesets: true, skipMembership: true },
    connection: { server: irc.hostname, port: Number(irc.port), secure: false, reconnect: false },
    channels: [`#${BASE_CHANNEL}`],
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  const bareTally = new Tally(true);
  bare.on('message', (_room: string, tags: ChatUserstate) => {
    const now = nowEpoch();
    const parsed = typeof tags.id === 'string' ? parseId(tags.id) : null;
    if (parsed) bareTally.add(parsed[0], parsed[1], now);
  });
  const joined = new Promise<void>((resolve) => bare.on('join', (_room: string, _nick: string, self: boolean) => self && resolve()));
  await bare.connect();
  await joined;
  progress(`baseline: bare tmi.js client joined #${BASE_CHANNEL} in this process (ChatPulse not started yet)`);
  const bareDelivered = async () => ({ unique: bareTally.unique, expected: bareTally.size });
  await runStep(BASE_CHANNEL, warmRate, WARM_S, bareTally, bareDelivered, () => true);
  const baseline: StepRow[] = [];
  for (const rate of steps) {
    const r = await runStep(BASE_CHANNEL, rate, seconds, bareTally, bareDelivered, () => true);
    const lat = [...(bareTally.latencies ?? [])].sort((a, b) => a - b);
    const row: StepRow = {
      rate,
      seconds,
      sent: r.sent,
      receivers: 1,
      expected: r.sent,
      unique: bareTally.unique,
      deliveredPerS: bareTally.inWindow / seconds,
      deliveredPct: (100 * bareTally.unique) / r.sent,
      worstPct: (100 * bareTally.unique) / r.sent,
      neverDelivered: r.sent - bareTally.unique,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      maxMs: lat.at(-1) ?? 0,
      latencySamples: lat.length,
      dups: bareTally.dups,
      stray: bareTally.stray,
      closed: 0,
      errors: 0,
      cpuS: r.cpuS,
      mainCpuS: r.mainCpuS,
      cpuPct: (100 * r.cpuS) / r.wallS,
      cpuMsPer1000: (1e6 * r.cpuS) / r.sent,
      loadCpuPct: (100 * r.loadCpuS) / r.wallS,
      otherLoadPct: (100 * r.otherS) / (r.wallS * host.cores),
      drainS: r.drainS,
      senderMaxLagMs: r.maxLagMs,
      ingestMessages: null,
      ingestDropped: null,
      engineBatches: null,
      engineMeanBatch: null,
      stageP99Ms: null,
      engineShed: null,
      vsTmiCpu: null,
    };
    baseline.push(row);
    progress(
      `  tmi.js @${rate}/s: ${fmt(row.deliveredPerS, 0)} lines/s, ${fmt(row.deliveredPct, 2)}% received, p50 ${fmt(row.p50Ms, 2)} ms, p99 ${fmt(row.p99Ms, 2)} ms, ` +
        `CPU ${fmt(row.cpuMsPer1000, 1)} ms / 1,000 lines, load generator ${fmt(row.loadCpuPct, 0)}%, other load ${fmt(row.otherLoadPct, 0)}% of the cores`,
    );
  }
  await bare.disconnect().catch(() => undefined);

  // ------------------------------------------------------------------ ChatPulse, in this process
  // Imported here, not at the top: the load-generator process needs none of ChatPulse (nor its native addons).
  const { startChatPulse } = await import('../src/app/index.js');
  const { loadConfig } = await import('../src/config.js');
  const { createLogger } = await import('../src/observability/log.js');
  const passThrough = [
    'INFERENCE_THREADS',
    'BATCH_MAX_ITEMS',
    'BATCH_MAX_WAIT_MS',
    'QUEUE_MAX',
    'CACHE_SIZE',
    'WS_BATCH_TICK_MS',
    'ORT_INTRA_OP_THREADS',
  ];
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    TWITCH_IRC_URL: ircUrl,
    MODEL_DIR: modelDir,
    JWT_SECRET: randomBytes(36).toString('base64'),
    // Memory state and store, whatever the shell exports: one process, nothing else to wait on.
    REDIS_URL: '',
    MONGODB_URL: '',
    // The subscribers all come from 127.0.0.1: the per-IP connect limit is raised past them.
    WS_CONNECT_RATE_PER_MIN: '1000000',
    ...Object.fromEntries(passThrough.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k] as string])),
  });
  progress(
    `starting ChatPulse: ${config.inferenceThreads} inference thread(s), batches of up to ${config.batchMaxItems}, queue ${config.queueMax}, cache ${config.cacheSize}`,
  );
  const app: ChatPulse = await startChatPulse(config, createLogger('warn'));
  const base = `http://127.0.0.1:${app.port}`;
  const client = new ChatPulseClient({ baseUrl: base });
  await client.auth.register('bench_ingest', 'bench-password-1');
  await client.auth.login('bench_ingest', 'bench-password-1');

  const wsChannel = `twitch:${STREAM_CHANNEL}`;
  const connected = await load.request(
    { cmd: 'connect', baseUrl: base, channel: wsChannel, count: subscribers, batch, track },
    'connected',
    120_000,
  );
  progress(
    `${connected.held} subscribers on ${wsChannel}${connected.failed > 0 ? `, ${connected.failed} failed: ${connected.failure}` : ''}`,
  );
  if (connected.held === 0) throw new Error('no subscriber connected');
  const stream = await client.ingest.create({ source: 'twitch', channel: STREAM_CHANNEL });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { n } = await load.request({ cmd: 'joined', channel: STREAM_CHANNEL }, 'joined', 5000);
    const view = await client.ingest.get(stream.id);
    if (n >= 1 && view.status === 'live') break;
    if (Date.now() > deadline) throw new Error(`ChatPulse did not join #${STREAM_CHANNEL} (status ${view.status})`);
    await sleep(100);
  }
  progress(`ingest ${stream.id} live on #${STREAM_CHANNEL}`);
  const counters = async () => (await client.ingest.get(stream.id)).counters;
  let expectedNow = 0;
  const subsDelivered = async () => {
    const { stats } = await load.request({ cmd: 'collect', latencies: false }, 'collected', 30_000);
    return { unique: stats.unique, expected: expectedNow };
  };
  const engineIdle = () => {
    const s = app.engine.stats();
    return s.queued === 0 && s.inFlightBatches === 0;
  };

  const stageBuckets = async () => parseStageBuckets(await (await fetch(`${base}/metrics`)).text());
  const stepChatPulse = async (rate: number, secs: number) => {
    const h0 = await stageBuckets();
    const c0 = await counters();
    const e0 = app.engine.stats();
    // Expected deliveries: each line to every subscriber held at the step's start.
    expectedNow = Infinity;
    const heldBefore = (await load.request({ cmd: 'collect', latencies: false }, 'collected', 30_000)).stats;
    const receivers = heldBefore.held - heldBefore.closed;
    expectedNow = linesOf({ rate, seconds: secs }) * receivers;
    const r = await runStep(STREAM_CHANNEL, rate, secs, null, subsDelivered, engineIdle);
    const e1 = app.engine.stats();
    const c1 = await counters();
    const stats = (await load.request({ cmd: 'collect', latencies: true }, 'collected', 60_000)).stats;
    const batches = e1.batches - e0.batches;
    const stages = stageP99s(h0, await stageBuckets());
    return { r, stats, receivers, c0, c1, batches, items: e1.items - e0.items, shed: e1.shed - e0.shed, stages };
  };

  await stepChatPulse(warmRate, WARM_S);
  const rows: StepRow[] = [];
  for (const rate of steps) {
    progress(`ChatPulse @${rate} lines/s for ${seconds}s`);
    const { r, stats, receivers, c0, c1, batches, items, shed, stages } = await stepChatPulse(rate, seconds);
    const expected = r.sent * receivers;
    const bareRow = baseline.find((b) => b.rate === rate);
    const cpuMsPer1000 = (1e6 * r.cpuS) / r.sent;
    const row: StepRow = {
      rate,
      seconds,
      sent: r.sent,
      receivers,
      expected,
      unique: stats.unique,
      deliveredPerS: stats.inWindow / receivers / seconds,
      deliveredPct: (100 * stats.unique) / expected,
      worstPct: (100 * stats.minUnique) / r.sent,
      neverDelivered: expected - stats.unique,
      p50Ms: stats.p50,
      p99Ms: stats.p99,
      maxMs: stats.max,
      latencySamples: stats.samples,
      dups: stats.dups,
      stray: stats.stray,
      closed: stats.closed,
      errors: stats.errors,
      cpuS: r.cpuS,
      mainCpuS: r.mainCpuS,
      cpuPct: (100 * r.cpuS) / r.wallS,
      cpuMsPer1000,
      loadCpuPct: (100 * r.loadCpuS) / r.wallS,
      otherLoadPct: (100 * r.otherS) / (r.wallS * host.cores),
      drainS: r.drainS,
      senderMaxLagMs: r.maxLagMs,
      ingestMessages: c1.messages - c0.messages,
      ingestDropped: c1.dropped - c0.dropped,
      engineBatches: batches,
      engineMeanBatch: batches === 0 ? null : items / batches,
      stageP99Ms: stages,
      engineShed: shed,
      vsTmiCpu: bareRow === undefined ? null : cpuMsPer1000 / bareRow.cpuMsPer1000,
    };
    rows.push(row);
    progress(
      `  ${fmt(row.deliveredPerS, 0)} lines/s per subscriber, ${fmt(row.deliveredPct, 2)}% delivered, p50 ${fmt(row.p50Ms, 1)} ms, p99 ${fmt(row.p99Ms, 1)} ms, ` +
        `ingest dropped ${row.ingestDropped}, mean batch ${fmt(row.engineMeanBatch ?? NaN, 1)}, CPU ${fmt(cpuMsPer1000, 1)} ms / 1,000 lines ` +
        `(${fmt(row.vsTmiCpu ?? NaN, 1)}x tmi.js), load generator ${fmt(row.loadCpuPct, 0)}%, other load ${fmt(row.otherLoadPct, 0)}%, drained in ${fmt(row.drainS, 1)}s; ` +
        `p99 by stage: ${stageLine(stages)}`,
    );
  }

  await client.ingest.delete(stream.id).catch(() => undefined);
  await load.request({ cmd: 'close' }, 'closed', 30_000).catch(() => undefined);
  await app.stop();
  const loadAvgEnd = loadAvgNow();

  const ok = (r: StepRow) => r.deliveredPct >= 99 && r.p99Ms < 1000;
  const sustainable = rows.filter(ok).reduce<StepRow | null>((best, r) => (best === null || r.rate > best.rate ? r : best), null);
  const ms = (x: number) => (x >= 100 ? fmt(x, 0) : fmt(x, 1));
  const bareTable = markdownTable(
    [
      'offered lines/s',
      'lines sent',
      'received lines/s',
      'received',
      'p50 ms',
      'p99 ms',
      'CPU s (% of a core)',
      'CPU ms / 1,000 lines',
      'load generator CPU',
      'other load',
    ],
    baseline.map((r) => [
      String(r.rate),
      String(r.sent),
      fmt(r.deliveredPerS, 0),
      `${fmt(r.deliveredPct, 2)}%`,
      ms(r.p50Ms),
      ms(r.p99Ms),
      `${fmt(r.cpuS, 2)} (${fmt(r.cpuPct, 0)}%)`,
      fmt(r.cpuMsPer1000, 1),
      `${fmt(r.loadCpuPct, 0)}%`,
      `${fmt(r.otherLoadPct, 0)}%`,
    ]),
  );
  const cpTable = markdownTable(
    [
      'offered lines/s',
      'delivered lines/s per subscriber',
      'delivered / offered',
      'worst subscriber',
      'p50 ms',
      'p99 ms',
      'never delivered',
      'ingest dropped',
      'engine mean batch',
      'CPU s (% of a core)',
      'of which main thread',
      'CPU ms / 1,000 lines',
      'CPU vs tmi.js',
      'load generator CPU',
      'other load',
      'drain s',
    ],
    rows.map((r) => [
      String(r.rate),
      fmt(r.deliveredPerS, 0),
      `${fmt(r.deliveredPct, 2)}%`,
      `${fmt(r.worstPct, 2)}%`,
      ms(r.p50Ms),
      ms(r.p99Ms),
      `${r.neverDelivered} (${fmt(r.neverDelivered / r.receivers, 0)} lines each)`,
      String(r.ingestDropped),
      r.engineMeanBatch === null ? '-' : fmt(r.engineMeanBatch, 1),
      `${fmt(r.cpuS, 2)} (${fmt(r.cpuPct, 0)}%)`,
      `${fmt((100 * r.mainCpuS) / r.cpuS, 0)}%`,
      fmt(r.cpuMsPer1000, 1),
      r.vsTmiCpu === null ? '-' : `${fmt(r.vsTmiCpu, 1)}x`,
      `${fmt(r.loadCpuPct, 0)}%`,
      `${fmt(r.otherLoadPct, 0)}%`,
      fmt(r.drainS, 1),
    ]),
  );
  const notes: string[] = [];
  for (const r of rows) {
    const at = `ChatPulse @${r.rate}/s`;
    if (r.stageP99Ms !== null) notes.push(`- ${at}: p99 by stage (chatpulse_ingest_stage_seconds): ${stageLine(r.stageP99Ms)}`);
    if (r.closed > 0)
      notes.push(`- ${at}: ${r.closed} subscriber connections closed during the step (ChatPulse closes a socket past WS_MAX_BACKPRESSURE)`);
    if (r.errors > 0) notes.push(`- ${at}: ${r.errors} error frames received by subscribers`);
    if (r.dups > 0) notes.push(`- ${at}: ${r.dups} duplicate deliveries (the same line twice to one subscriber)`);
    if (r.stray > 0) notes.push(`- ${at}: ${r.stray} deliveries of lines from an earlier step (arrived after its drain ended)`);
    const unaccounted = r.sent - (r.ingestMessages ?? 0) - (r.ingestDropped ?? 0);
    if (unaccounted !== 0)
      notes.push(`- ${at}: ${unaccounted} lines sent but neither published nor counted as dropped by the ingest when the drain ended`);
    if ((r.engineShed ?? 0) > 0)
      notes.push(
        `- ${at}: the engine shed ${r.engineShed} texts (queue full at QUEUE_MAX ${config.queueMax}): counted in "ingest dropped"`,
      );
    if (r.loadCpuPct > 80)
      notes.push(
        `- ${at}: the load generator used ${fmt(r.loadCpuPct, 0)}% of a core: on ${host.cores} cores it competes with ChatPulse, so this step measures the machine as much as ChatPulse`,
      );
    if (r.senderMaxLagMs > 50)
      notes.push(
        `- ${at}: the IRC sender fell up to ${fmt(r.senderMaxLagMs, 0)} ms behind its schedule (lines then went out in one larger frame)`,
      );
  }
  for (const r of baseline) if (r.deliveredPct < 100) notes.push(`- tmi.js @${r.rate}/s: received ${fmt(r.deliveredPct, 2)}% of the lines`);
  const markdown = [
    '# Ingest benchmark',
    '',
    `Machine: ${machineLine(host)}; load avg ${loadAvgEnd} at end`,
    `Setup: the local Twitch-IRC double (test/twitch-irc-server.ts) pushes chat in ${TICK_MS} ms ticks (every line due goes out in one frame) to one channel; ` +
      `texts: ${loadCorpus('twitch').source}, ${textsMode === 'unique' ? 'each made unique by a counter suffix (no cache hit, every line costs inference)' : 'cycled as they are (the sentiment cache hits once a text came round)'}. ` +
      `${seconds}s per step after a ${WARM_S}s warm-up, each step drained (at most ${maxDrainS}s). ` +
      `ChatPulse runs in the bench process (startChatPulse: memory store, model \`${modelDir}\`, ${config.inferenceThreads} inference thread(s), defaults otherwise) ` +
      `and ingests the channel through its own tmi.js client; ${rows[0]?.receivers ?? subscribers} WebSocket subscribers (the client SDK's LiveConnection over \`ws\`, ${batch ? 'batched' : 'per-message'} subscriptions) receive it. ` +
      `The IRC double and the subscribers live in a forked load-generator process; latency is IRC frame written -> WS frame received and parsed by the SDK, on ${track} subscribers.`,
    `CPU: \`process.cpuUsage\` of the bench process over each step and its drain: every thread of ChatPulse (gateway, tmi.js, inference workers) plus the bench's own polling (a few IPC messages per second). ` +
      'The baseline, a bare tmi.js client in the same process before ChatPulse started, is measured the same way. The load generator (from /proc) is not in either figure; it is shown apart, in % of one core. ' +
      "other load: CPU the whole machine spent (/proc/stat) minus the bench's two processes, in % of all cores: what neighbours took. Above a few percent, rates and latencies say more about the machine than about ChatPulse; CPU per line holds up better.",
    '',
    '## Baseline: bare tmi.js (receive only)',
    '',
    bareTable,
    '',
    '## ChatPulse: tmi.js -> sentiment -> WebSocket fan-out',
    '',
    "delivered lines/s per subscriber: unique lines arrived within the step's own seconds, per subscriber. delivered / offered: unique deliveries by the end of the drain over lines sent x subscribers. " +
      "never delivered: the shortfall (all subscribers together). ingest dropped: the stream's `dropped` counter (GET /api/v1/ingest/:id), lines the engine refused. " +
      "engine mean batch: items / batches from `engine.stats()` over the step. of which main thread: the event loop's share (tmi.js, hub, fan-out, store writer; /proc/self/task), the rest being mostly the inference threads. CPU vs tmi.js: CPU per 1,000 lines over the bare tmi.js client's at the same offered rate.",
    '',
    cpTable,
    '',
    sustainable === null
      ? 'Sustainable rate: none of the steps (none had >= 99% delivered with p99 < 1 s).'
      : `Sustainable rate: ${sustainable.rate} lines/s (the highest step with >= 99% delivered and p99 < 1 s: ${fmt(sustainable.deliveredPct, 2)}%, p99 ${ms(sustainable.p99Ms)} ms, ` +
        `${fmt(sustainable.vsTmiCpu ?? NaN, 1)}x the CPU per line of bare tmi.js).`,
    ...(notes.length > 0 ? ['', '## Notes', '', ...notes] : []),
  ].join('\n');
  publishResults(
    'ingest',
    {
      name: 'ingest',
      machine: host,
      loadAvgEnd,
      model: modelDir,
      settings: {
        subscribers,
        steps,
        seconds,
        warmS: WARM_S,
        maxDrainS,
        track,
        batch,
        texts: textsMode,
        tickMs: TICK_MS,
        inferenceThreads: config.inferenceThreads,
      },
      baseline,
      chatpulse: rows,
      sustainableRate: sustainable?.rate ?? null,
    },
    markdown,
  );
}

if (flags.role === 'load') await loadMain();
else {
  await benchMain();
  process.exit(0);
}

/** Cumulative bucket counts of chatpulse_ingest_stage_seconds, per stage and bucket bound (seconds). */
function parseStageBuckets(metrics: string): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('chatpulse_ingest_stage_seconds_bucket{')) continue;
    const stage = /stage="([^"]+)"/.exec(line)?.[1];
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (stage === undefined || le === undefined || !Number.isFinite(count)) continue;
    if (!out.has(stage)) out.set(stage, new Map());
    out.get(stage)?.set(le === '+Inf' ? Infinity : Number(le), count);
  }
  return out;
}

/** Each stage's p99 between two scrapes, as the bound (ms) of the bucket it falls in (Infinity: past the last). */
function stageP99s(before: Map<string, Map<number, number>>, after: Map<string, Map<number, number>>): Record<string, number | null> {
  const result: Record<string, number | null> = {};
  for (const stage of ['receive', 'classify', 'publish', 'total']) {
    const a = after.get(stage) ?? new Map<number, number>();
    const b = before.get(stage) ?? new Map<number, number>();
    const bounds = [...a.keys()].sort((x, y) => x - y);
    const total = (a.get(Infinity) ?? 0) - (b.get(Infinity) ?? 0);
    const bound = bounds.find((le) => (a.get(le) ?? 0) - (b.get(le) ?? 0) >= 0.99 * total);
    result[stage] = total === 0 || bound === undefined ? null : bound * 1000;
  }
  return result;
}

function stageLine(stages: Record<string, number | null>): string {
  return Object.entries(stages)
    .map(([stage, ms]) => `${stage} ${ms === null ? '-' : Number.isFinite(ms) ? `≤ ${fmt(ms, ms < 10 ? 1 : 0)} ms` : '> 5 s'}`)
    .join(', ');
}
