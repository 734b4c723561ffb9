// WebSocket fan-out benchmark (npm run bench:ws [-- --connections 10000 --channels 10 --rate 200,1000
// --duration 10 --servers uws,socketio,chatpulse,... --rounds 1 --model DIR]); flags and how to read it:
// docs/benchmarks.md, "WebSocket fan-out".
//
// Every server runs as a child process and is driven by the same client generator: publishers in this
// process on an open-loop schedule, subscribers in forked processes (bench/ws-clients.ts), so neither
// shares the server's event loop. On 2 cores they still share the CPU, so the headline figure is not
// deliveries per second (which the client generator caps) but deliveries per server CPU-second, read from
// /proc/<pid>/stat, with the bare uWebSockets.js ceiling, socket.io and, where installed, soketi (a
// Pusher-protocol server on the same uWS build; bench/ws-soketi.ts) measured in the same run.
import { fileURLToPath } from 'node:url';
import { accountToken, newJwtSecret, serverEnv, startChatPulse } from './lib/chatpulse.js';
import { parseFlags } from './lib/flags.js';
import { loadAvgNow, machine, machineLine } from './lib/machine.js';
import { sleep } from './lib/phases.js';
import { cpuTime, openFilesLimit, rssBytes } from './lib/proc.js';
import {
  failureReason,
  freePort,
  guardRun,
  portLine,
  ServerUnavailable,
  startServer,
  stopChild,
  type StartedServer,
} from './lib/processes.js';
import { fmt, markdownTable, progress, publishResults } from './lib/results.js';
import { round } from './lib/stats.js';
import { FANOUT_FLAGS, fanoutSettings, measureRates, runPhase, type PhaseRow, type PhaseSetup } from './ws-phase.js';
import {
  BASELINE_COALESCE_MS,
  CEILING_SHARE,
  channelName,
  SERVERS,
  SOKETI_FACTOR,
  type ServerKind,
  type ServerSpec,
  type SubPlan,
} from './ws-protocol.js';
import { ClientProc, connectSubscribers, createBenchRooms, waveShare } from './ws-procs.js';
import { ConnectError, connectPublishers, warmCache, type Publisher, type WarmResult } from './ws-publishers.js';
import { SOKETI_INSTALL, soketiInstalled, startSoketi } from './ws-soketi.js';

const flags = parseFlags([...FANOUT_FLAGS, 'servers']);
const { connections, channels, rates, durationS, publisherCount, pool, clientProcs, wave, drainS, trackPerChannel, rounds, modelDir } =
  fanoutSettings(flags, {
    connections: 10_000,
    rate: '200,1000',
    drainS: 30,
  });
// soketi is a peer installed apart (bench/peers/soketi): by default it runs where it is installed and is
// skipped with a note elsewhere; named in --servers without it, its row says how to install it.
const skipSoketi = flags.servers === undefined && !soketiInstalled();
const defaultServers = SERVERS.filter((s) => s.kind !== 'soketi' || !skipSoketi).map((s) => s.kind);
const specs: ServerSpec[] = (flags.servers?.split(',') ?? defaultServers).map((k) => {
  const spec = SERVERS.find((s) => s.kind === k.trim());
  if (spec === undefined) throw new Error(`--servers: unknown "${k}" (known: ${SERVERS.map((s) => s.kind).join(', ')})`);
  return spec;
});
const SOKETI_SKIPPED = `soketi: not installed, skipped; to compare with it: ${SOKETI_INSTALL}`;

/** Untimed traffic before each measured phase: JIT and socket buffers warm, as in a long-running server. */
const WARM_PHASE_S = 1;
const CONNECT_TIMEOUT_MS = 20_000;
const TARGET_CONNECTIONS = 20_000;
/** Past this median latency a row is flagged as measured with backed-up sockets (batching adds at most ~25 ms). */
const BACKLOG_P50_MS = 100;
const RSS_TARGET_BYTES = 8 * 1024;
const host = machine();

const script = (name: string) => fileURLToPath(new URL(name, import.meta.url));

