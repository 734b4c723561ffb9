// One phase of the WebSocket fan-out client generator and the per-rate loop around it, shared by bench:ws
// (one server at a time) and bench:cluster (one or two ChatPulse instances): the publishers' open-loop
// schedule, the drain after it and the subscriber processes' counts. The server's CPU is read by the
// caller's meter over the same window, phase and drain, so a server that queues work is charged for it.
import { int, positive, positiveList } from './lib/flags.js';
import { resolveModelDir } from './lib/machine.js';
import { bestOfRounds, drainDeliveries, sleep } from './lib/phases.js';
import { cpuSeconds, type CpuTime } from './lib/proc.js';
import { fmt, progress } from './lib/results.js';
import { percentile, round, sum } from './lib/stats.js';
import { mergeStats, monoMs, type ClientStats, type Schedule } from './ws-protocol.js';
import type { ClientProc } from './ws-procs.js';
import { publish, type Publisher } from './ws-publishers.js';

/** The drain ends early once deliveries stop growing for this long (the rest were dropped, not late). */
const QUIET_MS = 1000;

/** The client generator's flags, the same in bench:ws and bench:cluster (docs/benchmarks.md lists both). */
export const FANOUT_FLAGS = [
  'connections',
  'channels',
  'rate',
  'duration',
  'publishers',
  'pool',
  'clients',
  'wave',
  'drain',
  'track',
  'rounds',
  'model',
] as const;

export interface FanoutSettings {
  connections: number;
  channels: number;
  rates: number[];
  durationS: number;
  publisherCount: number;
  pool: number;
  clientProcs: number;
  wave: number;
  drainS: number;
  trackPerChannel: number;
  rounds: number;
  modelDir: string;
}

/** The client generator's settings from its flags; the defaults that differ between the benches are given. */
export function fanoutSettings(
  flags: Partial<Record<(typeof FANOUT_FLAGS)[number], string>>,
  defaults: { connections: number; rate: string; drainS: number },
): FanoutSettings {
  const channels = int('channels', flags.channels, 10);
  return {
    connections: int('connections', flags.connections, defaults.connections),
    channels,
    rates: positiveList('rate', flags.rate ?? defaults.rate),
    durationS: positive('duration', flags.duration, 10),
    publisherCount: int('publishers', flags.publishers, channels),
    pool: int('pool', flags.pool, 500),
    clientProcs: int('clients', flags.clients, 2),
    wave: int('wave', flags.wave, 500),
    drainS: positive('drain', flags.drain, defaults.drainS),
    trackPerChannel: int('track', flags.track, 20),
    rounds: int('rounds', flags.rounds, 1),
    modelDir: resolveModelDir(flags.model),
  };
}

export interface PhaseSetup {
  pubs: readonly Publisher[];
  clients: readonly ClientProc[];
  /** Distinct texts per publisher. */
  pool: number;
  /** Most seconds to wait after a phase for deliveries still in flight. */
  drainS: number;
}

/**
 * Started at the first send; what it returns is called once the drain ended, with the subscriber processes'
 * CPU seconds over the window, and reads the server's CPU (and whatever else the bench charges).
 */
export type Meter<T extends { serverCpu: CpuTime }> = () => (clientCpuS: number) => T;

/** What both benches report of a phase, whatever the server. */
export interface PhaseRow {
  rate: number;
  seconds: number;
  /** Subscribers still connected when the phase began. */
  subscribersHeld: number;
  sent: number;
  /** Sent messages times the subscribers held on their channel. */
  expected: number;
  delivered: number;
  deliveredInWindow: number;
  deliveriesPerS: number;
  deliveredPct: number;
  /** Over the phase and its drain. */
  serverCpuS: number;
  serverSysS: number;
  /** Of one core, over the phase and its drain. */
  serverCpuPct: number;
  deliveriesPerCpuS: number;
  p50Ms: number;
  p99Ms: number;
  latencySamples: number;
  /** Tracked deliveries not paired with a send. */
  unpaired: number;
  /** All subscriber processes together, % of one core over the same window. */
  clientCpuPct: number;
  publisherMaxLagMs: number;
  drainS: number;
  /** Error frames received by subscribers. */
  errors: number;
  errorSamples: string[];
  /** Error frames received by publishers (refused posts). */
  publisherErrors: number;
  closedDuring: number;
  countMismatches: number;
  /** Deliveries / CPU-s of every round at this rate; the row is the best of them. */
  roundsDeliveriesPerCpuS: number[];
}

export interface Phase<T> {
  row: PhaseRow;
  measured: T;
  /** Per subscriber process: its stats (latency samples when recorded) and its subscribers held at the start. */
  perClient: ClientStats[];
  heldPerClient: number[];
  wallS: number;
}

const statsOf = (clients: readonly ClientProc[], samples: boolean): Promise<ClientStats[]> =>
  Promise.all(clients.map((c) => c.request({ cmd: 'stats', samples }, 'stats', 30_000)));

/**
 * One phase at `rate` messages/s for `seconds`, then the drain: until every expected delivery arrived,
 * deliveries stop growing for QUIET_MS, or `drainS` passes. Deliveries/s counts only the phase's own
 * window. `assertAlive` throws if a server died meanwhile.
 */