interface ServerRow extends PhaseRow {
  server: string;
  kind: ServerKind;
  batched: boolean;
  /** The split: on loopback the kernel's work of receiving each write is charged to the sender, as sys. */
  serverUserS: number;
  vsCeiling: number | null;
  vsSocketIo: number | null;
  vsSocketIoBatched: number | null;
  vsSoketi: number | null;
}

interface ServerResult {
  kind: ServerKind;
  server: string;
  available: boolean;
  reason: string | null;
  fdLimit: number | null;
  subscribersRequested: number;
  publishers: number;
  subscribersHeld: number;
  subscribersFailed: number;
  failureSamples: string[];
  connectS: number;
  rssBeforeBytes: number | null;
  rssIdleBytes: number | null;
  rssPerIdleConnBytes: number | null;
  warm: WarmResult | null;
  phases: ServerRow[];
}

async function start(spec: ServerSpec): Promise<StartedServer> {
  if (spec.wire === 'chatpulse') {
    // One process on in-memory state, whatever the shell exports: /proc/<pid> is then all of the server.
    return startChatPulse(spec.label, serverEnv({ port: await freePort(), modelDir, jwtSecret: newJwtSecret() }), 1, 180_000);
  }
  if (spec.wire === 'pusher') return startSoketi(spec.label, 30_000);
  const file = spec.wire === 'bare' ? './ws-uws-server.js' : './ws-socketio-server.js';
  return startServer(spec.label, [script(file)], { BATCH_MS: spec.batched ? String(BASELINE_COALESCE_MS) : '0' }, portLine, 30_000);
}

/** Subscriber k: channel k mod C, process k mod K; the first few per channel measure latency. */
function plans(spec: ServerSpec): SubPlan[][] {
  const perProc: SubPlan[][] = Array.from({ length: clientProcs }, () => []);
  for (let k = 0; k < connections; k++) {
    const plan = { channel: channelName(k % channels), batch: spec.batched, track: Math.floor(k / channels) < trackPerChannel };
    (perProc[k % clientProcs] as SubPlan[]).push(plan);
  }
  return perProc;
}

interface Run extends PhaseSetup {
  spec: ServerSpec;
  server: StartedServer;
}

function assertAlive(run: Run): void {
  const { child } = run.server;
  if (child.exitCode !== null || child.signalCode !== null)
    throw new ServerUnavailable(`${run.spec.label} exited during the run (${child.signalCode ?? child.exitCode})`);
}

/** One phase (ws-phase.ts), the server's CPU read from its one process. */
async function phase(run: Run, rate: number, seconds: number, record: boolean): Promise<ServerRow> {
  const { spec, server } = run;
  const meter = () => {
    const cpu0 = cpuTime(server.pid);
    return () => {
      const cpu1 = cpuTime(server.pid);
      return { serverCpu: { user: cpu1.user - cpu0.user, sys: cpu1.sys - cpu0.sys } };
    };
  };
  const { row, measured } = await runPhase(run, rate, seconds, record, meter, () => assertAlive(run));
  return {
    server: spec.label,
    kind: spec.kind,
    batched: spec.batched,
    ...row,
    serverUserS: round(measured.serverCpu.user, 2),
    vsCeiling: null,
    vsSocketIo: null,
    vsSocketIoBatched: null,
    vsSoketi: null,
  };
}