export async function runPhase<T extends { serverCpu: CpuTime }>(
  s: PhaseSetup,
  rate: number,
  seconds: number,
  record: boolean,
  meter: Meter<T>,
  assertAlive: () => void,
): Promise<Phase<T>> {
  const { pubs, clients } = s;
  const intervalMs = (pubs.length * 1000) / rate;
  const perPublisher = Math.max(1, Math.round((rate * seconds) / pubs.length));
  // A little ahead, so every subscriber process has its schedule before the first send.
  const t0 = monoMs() + 300;
  const schedule: Schedule = { t0: pubs.map((_, p) => t0 + (p * intervalMs) / pubs.length), intervalMs, pool: s.pool };
  const windowEnd = t0 + seconds * 1000;
  const ready = await Promise.all(clients.map((c) => c.request({ cmd: 'phase', schedule, windowEnd, record }, 'phase-ready', 30_000)));
  const perChannel: Record<string, number> = {};
  for (const r of ready) for (const [channel, n] of Object.entries(r.perChannel)) perChannel[channel] = (perChannel[channel] ?? 0) + n;
  const heldPerClient = ready.map((r) => sum(Object.values(r.perChannel)));
  await sleep(Math.max(0, t0 - monoMs()));
  const stopMeter = meter();
  const pubErrors0 = sum(pubs.map((pub) => pub.errors));
  const clientCpu0 = sum(clients.map((c) => cpuSeconds(c.pid)));
  const began = monoMs();
  const { sent, maxLagMs } = await publish(pubs, schedule, perPublisher, windowEnd + 2000);
  const sentTotal = sum(sent);
  const expected = pubs.reduce((total, pub, p) => total + (sent[p] as number) * (perChannel[pub.channel] ?? 0), 0);

  const published = monoMs();
  const delivered = async () => mergeStats(await statsOf(clients, false)).deliveries;
  await drainDeliveries(async () => ({ delivered: await delivered(), expected }), {
    maxMs: s.drainS * 1000,
    quietMs: QUIET_MS,
    everyMs: 200,
  });
  const ended = monoMs();
  const publisherErrors = sum(pubs.map((pub) => pub.errors)) - pubErrors0;
  const clientCpuS = sum(clients.map((c) => cpuSeconds(c.pid))) - clientCpu0;
  const measured = stopMeter(clientCpuS);
  assertAlive();
  const perClient = await statsOf(clients, record);
  const stats = mergeStats(perClient);
  const latencies = [...(stats.latencies ?? [])].sort((a, b) => a - b);
  const wallS = (ended - began) / 1000;
  const serverCpuS = measured.serverCpu.user + measured.serverCpu.sys;
  const row: PhaseRow = {
    rate,
    seconds,
    subscribersHeld: sum(heldPerClient),
    sent: sentTotal,
    expected,
    delivered: stats.deliveries,
    deliveredInWindow: stats.inWindow,
    deliveriesPerS: Math.round(stats.inWindow / seconds),
    deliveredPct: expected === 0 ? NaN : round((100 * stats.deliveries) / expected, 2),
    serverCpuS: round(serverCpuS, 2),
    serverSysS: round(measured.serverCpu.sys, 2),
    serverCpuPct: round((100 * serverCpuS) / wallS, 1),
    deliveriesPerCpuS: Math.round(stats.deliveries / serverCpuS),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    latencySamples: latencies.length,
    unpaired: stats.unpaired,
    clientCpuPct: round((100 * clientCpuS) / wallS, 1),
    publisherMaxLagMs: round(maxLagMs, 1),
    drainS: round((ended - published) / 1000, 2),
    errors: stats.errors,
    errorSamples: [...stats.errorSamples, ...pubs.flatMap((pub) => pub.errorSamples)].slice(0, 5),
    publisherErrors,
    closedDuring: stats.closed,
    countMismatches: stats.mismatches,
    roundsDeliveriesPerCpuS: [],
  };
  return { row, measured, perClient, heldPerClient, wallS };
}

export interface RateLoop {
  rates: readonly number[];
  rounds: number;
  durationS: number;
  warmS: number;
}

/**
 * Per rate: an untimed warm-up phase (JIT, socket buffers), then the best of `rounds` measured phases by
 * deliveries / CPU-s, pushed onto `rows` as it is measured (a later failure keeps the rows so far).
 * `describe` gives a row's progress line from its server CPU on (after "server CPU Ns ").
 */
export async function measureRates<R extends PhaseRow>(
  l: RateLoop,
  phase: (rate: number, seconds: number, record: boolean) => Promise<R>,
  describe: (row: R) => string,
  rows: R[],
): Promise<void> {
  for (const rate of l.rates) {
    await phase(rate, l.warmS, false);
    const { best, scores } = await bestOfRounds(
      l.rounds,
      async (attempt) => {
        progress(
          `  ${rate} msg/s for ${l.durationS}s${l.rounds > 1 ? `, round ${attempt}/${l.rounds}` : ''} (after a ${l.warmS}s warm-up)`,
        );
        const row = await phase(rate, l.durationS, true);
        progress(
          `    ${fmt(row.deliveriesPerS, 0)} deliveries/s, ${fmt(row.deliveredPct, 1)}% delivered, server CPU ${fmt(row.serverCpuS, 2)}s ${describe(row)}` +
            (row.errors + row.publisherErrors > 0 ? `, ${row.errors + row.publisherErrors} error frames: ${row.errorSamples[0]}` : ''),
        );
        return row;
      },
      (row) => row.deliveriesPerCpuS,
    );
    best.roundsDeliveriesPerCpuS = scores;
    rows.push(best);
  }
}