async function runServer(spec: ServerSpec): Promise<ServerResult> {
  const result: ServerResult = {
    kind: spec.kind,
    server: spec.label,
    available: false,
    reason: null,
    fdLimit: null,
    subscribersRequested: connections,
    publishers: publisherCount,
    subscribersHeld: 0,
    subscribersFailed: 0,
    failureSamples: [],
    connectS: 0,
    rssBeforeBytes: null,
    rssIdleBytes: null,
    rssPerIdleConnBytes: null,
    warm: null,
    phases: [],
  };
  let server: StartedServer | null = null;
  const pubs: Publisher[] = [];
  const clients: ClientProc[] = [];
  try {
    progress(`${spec.label}: starting`);
    server = await start(spec);
    result.fdLimit = openFilesLimit(server.pid);
    if (result.fdLimit < connections + publisherCount + 64) {
      progress(
        `  warning: the server may open only ${result.fdLimit} files (hard limit), fewer than ${connections + publisherCount} connections need`,
      );
    }
    const port = server.port;
    // ChatPulse publishers post as signed-in users: one account per publisher (and one hosts the rooms).
    const chatpulse = spec.wire === 'chatpulse';
    if (chatpulse) await createBenchRooms(port, await accountToken(port, port, 'bench_host'), channels);
    await connectPublishers(
      pubs,
      spec.wire,
      port,
      publisherCount,
      channels,
      async (p) => (chatpulse ? accountToken(port, port, `bench_pub_${p}`) : undefined),
      CONNECT_TIMEOUT_MS,
    );
    if (chatpulse) {
      result.warm = await warmCache(pubs, pool, 180_000);
      progress(`  cache warm-up: ${result.warm.confirmed}/${result.warm.total} pool texts came back in ${fmt(result.warm.seconds, 1)}s`);
    }
    await sleep(1000);
    result.rssBeforeBytes = rssBytes(server.pid);

    const perProc = plans(spec);
    for (let k = 0; k < clientProcs; k++) clients.push(new ClientProc());
    const waveEach = waveShare(wave, clientProcs);
    progress(`  connecting ${connections} subscribers over ${channels} channels (${clientProcs} processes, waves of ${waveEach} each)`);
    const held = await connectSubscribers(
      spec.wire,
      clients.map((proc, k) => ({ proc, port, subs: perProc[k] as SubPlan[] })),
      waveEach,
      CONNECT_TIMEOUT_MS,
    );
    result.connectS = held.seconds;
    result.subscribersHeld = held.held;
    result.subscribersFailed = held.failed;
    result.failureSamples = held.failureSamples;
    progress(
      `  held ${result.subscribersHeld} (+${pubs.length} publishers), failed ${result.subscribersFailed} in ${result.connectS}s${result.failureSamples.length > 0 ? `; e.g. ${result.failureSamples[0]}` : ''}`,
    );
    if (result.subscribersHeld === 0)
      throw new ServerUnavailable(
        `no subscriber connection held${result.failureSamples.length > 0 ? `: ${result.failureSamples[0]}` : ''}`,
      );
    // Settle (handshake garbage, presence traffic) before reading the idle footprint.
    await sleep(2000);
    result.rssIdleBytes = rssBytes(server.pid);
    result.rssPerIdleConnBytes = Math.round((result.rssIdleBytes - result.rssBeforeBytes) / result.subscribersHeld);
    progress(
      `  RSS ${fmt(result.rssBeforeBytes / 2 ** 20, 1)} -> ${fmt(result.rssIdleBytes / 2 ** 20, 1)} MiB: ${fmt(result.rssPerIdleConnBytes / 1024, 2)} KiB per idle connection`,
    );
    result.available = true;

    const run: Run = { spec, server, pubs, clients, pool, drainS };
    await measureRates(
      { rates, rounds, durationS, warmS: WARM_PHASE_S },
      (rate, seconds, record) => phase(run, rate, seconds, record),
      (row) =>
        `-> ${fmt(row.deliveriesPerCpuS, 0)} deliveries/CPU-s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, client CPU ${fmt(row.clientCpuPct, 0)}%`,
      result.phases,
    );
  } catch (err) {
    // Whatever went wrong with one server, the others still run and the report says why this one is short.
    const message = failureReason(err);
    const endpoint = spec.wire === 'pusher' ? '/app/<key>' : '/ws';
    result.reason = err instanceof ConnectError ? `WebSocket endpoint ${endpoint}: ${message}` : message;
    progress(`  ${spec.label}: ${result.available ? 'stopped early' : 'not available'}: ${result.reason}`);
  } finally {
    for (const pub of pubs) pub.close();
    await Promise.all(clients.map((c) => c.close()));
    if (server !== null) await stopChild(server.child);
  }
  return result;
}

function ratios(results: readonly ServerResult[]): void {
  const rows = results.flatMap((r) => r.phases);
  const find = (kind: ServerKind, rate: number) => rows.find((r) => r.kind === kind && r.rate === rate);
  const ratio = (row: ServerRow, base: ServerRow | undefined) =>
    base === undefined ? null : row.deliveriesPerCpuS / base.deliveriesPerCpuS;
  for (const row of rows) {
    row.vsCeiling = ratio(row, find(row.batched ? 'uws-batched' : 'uws', row.rate));
    row.vsSocketIo = ratio(row, find('socketio', row.rate));
    row.vsSocketIoBatched = ratio(row, find('socketio-batched', row.rate));
    row.vsSoketi = ratio(row, find('soketi', row.rate));
  }
}

interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

function targets(results: readonly ServerResult[]): Record<string, Target> {
  const out: Record<string, Target> = {};
  const cp = results.filter((r) => r.kind === 'chatpulse' || r.kind === 'chatpulse-batched');
  const pct = (x: number | null) => (x === null ? 'n/a' : `${fmt(x * 100, 1)}%`);
  const times = (x: number | null) => (x === null ? 'n/a' : `${fmt(x, 2)}x`);
  for (const r of cp) {
    for (const rate of rates) {
      const vs = r.phases.find((p) => p.rate === rate)?.vsCeiling ?? null;
      const ceiling = r.kind === 'chatpulse-batched' ? `${BASELINE_COALESCE_MS} ms coalescing bare uWS` : 'bare uWS';
      const share = CEILING_SHARE[r.kind === 'chatpulse-batched' ? 'chatpulse-batched' : 'chatpulse'];
      out[`${r.kind} @${rate}/s vs ${ceiling} ceiling`] = {
        target: `>= ${share * 100}% deliveries per CPU-s`,
        measured: pct(vs),
        met: vs === null ? null : vs >= share,
      };
    }
  }
  // The socket.io comparison is stated at 1,000 messages/s; a run without that rate uses its highest.
  const rate = rates.includes(1000) ? 1000 : Math.max(...rates);
  for (const [kind, factor] of [
    ['chatpulse', 3],
    ['chatpulse-batched', 5],
  ] as const) {
    if (!specs.some((s) => s.kind === kind)) continue;
    const row = results.find((r) => r.kind === kind)?.phases.find((p) => p.rate === rate);
    out[`${kind} @${rate}/s vs socket.io`] = {
      target: `>= ${factor}x deliveries per CPU-s`,
      measured: times(row?.vsSocketIo ?? null),
      met: row?.vsSocketIo == null ? null : row.vsSocketIo >= factor,
    };
  }
  // soketi relays each message as it comes (no batching), so it is compared with per-message ChatPulse.
  if (specs.some((s) => s.kind === 'soketi') && specs.some((s) => s.kind === 'chatpulse')) {
    const chatpulse = results.find((r) => r.kind === 'chatpulse');
    for (const rate of rates) {
      const vs = chatpulse?.phases.find((p) => p.rate === rate)?.vsSoketi ?? null;
      out[`chatpulse @${rate}/s vs soketi`] = {
        target: `>= ${SOKETI_FACTOR}x deliveries per CPU-s`,
        measured: times(vs),
        met: vs === null ? null : vs >= SOKETI_FACTOR,
      };
    }
  }
  for (const r of cp) {
    const perConn = r.rssPerIdleConnBytes;
    out[`${r.kind} RSS per idle connection`] = {
      target: '<= 8 KiB',
      measured: perConn === null ? 'n/a' : `${fmt(perConn / 1024, 2)} KiB`,
      met: perConn === null ? null : perConn <= RSS_TARGET_BYTES,
    };
  }
  for (const r of cp) {
    const total = r.subscribersHeld + (r.available ? r.publishers : 0);
    const tested = connections + publisherCount >= TARGET_CONNECTIONS;
    const limited = r.fdLimit !== null && r.fdLimit < connections + publisherCount + 64 ? ` (server open-files limit ${r.fdLimit})` : '';
    out[`${r.kind} ${TARGET_CONNECTIONS.toLocaleString('en-US')} concurrent connections`] = {
      target: `>= ${TARGET_CONNECTIONS} held`,
      measured: r.available ? `${total} held, ${r.subscribersFailed} failed${limited}` : 'n/a',
      met: !r.available
        ? null
        : tested
          ? total >= TARGET_CONNECTIONS && r.subscribersFailed === 0 && r.phases.every((p) => p.closedDuring === 0)
          : null,
    };
  }
  return out;
}

function report(results: readonly ServerResult[], goals: Record<string, Target>, loadAvgEnd: number): string {
  const ratioCell = (x: number | null) => (x === null ? '-' : `${fmt(x * 100, 0)}%`);
  const timesCell = (x: number | null) => (x === null ? '-' : `${fmt(x, 2)}x`);
  const throughput = markdownTable(
    [
      'server',
      'rate msg/s',
      'held',
      'deliveries/s',
      'delivered',
      'server CPU',
      'deliveries / CPU-s',
      'p50 ms',
      'p99 ms',
      'vs uWS ceiling',
      'vs socket.io',
      'vs socket.io coalescing',
      'vs soketi',
      'client CPU',
      'errors',
    ],
    results.flatMap((r) =>
      r.available
        ? r.phases.map((p) => [
            r.server,
            String(p.rate),
            String(p.subscribersHeld + r.publishers),
            fmt(p.deliveriesPerS, 0),
            `${fmt(p.deliveredPct, 1)}%`,
            `${fmt(p.serverCpuS, 2)}s (${fmt(p.serverCpuPct, 0)}%, sys ${fmt((100 * p.serverSysS) / p.serverCpuS, 0)}%)`,
            fmt(p.deliveriesPerCpuS, 0),
            String(p.p50Ms),
            String(p.p99Ms),
            ratioCell(p.vsCeiling),
            timesCell(p.vsSocketIo),
            timesCell(p.vsSocketIoBatched),
            timesCell(p.vsSoketi),
            `${fmt(p.clientCpuPct, 0)}%`,
            String(p.errors),
          ])
        : [[r.server, '-', '-', `not available: ${r.reason ?? 'unknown'}`, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-']],
    ),
  );
  const memory = markdownTable(
    ['server', 'subscribers held', 'failed', 'connect s', 'RSS before MiB', 'RSS idle MiB', 'per idle connection', 'open-files limit'],
    results.map((r) => [
      r.server,
      `${r.subscribersHeld} / ${r.subscribersRequested}`,
      String(r.subscribersFailed),
      String(r.connectS),
      r.rssBeforeBytes === null ? '-' : fmt(r.rssBeforeBytes / 2 ** 20, 1),
      r.rssIdleBytes === null ? '-' : fmt(r.rssIdleBytes / 2 ** 20, 1),
      r.rssPerIdleConnBytes === null ? '-' : `${fmt(r.rssPerIdleConnBytes / 1024, 2)} KiB`,
      r.fdLimit === null ? '-' : String(r.fdLimit),
    ]),
  );
  const met = (m: boolean | null) => (m === null ? 'not measured' : m ? 'met' : 'NOT met');
  const notes: string[] = skipSoketi ? [`- ${SOKETI_SKIPPED}`] : [];
  for (const r of results) {
    if (r.available && r.reason !== null)
      notes.push(`- ${r.server}: stopped early (${r.reason}); rows missing from the table were not measured`);
    if (r.failureSamples.length > 0) notes.push(`- ${r.server}: ${r.subscribersFailed} connections failed, e.g. "${r.failureSamples[0]}"`);
    if (r.warm !== null && r.warm.confirmed < r.warm.total)
      notes.push(
        `- ${r.server}: cache warm-up confirmed ${r.warm.confirmed}/${r.warm.total} texts: some deliveries may have waited for inference`,
      );
    for (const p of r.phases) {
      const at = `${r.server} @${p.rate}/s`;
      if (p.errors + p.publisherErrors > 0)
        notes.push(
          `- ${at}: ${p.errors} error frames to subscribers, ${p.publisherErrors} to publishers, e.g. \`${p.errorSamples[0] ?? ''}\``,
        );
      if (p.deliveredPct < 99)
        notes.push(
          `- ${at}: ${fmt(p.deliveredPct, 1)}% delivered by the end of the drain: the server's CPU for the rest is counted, so deliveries / CPU-s understates it`,
        );
      if (p.closedDuring > 0) notes.push(`- ${at}: ${p.closedDuring} subscriber connections closed during the phase`);
      if (p.countMismatches > 0)
        notes.push(
          `- ${at}: ${p.countMismatches} tracked frames where the delivery count by marker disagreed with the parsed frame: deliveries may be miscounted`,
        );
      if (p.unpaired > 0) notes.push(`- ${at}: ${p.unpaired} tracked deliveries not paired with a send (no latency sample)`);
      if (p.p50Ms > BACKLOG_P50_MS)
        notes.push(
          `- ${at}: p50 ${p.p50Ms} ms: receivers fell behind and sockets were backed up, which makes writes cheaper per delivery; compare with rows in the same regime`,
        );
      if (p.publisherMaxLagMs > 50)
        notes.push(`- ${at}: the publishers fell up to ${p.publisherMaxLagMs} ms behind schedule (charged to latency)`);
    }
  }
  return [
    '# WebSocket fan-out benchmark',
    '',
    `Machine: ${machineLine(host)}; load avg ${loadAvgEnd} at end`,
    `Setup: ${connections} subscriber connections over ${channels} channels (${Math.round(connections / channels)} each), ${publisherCount} publishers ` +
      `(one per channel, subscribed to it too), texts from a pool of ${pool} per publisher; ${durationS}s per rate${rounds > 1 ? ` (best of ${rounds} rounds by deliveries / CPU-s)` : ''} after a ${WARM_PHASE_S}s warm-up, each round drained ` +
      `(at most ${drainS}s). ${clientProcs} subscriber processes; latency sampled on the first ${trackPerChannel} subscribers of each channel, from each message's scheduled send time. ` +
      `Every server is a child process; CPU and RSS from /proc. ChatPulse: model \`${modelDir}\`, 1 inference thread, cache warmed with every pool text first; ` +
      `baselines coalesce for ${BASELINE_COALESCE_MS} ms in their coalescing variants.` +
      (specs.some((s) => s.kind === 'soketi')
        ? ' soketi: one app with client events on and no rate or connection limits; subscribers join private channels, publishers send `client-chat` client events.'
        : ''),
    '',
    '## Throughput and latency',
    '',
    'deliveries / CPU-s: messages received by subscribers (phase and drain) per second of server CPU (user + system, all threads) - the headline figure. ' +
      'server CPU: seconds over the phase and its drain (% of one core, share that was system time: on loopback the kernel charges the receiving side of each write to the sender too). ' +
      'deliveries/s: received within the phase window only, capped by the client generator on small machines (see client CPU). ' +
      'vs uWS ceiling: deliveries / CPU-s against bare uWS in the same mode (batched rows against the coalescing ceiling); vs socket.io: against plain / coalescing socket.io; ' +
      'vs soketi: against soketi (per-message, Pusher client events).',
    '',
    throughput,
    '',
    '## Memory with idle connections',
    '',
    'RSS of the server with every subscriber connected and subscribed, idle, minus its RSS before the first subscriber connected (publishers connected, cache warm), divided by the subscribers held.',
    '',
    memory,
    '',
    '## Targets',
    '',
    ...Object.entries(goals).map(([name, t]) => `- ${name}: ${t.measured} (target ${t.target}: ${met(t.met)})`),
    ...(notes.length > 0 ? ['', '## Notes', '', ...notes] : []),
  ].join('\n');
}

const perServerS =
  240 +
  Math.ceil(connections / wave) * (CONNECT_TIMEOUT_MS / 1000 + 5) +
  rates.length * (WARM_PHASE_S + drainS + rounds * (durationS + drainS + 20) + 20);
guardRun('bench:ws', specs.length * perServerS);

progress(`machine: ${machineLine(host)}`);
if (skipSoketi) progress(SOKETI_SKIPPED);
progress(
  `servers: ${specs.map((s) => s.kind).join(', ')}; ${connections} subscribers, ${channels} channels, ${publisherCount} publishers, rates ${rates.join(', ')} msg/s, ${durationS}s each`,
);
const results: ServerResult[] = [];
for (const spec of specs) results.push(await runServer(spec));
ratios(results);
const goals = targets(results);
const loadAvgEnd = loadAvgNow();
const markdown = report(results, goals, loadAvgEnd);
publishResults(
  'ws',
  {
    name: 'ws',
    machine: host,
    loadAvgEnd,
    model: modelDir,
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
      baselineCoalesceMs: BASELINE_COALESCE_MS,
      soketiSkipped: skipSoketi,
    },
    servers: results,
    targets: goals,
  },
  markdown,
);
