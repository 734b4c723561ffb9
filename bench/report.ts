// Every benchmark in a quick mode, then one report (npm run bench [-- --only engine,rest | --skip ws,cluster] [--verbose]
// [--from DIR]).
//
// Runs each bench program as a child process (`node dist/bench/<name>.js <quick flags>`), one after the
// other, with BENCH_RESULTS_DIR=bench/results/quick so the committed full results stay as they are, and
// streams their progress lines prefixed with the bench's name. A bench that fails, times out or is missing
// is reported as failed (exit code and last lines) and the others still run; the exit code is then 1.
// Then it reads each bench's JSON and writes bench/results/latest.md (and latest.json): the machine, the
// date, and per area a table of the headline figures against the baseline each bench measured in the
// same run, with the ratio. Only a complete run (every area, none failed) replaces latest.md; a partial
// (--only, --skip) or failed one writes bench/results/quick/partial-<date>.md instead (lib/report-path.ts).
// Quick runs are short and single-round: for quoting, run the full bench.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseFlags } from './lib/flags.js';
import { loadAvgNow, machine, repoRoot, type Machine } from './lib/machine.js';
import { sleep } from './lib/phases.js';
import { reportPaths } from './lib/report-path.js';
import { fmt, markdownTable, progress } from './lib/results.js';
import { CEILING_SHARE, SOKETI_FACTOR } from './ws-protocol.js';

// ============================================================================== the benches, quick mode

type Area = 'engine' | 'rest' | 'ws' | 'cluster' | 'ingest' | 'store';

interface Bench {
  name: Area;
  title: string;
  /** Flags for a quick run: see the comment on BENCHES. */
  args: readonly string[];
  /** What a quick run takes on 2 shared cores, roughly (for the progress lines). */
  expectS: number;
  /** Killed (its whole process group) past this. */
  timeoutS: number;
  figures: (json: unknown) => Figure[];
}

// Quick flags, about 7 minutes in all on 2 cores (engine and store timed on a shared 2-core box, load
// average 4: 52 s and 12 s; the others estimated from their phases):
// - engine: 2 s per row (0.5 s warm-up) over its 13-14 rows, 512 in flight (the full run: 8 s): ~1 min;
// - rest: 3 s per scenario after its 1 s warm-up, 9 scenarios and 4 overload rows (full: 10 s): ~1.5 min;
// - ws: all six servers (seven with soketi where bench/peers/soketi is installed), 500 subscribers, rates 200 and 1,000 msg/s for 3 s each, one round, drains at most
//   10 s (full: 10,000 subscribers, 10 s, 30 s drains): ~2.5 min;
// - cluster: the fan-out part (one instance vs two through Redis vs two through a Redis Cluster), 500
//   subscribers at 500 msg/s for 3 s, one round, and a small rolling restart (300 SDK subscribers, 200
//   msg/s, 4 s steady) (full: 2,000 subscribers, 10 s, 1,000 SDK subscribers at 500 msg/s, plus the engine
//   split and the 20,000-connection hold): ~2.5 min;
// - ingest, store: their own --quick.
const BENCHES: readonly Bench[] = [
  { name: 'engine', title: 'Engine', args: ['--duration', '2'], expectS: 60, timeoutS: 300, figures: engineFigures },
  { name: 'rest', title: 'REST', args: ['--duration', '3'], expectS: 90, timeoutS: 300, figures: restFigures },
  {
    name: 'ws',
    title: 'WebSocket fan-out',
    args: ['--connections', '500', '--rate', '200,1000', '--duration', '3', '--drain', '10', '--rounds', '1'],
    expectS: 150,
    timeoutS: 480,
    figures: wsFigures,
  },
  {
    name: 'cluster',
    title: 'Cluster',
    args: [
      '--parts',
      'fanout,rolling',
      '--connections',
      '500',
      '--rate',
      '500',
      '--duration',
      '3',
      '--drain',
      '10',
      '--rounds',
      '1',
      '--rolling-subscribers',
      '300',
      '--rolling-rate',
      '200',
      '--rolling-steady',
      '4',
    ],
    expectS: 150,
    timeoutS: 360,
    figures: clusterFigures,
  },
  {
    name: 'ingest',
    title: 'Ingest (Twitch IRC -> sentiment -> WebSocket)',
    args: ['--quick'],
    expectS: 60,
    timeoutS: 300,
    figures: ingestFigures,
  },
  { name: 'store', title: 'Store', args: ['--quick'], expectS: 20, timeoutS: 300, figures: storeFigures },
];
const AREAS = BENCHES.map((b) => b.name);

// ================================================================================== figures and JSON

interface Target {
  text: string;
  met: boolean | null;
}

/** One row of an area's table: ChatPulse's figure against the baseline its bench measured in the same run. */
interface Figure {
  figure: string;
  value: number | null;
  unit: Unit;
  /** null: the bench's JSON lacked it (n/a); undefined: the bench has no baseline for this figure. */
  baseline?: number | null;
  baselineWhat: string;
  /** value / baseline unless given. */
  ratio?: number | null;
  ratioAs: 'x' | '%';
  lowerIsBetter?: boolean;
  targets?: Target[];
}

type Unit =
  | 'msgs/s'
  | 'req/s'
  | 'texts/s'
  | 'lines/s'
  | 'docs/s'
  | 'deliveries/s'
  | 'deliveries / CPU-s'
  | 'ms'
  | 'KiB'
  | '%'
  | 'x'
  | 'connections'
  | 'CPU ms / 1,000 lines'
  | 'CPU ms / 1,000 msgs'
  | 'calls / msg'
  | 'upserts / msg'
  | 'deliveries';

const rec = (x: unknown): Record<string, unknown> | undefined =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
/** The value at a path of keys (objects) and indices (arrays), or undefined. */
const at = (x: unknown, ...path: readonly (string | number)[]): unknown =>
  path.reduce<unknown>((cur, k) => (typeof k === 'number' ? (Array.isArray(cur) ? cur[k] : undefined) : rec(cur)?.[k]), x);
const num = (x: unknown, ...path: readonly (string | number)[]): number | null => {
  const v = at(x, ...path);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const str = (x: unknown, ...path: readonly (string | number)[]): string | null => {
  const v = at(x, ...path);
  return typeof v === 'string' ? v : null;
};
const list = (x: unknown, ...path: readonly (string | number)[]): unknown[] => {
  const v = at(x, ...path);
  return Array.isArray(v) ? v : [];
};
const bool = (x: unknown, ...path: readonly (string | number)[]): boolean | null => {
  const v = at(x, ...path);
  return typeof v === 'boolean' ? v : null;
};
const div = (a: number | null, b: number | null | undefined): number | null =>
  a === null || b === null || b === undefined || b === 0 ? null : a / b;
const maxBy = <T>(xs: readonly T[], key: (x: T) => number | null): T | undefined =>
  xs.reduce<T | undefined>(
    (best, x) => ((key(x) ?? -Infinity) > (best === undefined ? -Infinity : (key(best) ?? -Infinity)) ? x : best),
    undefined,
  );
const target = (text: string, met: boolean | null): Target => ({ text, met });
const atLeast = (x: number | null, min: number): boolean | null => (x === null ? null : x >= min);
const atMost = (x: number | null, max: number): boolean | null => (x === null ? null : x <= max);

// ------------------------------------------------------------------------------------------------ engine

function engineFigures(j: unknown): Figure[] {
  const rows = list(j, 'rows');
  const named = (prefix: string) => rows.find((r) => str(r, 'name')?.startsWith(prefix) === true);
  const base = named('baseline');
  // "baseline: pipeline() per message, sequential (first run)": the faster of its runs before and after the rest.
  const baseWhat = (str(base, 'name') ?? 'baseline: the naive per-message pattern')
    .replace(/^baseline: /, '')
    .replace(/ \((first|second) run\)$/, ', the faster of 2 runs');
  const best = maxBy(
    rows.filter((r) => str(r, 'name') === 'engine'),
    (r) => num(r, 'msgsPerS'),
  );
  const config =
    best === undefined
      ? ''
      : ` (${num(best, 'threads') ?? '?'} threads, batch ${num(best, 'batchMaxItems') ?? '?'}, wait ${num(best, 'batchMaxWaitMs') ?? '?'} ms, ${num(best, 'concurrency') ?? '?'} in flight)`;
  const light = named('engine, light load');
  const cache = named('engine, cache hits');
  const ceiling = named('compute ceiling');
  const jsTokenizer = named('engine, transformers.js tokenizer');
  const nativeTokenizer = named('engine, native tokenizer');
  const autoTokenizer = (str(j, 'tokenizer', 'auto') ?? 'auto').startsWith('byte-level BPE')
    ? 'byte-level BPE'
    : (str(j, 'tokenizer', 'auto') ?? '').startsWith('native')
      ? 'native'
      : 'auto';
  const oneRun = named('engine, one graph run per batch');
  const bestRatio = div(num(best, 'msgsPerS'), num(base, 'msgsPerS'));
  const model = str(j, 'model', 'name');
  return [
    {
      figure: `throughput, unique texts, best config${config}${model === null ? '' : `, model ${model}`}`,
      value: num(best, 'msgsPerS'),
      unit: 'msgs/s',
      baseline: num(base, 'msgsPerS'),
      baselineWhat: baseWhat,
      ratioAs: 'x',
      targets: [target('>= 5x', atLeast(bestRatio, 5)), target('>= 3,000 msgs/s', atLeast(num(best, 'msgsPerS'), 3000))],
    },
    {
      figure: 'throughput, unique texts, best config, against the compute ceiling',
      value: num(best, 'msgsPerS'),
      unit: 'msgs/s',
      baseline: num(ceiling, 'msgsPerS'),
      baselineWhat: 'the ONNX graph alone on pre-encoded batches, same threads and batch size',
      ratioAs: '%',
      targets: [target('>= 90%', atLeast(div(num(best, 'msgsPerS'), num(ceiling, 'msgsPerS')), 0.9))],
    },
    {
      figure: `throughput, unique texts, best config, ${autoTokenizer} tokenizer`,
      value: num(best, 'msgsPerS'),
      unit: 'msgs/s',
      baseline: num(jsTokenizer, 'msgsPerS'),
      baselineWhat: 'the same config with the transformers.js tokenizer',
      ratioAs: 'x',
    },
    ...(nativeTokenizer === undefined
      ? []
      : [
          {
            figure: `throughput, unique texts, best config, ${autoTokenizer} tokenizer`,
            value: num(best, 'msgsPerS'),
            unit: 'msgs/s' as const,
            baseline: num(nativeTokenizer, 'msgsPerS'),
            baselineWhat: 'the same config with the native (Rust) tokenizer',
            ratioAs: 'x' as const,
          },
        ]),
    {
      figure: 'throughput, unique texts, best config, length-grouped graph runs',
      value: num(best, 'msgsPerS'),
      unit: 'msgs/s',
      baseline: num(oneRun, 'msgsPerS'),
      baselineWhat: 'the same config, each batch one padded graph run',
      ratioAs: 'x',
    },
    {
      figure: 'throughput, repeated texts, cache on (best config)',
      value: num(cache, 'msgsPerS'),
      unit: 'msgs/s',
      baseline: num(base, 'msgsPerS'),
      baselineWhat: baseWhat,
      ratioAs: 'x',
    },
    {
      figure: 'p99 latency, one message at a time (best config)',
      value: num(light, 'p99'),
      unit: 'ms',
      baseline: num(base, 'p99'),
      baselineWhat: baseWhat,
      ratioAs: 'x',
      lowerIsBetter: true,
    },
  ];
}

// -------------------------------------------------------------------------------------------------- REST

function restFigures(j: unknown): Figure[] {
  const rows = list(j, 'rows');
  const row = (prefix: string, server = 'ChatPulse') =>
    rows.find((r) => str(r, 'scenario')?.startsWith(prefix) === true && str(r, 'server') === server);
  const bare = row('GET /health', 'bare uWS');
  const bareReq = num(bare, 'reqPerS');
  const bareWhat = 'bare uWebSockets.js hello-world, GET /health: the ceiling';
  const peak = row('POST /sentiment, cache miss (peak)');
  const half = row('POST /sentiment, cache miss at half peak');
  const light = row('POST /sentiment, cache miss, light load');
  const batch = row('POST /sentiment/batch');
  const connections = num(j, 'connections');
  const peakWhat = `cache miss at peak: ${connections ?? '?'} connections, closed loop`;
  const healthRatio = div(num(row('GET /health'), 'reqPerS'), bareReq);
  return [
    {
      figure: 'GET /health',
      value: num(row('GET /health'), 'reqPerS'),
      unit: 'req/s',
      baseline: bareReq,
      baselineWhat: bareWhat,
      ratioAs: '%',
      targets: [target('>= 70%', atLeast(healthRatio, 0.7))],
    },
    {
      figure: 'POST /api/v1/sentiment, cache hit',
      value: num(row('POST /sentiment, cache hit'), 'reqPerS'),
      unit: 'req/s',
      baseline: bareReq,
      baselineWhat: bareWhat,
      ratioAs: '%',
    },
    {
      figure: 'POST /api/v1/sentiment, cache miss (peak)',
      value: num(peak, 'reqPerS'),
      unit: 'req/s',
      baseline: bareReq,
      baselineWhat: bareWhat,
      ratioAs: '%',
    },
    {
      figure: 'POST /api/v1/sentiment/batch, unique texts',
      value: num(batch, 'textsPerS'),
      unit: 'texts/s',
      baseline: num(peak, 'reqPerS'),
      baselineWhat: 'one text per request: cache miss at peak',
      ratioAs: 'x',
    },
    {
      figure: `cache-miss p99 at half peak (${num(half, 'offeredRate') ?? '?'} req/s offered, open loop)`,
      value: num(half, 'p99Ms'),
      unit: 'ms',
      baseline: num(peak, 'p99Ms'),
      baselineWhat: peakWhat,
      ratioAs: 'x',
      lowerIsBetter: true,
      targets: [target('<= 20 ms', atMost(num(half, 'p99Ms'), 20))],
    },
    {
      figure: 'cache-miss p99 at light load (1 connection)',
      value: num(light, 'p99Ms'),
      unit: 'ms',
      baseline: num(peak, 'p99Ms'),
      baselineWhat: peakWhat,
      ratioAs: 'x',
      lowerIsBetter: true,
      targets: [target('<= 20 ms', atMost(num(light, 'p99Ms'), 20))],
    },
  ];
}

// ----------------------------------------------------------------------------------------------- ws

function wsFigures(j: unknown): Figure[] {
  const servers = list(j, 'servers');
  const server = (kind: string) => servers.find((s) => str(s, 'kind') === kind);
  const phase = (kind: string, rate: number) => list(server(kind), 'phases').find((p) => num(p, 'rate') === rate);
  const perCpu = (kind: string, rate: number) => num(phase(kind, rate), 'deliveriesPerCpuS');
  const rates = list(j, 'settings', 'rates').filter((r): r is number => typeof r === 'number');
  // The socket.io targets are stated at 1,000 msg/s; a run without that rate is judged at its highest (as bench:ws does).
  const judged = rates.includes(1000) ? 1000 : Math.max(...rates);
  const subs = num(j, 'settings', 'connections');
  const out: Figure[] = [];
  for (const rate of rates) {
    for (const [kind, label, ceiling, ceilingWhat, factor] of [
      ['chatpulse', 'per-message subscriptions', 'uws', 'bare uWS pub/sub, the ceiling', 3],
      ['chatpulse-batched', 'batched subscriptions', 'uws-batched', 'bare uWS coalescing 10 ms, the batched ceiling', 5],
    ] as const) {
      const share = CEILING_SHARE[kind];
      const value = perCpu(kind, rate);
      const vsCeiling = div(value, perCpu(ceiling, rate));
      const vsSocketIo = div(value, perCpu('socketio', rate));
      out.push(
        {
          figure: `deliveries / server CPU-s @${rate} msg/s, ${label}`,
          value,
          unit: 'deliveries / CPU-s',
          baseline: perCpu(ceiling, rate),
          baselineWhat: ceilingWhat,
          ratioAs: '%',
          targets: [target(`>= ${share * 100}%`, atLeast(vsCeiling, share))],
        },
        {
          figure: `deliveries / server CPU-s @${rate} msg/s, ${label}`,
          value,
          unit: 'deliveries / CPU-s',
          baseline: perCpu('socketio', rate),
          baselineWhat: 'socket.io 4, one room per channel',
          ratioAs: 'x',
          ...(rate === judged ? { targets: [target(`>= ${factor}x`, atLeast(vsSocketIo, factor))] } : {}),
        },
      );
    }
    // soketi (a Pusher server on the same uWS build) runs where it is installed (npm run bench:peers).
    const soketi = perCpu('soketi', rate);
    if (soketi !== null) {
      out.push({
        figure: `deliveries / server CPU-s @${rate} msg/s, per-message subscriptions`,
        value: perCpu('chatpulse', rate),
        unit: 'deliveries / CPU-s',
        baseline: soketi,
        baselineWhat: 'soketi 1.6 (Pusher client events, private channels)',
        ratioAs: 'x',
        targets: [target(`>= ${SOKETI_FACTOR}x`, atLeast(div(perCpu('chatpulse', rate), soketi), SOKETI_FACTOR))],
      });
    }
  }
  const rss = (kind: string) => {
    const bytes = num(server(kind), 'rssPerIdleConnBytes');
    return bytes === null ? null : bytes / 1024;
  };
  out.push({
    figure: `RSS per idle connection (${subs ?? '?'} subscribers: rough below thousands)`,
    value: rss('chatpulse'),
    unit: 'KiB',
    baseline: rss('socketio'),
    baselineWhat: 'socket.io 4',
    ratioAs: 'x',
    lowerIsBetter: true,
    targets: [target('<= 8 KiB', atMost(rss('chatpulse'), 8))],
  });
  return out;
}

// -------------------------------------------------------------------------------------------- cluster

function clusterFigures(j: unknown): Figure[] {
  const fanout = list(j, 'fanout');
  const deployment = (d: string) => fanout.find((f) => str(f, 'deployment') === d);
  const row = (d: string, rate: number) => list(deployment(d), 'rows').find((r) => num(r, 'rate') === rate);
  const one = 'one instance, in-memory bus';
  const out: Figure[] = [];
  const parts = list(j, 'parts');
  if (parts.includes('fanout')) {
    for (const rate of list(j, 'settings', 'rates').filter((r): r is number => typeof r === 'number')) {
      const [a, b] = [row('one', rate), row('two', rate)];
      out.push(
        {
          figure: `fan-out deliveries / server CPU-s @${rate} msg/s, two instances through Redis`,
          value: num(b, 'deliveriesPerCpuS'),
          unit: 'deliveries / CPU-s',
          baseline: num(a, 'deliveriesPerCpuS'),
          baselineWhat: one,
          ratioAs: 'x',
        },
        {
          figure: `fan-out deliveries/s @${rate} msg/s, two instances through Redis`,
          value: num(b, 'deliveriesPerS'),
          unit: 'deliveries/s',
          baseline: num(a, 'deliveriesPerS'),
          baselineWhat: one,
          ratioAs: 'x',
        },
        {
          figure: `fan-out p99 latency @${rate} msg/s, two instances through Redis`,
          value: num(b, 'p99Ms'),
          unit: 'ms',
          baseline: num(a, 'p99Ms'),
          baselineWhat: one,
          ratioAs: 'x',
          lowerIsBetter: true,
        },
      );
    }
  }
  if (parts.includes('engine')) {
    const engine = list(j, 'engine');
    const single = engine.find((e) => num(e, 'processes') === 1);
    for (const e of engine.filter((x) => (num(x, 'processes') ?? 1) > 1)) {
      out.push({
        figure: `classified msgs/s, ${str(e, 'split') ?? '?'} (processes x threads)`,
        value: num(e, 'best', 'msgsPerS'),
        unit: 'msgs/s',
        baseline: num(single, 'best', 'msgsPerS'),
        baselineWhat: `${str(single, 'split') ?? '1 x cores'}: one gateway process`,
        ratioAs: 'x',
      });
    }
  }
  if (parts.includes('fanout')) {
    for (const rate of list(j, 'settings', 'rates').filter((r): r is number => typeof r === 'number')) {
      out.push({
        figure: `fan-out deliveries / server CPU-s @${rate} msg/s, two instances through a Redis Cluster`,
        value: num(row('cluster', rate), 'deliveriesPerCpuS'),
        unit: 'deliveries / CPU-s',
        baseline: num(row('two', rate), 'deliveriesPerCpuS'),
        baselineWhat: 'two instances through one Redis',
        ratioAs: 'x',
      });
    }
  }
  if (parts.includes('rolling')) {
    // A rolling part that did not complete has zero counts: say so instead of reading them as "0 lost".
    const done = bool(j, 'rolling', 'available') === true;
    const owed = done ? num(j, 'rolling', 'owed') : null;
    const lost = done ? num(j, 'rolling', 'lost') : null;
    const repeated = done ? num(j, 'rolling', 'repeated') : null;
    const why = done ? '' : ` (not completed: ${(str(j, 'rolling', 'reason') ?? 'no result').slice(0, 120)})`;
    out.push(
      {
        figure: `rolling restart: deliveries lost (of ${owed ?? '?'} owed to ${num(j, 'rolling', 'subscribersHeld') ?? '?'} SDK subscribers)${why}`,
        value: lost,
        unit: 'deliveries',
        baselineWhat: 'no baseline',
        ratioAs: 'x',
        lowerIsBetter: true,
        targets: [target('0', atMost(lost, 0))],
      },
      {
        figure: 'rolling restart: deliveries repeated',
        value: repeated,
        unit: 'deliveries',
        baselineWhat: 'no baseline',
        ratioAs: 'x',
        lowerIsBetter: true,
        targets: [target('0', atMost(repeated, 0))],
      },
      {
        figure: 'rolling restart: p99 delivery latency of messages published during a restart',
        value: done ? num(j, 'rolling', 'latency', 'during', 'p99Ms') : null,
        unit: 'ms',
        baseline: done ? num(j, 'rolling', 'latency', 'outside', 'p99Ms') : null,
        baselineWhat: 'published outside the restarts',
        ratioAs: 'x',
        lowerIsBetter: true,
      },
    );
  }
  if (parts.includes('hold')) {
    const held = num(j, 'hold', 'held');
    out.push({
      figure: `idle connections held, WORKERS=${num(j, 'hold', 'workers') ?? '?'} (of ${num(j, 'hold', 'requested') ?? '?'} requested)`,
      value: held,
      unit: 'connections',
      baselineWhat: 'no baseline',
      ratioAs: 'x',
      targets: [target('>= 20,000', atLeast(held, 20_000))],
    });
  }
  return out;
}

// --------------------------------------------------------------------------------------------- ingest

function ingestFigures(j: unknown): Figure[] {
  const bare = list(j, 'baseline');
  const cp = list(j, 'chatpulse');
  const bareAt = (rate: number | null) => bare.find((r) => rate !== null && num(r, 'rate') === rate);
  // bench:ingest's own criterion for a step that kept up, applied to the bare tmi.js client too.
  const keptUp = (r: unknown) => (num(r, 'deliveredPct') ?? 0) >= 99 && (num(r, 'p99Ms') ?? Infinity) < 1000;
  const bareBest = maxBy(bare.filter(keptUp), (r) => num(r, 'rate'));
  const sustainable = num(j, 'sustainableRate');
  const sus = cp.find((r) => sustainable !== null && num(r, 'rate') === sustainable);
  const top = maxBy(cp, (r) => num(r, 'rate'));
  const topRate = num(top, 'rate');
  const steps = list(j, 'settings', 'steps').join(', ');
  const tmi = 'bare tmi.js client, receive only, same offered rate';
  return [
    {
      figure: `sustainable rate (highest step >= 99% delivered, p99 < 1 s; steps ${steps || '?'} lines/s)`,
      value: sustainable,
      unit: 'lines/s',
      baseline: num(bareBest, 'rate'),
      baselineWhat: 'bare tmi.js client, highest step it kept up with (capped by the steps tried)',
      ratioAs: 'x',
    },
    {
      figure: `delivered / offered at the highest step (${topRate ?? '?'} lines/s, ${num(top, 'receivers') ?? '?'} subscribers)`,
      value: num(top, 'deliveredPct'),
      unit: '%',
      baseline: num(bareAt(topRate), 'deliveredPct'),
      baselineWhat: tmi,
      ratioAs: 'x',
    },
    {
      figure: `p99 latency at the sustainable rate (IRC write -> WS frame)`,
      value: num(sus, 'p99Ms'),
      unit: 'ms',
      baseline: num(bareAt(sustainable), 'p99Ms'),
      baselineWhat: 'bare tmi.js client, same offered rate: IRC write -> tmi.js message',
      ratioAs: 'x',
      lowerIsBetter: true,
    },
    {
      figure: 'CPU per 1,000 lines at the sustainable rate (inference included)',
      value: num(sus, 'cpuMsPer1000'),
      unit: 'CPU ms / 1,000 lines',
      baseline: num(bareAt(sustainable), 'cpuMsPer1000'),
      baselineWhat: tmi,
      ratio: num(sus, 'vsTmiCpu') ?? undefined,
      ratioAs: 'x',
      lowerIsBetter: true,
    },
  ];
}

// ---------------------------------------------------------------------------------------------- store

function storeFigures(j: unknown): Figure[] {
  const rows = list(j, 'rows');
  const failures = list(j, 'failures');
  const out: Figure[] = [];
  // One set per driver: memory always, MongoDB when MONGODB_URL was set.
  for (const driver of list(j, 'settings', 'drivers').filter((d): d is string => typeof d === 'string')) {
    const mine = rows.filter((r) => str(r, 'driver') === driver);
    const base = mine.find((r) => str(r, 'kind') === 'baseline');
    const writer = mine.find((r) => str(r, 'kind') === 'writer-max');
    const baseWhat = `no writer: one insertMany([m]) + one bucket apply per message, in turn${bool(base, 'capped') === true ? ', capped by time' : ''}`;
    const against = (figure: string, field: string, unit: Unit, lowerIsBetter: boolean): Figure => ({
      figure: `${figure} (${driver})`,
      value: num(writer, field),
      unit,
      baseline: num(base, field),
      baselineWhat: baseWhat,
      ratioAs: 'x',
      lowerIsBetter,
    });
    out.push(
      against(
        `documents/s, batched StoreWriter as fast as accepted, ${num(j, 'settings', 'messages') ?? '?'} messages`,
        'docsPerS',
        'docs/s',
        false,
      ),
      against('write amplification: store calls per message', 'storeCallsPerMsg', 'calls / msg', true),
      against('bucket upserts per message', 'upsertsPerMsg', 'upserts / msg', true),
      against('CPU per 1,000 messages (bench process)', 'cpuMsPer1000', 'CPU ms / 1,000 msgs', true),
    );
    const f = failures.find((x) => str(x, 'driver') === driver);
    if (f !== undefined) {
      const exact = bool(f, 'check', 'ok') === true && num(f, 'replayS') !== null;
      out.push({
        figure: `store down ${num(f, 'outageS') ?? '?'}s at ${num(f, 'rate') ?? '?'} msgs/s: messages stored after the spool replay (${driver})`,
        value:
          div(num(f, 'check', 'stored'), num(f, 'messages')) === null
            ? null
            : (100 * (num(f, 'check', 'stored') as number)) / (num(f, 'messages') as number),
        unit: '%',
        baselineWhat: `no baseline; spool empty ${num(f, 'replayS') === null ? 'never' : `${fmt(num(f, 'replayS') as number, 2)}s`} after the store came back`,
        ratioAs: 'x',
        targets: [target('exactly once (messages and bucket counts)', bool(f, 'check', 'ok') === null ? null : exact)],
      });
    }
  }
  return out;
}

// ============================================================================================ running

const USAGE = `usage: npm run bench [-- --only ${AREAS.join(',')}] [--skip LIST] [--verbose] [--from DIR]
  --only LIST   run just these benches (comma-separated)
  --skip LIST   run all but these
  --verbose     stream every line the benches print, not only their progress lines and stderr
  --from DIR    run nothing: write the report from the results already in DIR (e.g. bench/results)
A run of every bench with none failed writes bench/results/latest.md and latest.json; a partial (--only,
--skip) or failed one writes bench/results/quick/partial-<date>.md and .json and leaves latest.md as it was`;

function usageError(message: string): never {
  console.error(`bench report: ${message}\n${USAGE}`);
  process.exit(2);
}

const flags = (() => {
  try {
    return parseFlags(['only', 'skip', 'from'], ['verbose', 'help']);
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
})();
if (flags.help === true) {
  console.log(USAGE);
  process.exit(0);
}
const areaList = (flag: string, raw: string | undefined): Area[] => {
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      if (!(AREAS as readonly string[]).includes(s)) usageError(`--${flag}: unknown bench "${s}" (known: ${AREAS.join(', ')})`);
      return s as Area;
    });
};
const only = areaList('only', flags.only);
const skip = areaList('skip', flags.skip);
if (only.length > 0 && skip.length > 0) usageError('--only and --skip do not go together');
const verbose = flags.verbose === true;
const QUICK_DIR = join(repoRoot, 'bench', 'results', 'quick');
/** --from DIR: run nothing, report on the results already in DIR (e.g. bench/results, the full runs). */
const FROM_DIR = flags.from === undefined ? null : isAbsolute(flags.from) ? flags.from : resolve(repoRoot, flags.from);
const RESULTS_DIR = FROM_DIR ?? QUICK_DIR;
const TAIL_LINES = 20;
const HEARTBEAT_MS = 30_000;
const KILL_GRACE_MS = 10_000;
/** A line from `progress()` in lib/results.ts: `[hh:mm:ss] ...`. */
const PROGRESS_LINE = /^\[\d\d:\d\d:\d\d\] /;

type Status = 'ok' | 'failed' | 'not run';

interface Outcome {
  bench: Bench;
  status: Status;
  /** Why it was not run, or how it failed, in words. */
  reason: string | null;
  command: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  seconds: number | null;
  resultsFile: string | null;
  /** From the results file: when the bench began, and the load average then. */
  ranAt: string | null;
  loadAvgStart: number | null;
  machine: string | null;
  lastLines: string[];
  figures: Figure[];
}

const rel = (path: string) => relative(repoRoot, path);
let current: ChildProcess | null = null;

/** Signals the child's whole process group (it was started detached, so it leads one): servers and clients too. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals | 0): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (current !== null) signalGroup(current, 'SIGTERM');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/**
 * `<name>.json`, else the newest `<name>-*.json` (bench:engine names its file by model when it is not the
 * bundled one), written since `since`.
 */
function findResults(name: Area, since: number): string | null {
  if (!existsSync(RESULTS_DIR)) return null;
  const pattern = new RegExp(`^${name}(-[^/]+)?\\.json$`);
  const files = readdirSync(RESULTS_DIR)
    .filter((f) => pattern.test(f))
    .map((f) => ({ path: join(RESULTS_DIR, f), exact: f === `${name}.json`, mtime: statSync(join(RESULTS_DIR, f)).mtimeMs }))
    .filter((f) => f.mtime >= since - 1000)
    .sort((a, b) => Number(b.exact) - Number(a.exact) || b.mtime - a.mtime);
  return files[0]?.path ?? null;
}

/** Reads the outcome's results file into its figures; false (and the reason) when it cannot be read. */
function readResults(o: Outcome): boolean {
  if (o.resultsFile === null) return false;
  try {
    const json = JSON.parse(readFileSync(o.resultsFile, 'utf8')) as unknown;
    o.ranAt = str(json, 'machine', 'date');
    o.loadAvgStart = num(json, 'machine', 'loadAvgStart');
    o.machine = resultsMachine(at(json, 'machine'));
    o.figures = o.bench.figures(json);
    return true;
  } catch (err) {
    o.reason = `${rel(o.resultsFile)}: ${err instanceof Error ? err.message : String(err)}`;
    return false;
  }
}

function blankOutcome(bench: Bench, status: Status, reason: string | null): Outcome {
  return {
    bench,
    status,
    reason,
    command: `node dist/bench/${bench.name}.js ${bench.args.join(' ')}`.trim(),
    exitCode: null,
    signal: null,
    timedOut: false,
    seconds: null,
    resultsFile: null,
    ranAt: null,
    loadAvgStart: null,
    machine: null,
    lastLines: [],
    figures: [],
  };
}

function runBench(bench: Bench, index: number, total: number): Promise<Outcome> {
  const script = join(repoRoot, 'dist', 'bench', `${bench.name}.js`);
  const outcome = blankOutcome(bench, 'failed', null);
  const command = outcome.command;
  if (!existsSync(script)) {
    outcome.reason = `${rel(script)} does not exist (no bench/${bench.name}.ts, or not built: npm run build)`;
    progress(`(${index}/${total}) ${bench.name}: FAILED: ${outcome.reason}`);
    return Promise.resolve(outcome);
  }
  progress(`(${index}/${total}) ${bench.name}: ${command} (expect ~${bench.expectS}s, timeout ${bench.timeoutS}s)`);
  const started = Date.now();
  // With --profile (BENCH_PROFILE_DIR set by this run's profiled copy), each bench profiles into the same folder.
  const child = spawn(process.execPath, [script, ...bench.args, ...(process.env.BENCH_PROFILE_DIR ? ['--profile'] : [])], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_RESULTS_DIR: QUICK_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  current = child;
  let lastOutput = Date.now();
  const tail: string[] = [];
  const onLine = (line: string, stream: 'out' | 'err') => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    // Progress lines and anything on stderr; the rest (the bench's own tables, server logs) with --verbose.
    if (!verbose && stream === 'out' && !PROGRESS_LINE.test(line)) return;
    lastOutput = Date.now();
    (stream === 'out' ? process.stdout : process.stderr).write(`[${bench.name}] ${line}\n`);
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => onLine(l, 'out'));
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => onLine(l, 'err'));
  const heartbeat = setInterval(() => {
    if (Date.now() - lastOutput < HEARTBEAT_MS) return;
    lastOutput = Date.now();
    progress(
      `${bench.name}: still running, ${Math.round((Date.now() - started) / 1000)}s (expect ~${bench.expectS}s, timeout ${bench.timeoutS}s)`,
    );
  }, 5_000);
  let killTimer: NodeJS.Timeout | undefined;
  const timeout = setTimeout(() => {
    outcome.timedOut = true;
    progress(`${bench.name}: past its ${bench.timeoutS}s timeout: stopping it (SIGTERM to its process group)`);
    signalGroup(child, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_GRACE_MS);
  }, bench.timeoutS * 1000);
  // Its last lines may still be in the pipes when it exits; a process it left behind may hold them open.
  const outputClosed = new Promise<void>((resolve) => {
    let open = 2;
    const closed = () => {
      if (--open === 0) resolve();
    };
    child.stdout.once('close', closed);
    child.stderr.once('close', closed);
  });
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      clearTimeout(timeout);
      clearTimeout(killTimer);
      current = null;
      outcome.exitCode = code;
      outcome.signal = signal;
      outcome.lastLines = [...tail];
      outcome.resultsFile = findResults(bench.name, started);
      if (error !== undefined) outcome.reason = `could not start: ${error.message}`;
      else if (outcome.timedOut) outcome.reason = `timed out after ${bench.timeoutS}s (killed${signal === null ? '' : ` by ${signal}`})`;
      else if (code !== 0) outcome.reason = `exit code ${code ?? signal}`;
      else if (outcome.resultsFile === null) outcome.reason = `exit code 0 but no ${bench.name}.json written in ${rel(RESULTS_DIR)}`;
      else outcome.status = 'ok';
      // A failed bench's results, when it still wrote them, are shown too; unreadable ones fail an ok run.
      if (outcome.resultsFile !== null && !readResults(outcome)) outcome.status = 'failed';
      progress(`(${index}/${total}) ${bench.name}: ${outcome.status === 'ok' ? 'ok' : `FAILED: ${outcome.reason}`} in ${outcome.seconds}s`);
      resolve(outcome);
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('exit', (code, signal) => {
      outcome.seconds = Math.round((Date.now() - started) / 1000);
      void (async () => {
        // Whatever it left behind (a server it had not stopped) must not load the next bench; the benches'
        // own exit handlers kill their children, so give those a moment first.
        await sleep(500);
        if (signalGroup(child, 0)) {
          progress(`${bench.name}: left processes behind: stopping its process group`);
          signalGroup(child, 'SIGKILL');
        }
        await Promise.race([outputClosed, sleep(2000)]);
        finish(code, signal);
      })();
    });
  });
}

// ============================================================================================ report

function value(x: number | null | undefined, unit: Unit): string {
  if (x === null || x === undefined) return 'n/a';
  switch (unit) {
    case 'ms':
      return `${fmt(x, x < 10 ? 2 : x < 100 ? 1 : 0)} ms`;
    case 'KiB':
      return `${fmt(x, 2)} KiB`;
    case '%':
      return `${fmt(x, 1)}%`;
    case 'x':
      return `${fmt(x, 2)}x`;
    case 'calls / msg':
    case 'upserts / msg':
      return `${fmt(x, x < 0.1 ? 4 : 2)} ${unit}`;
    case 'CPU ms / 1,000 lines':
    case 'CPU ms / 1,000 msgs':
      return `${fmt(x, 1)} ${unit}`;
    default:
      return `${fmt(x, 0)} ${unit}`;
  }
}

function ratioOf(f: Figure): number | null {
  if (f.ratio !== undefined) return f.ratio;
  return f.baseline === undefined ? null : div(f.value, f.baseline);
}

function ratioCell(f: Figure): string {
  const r = ratioOf(f);
  const shown =
    f.baseline === undefined && f.ratio === undefined
      ? '-'
      : r === null
        ? 'n/a'
        : f.ratioAs === '%'
          ? `${fmt(r * 100, 1)}%`
          : `${fmt(r, r >= 0.1 ? 2 : r >= 0.01 ? 3 : 4)}x`;
  const notes = [
    ...(f.lowerIsBetter === true && r !== null ? ['lower is better'] : []),
    ...(f.targets ?? []).map((t) => `target ${t.text}: ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'}`),
  ];
  return notes.length === 0 ? shown : `${shown} (${notes.join('; ')})`;
}

function baselineCell(f: Figure): string {
  if (f.baseline === undefined) return f.baselineWhat;
  return `${value(f.baseline, f.unit)} (${f.baselineWhat})`;
}

/** The machine a results file records, as a line (cores, CPU, Node, when, load average at its start). */
function resultsMachine(m: unknown): string | null {
  if (rec(m) === undefined) return null;
  return `${num(m, 'cores') ?? '?'} cores, ${str(m, 'cpu') ?? '?'}, Node ${str(m, 'node') ?? '?'}, ${str(m, 'date') ?? '?'}, load avg ${num(m, 'loadAvgStart') ?? '?'} at start`;
}

function section(o: Outcome, notRunWhy: string): string[] {
  const lines = [`## ${o.bench.title}`, ''];
  if (o.status === 'not run') return [...lines, `Not run (${o.reason ?? notRunWhy}).`];
  const file = o.resultsFile === null ? '' : `; its own report: \`${rel(o.resultsFile.replace(/\.json$/, '.md'))}\``;
  if (FROM_DIR === null) {
    const when = o.ranAt === null ? '' : `, began ${o.ranAt.slice(11, 19)} UTC with load avg ${o.loadAvgStart ?? '?'}`;
    lines.push(
      `\`${o.command}\`: ${o.status === 'ok' ? 'ok' : '**FAILED**'}${o.seconds === null ? '' : ` in ${o.seconds}s`}${when}${file}`,
    );
  } else {
    lines.push(`Machine: ${o.machine ?? 'n/a'}${file}`);
  }
  if (o.status === 'failed') {
    lines.push('', `Failed: ${o.reason ?? 'unknown'}.`);
    if (o.lastLines.length > 0) lines.push('', 'Last lines:', '', '```text', ...o.lastLines, '```');
  }
  if (o.figures.length > 0) {
    lines.push(
      '',
      markdownTable(
        ['figure', 'ChatPulse', 'baseline (what it is)', 'ratio'],
        o.figures.map((f) => [f.figure, value(f.value, f.unit), baselineCell(f), ratioCell(f)]),
      ),
    );
  }
  return lines;
}

function machineHeader(m: Machine, loadAvgEnd: number): string {
  return `${m.cores} cores, ${m.cpu}, Node ${m.node} (${m.platform}, ${m.memoryGiB} GiB); load avg ${m.loadAvgStart} at start, ${loadAvgEnd} at end`;
}

function durationWords(s: number): string {
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

// =============================================================================================== main

const host = machine();
const chosen = BENCHES.filter((b) => (only.length === 0 || only.includes(b.name)) && !skip.includes(b.name));
const selection = only.length > 0 ? `--only ${only.join(',')}` : skip.length > 0 ? `--skip ${skip.join(',')}` : '';
const began = Date.now();
const outcomes: Outcome[] = [];
if (FROM_DIR === null) {
  progress(
    `bench report: ${chosen.map((b) => b.name).join(', ') || 'nothing'} in quick mode (about ${durationWords(chosen.reduce((s, b) => s + b.expectS, 0))}), results in ${rel(QUICK_DIR)}`,
  );
  mkdirSync(QUICK_DIR, { recursive: true });
  for (const bench of BENCHES) {
    if (chosen.includes(bench)) outcomes.push(await runBench(bench, chosen.indexOf(bench) + 1, chosen.length));
    else outcomes.push(blankOutcome(bench, 'not run', selection));
  }
} else {
  progress(`bench report from ${rel(FROM_DIR)}: runs nothing`);
  for (const bench of BENCHES) {
    const o = blankOutcome(bench, 'not run', selection);
    if (chosen.includes(bench)) {
      o.resultsFile = findResults(bench.name, 0);
      if (o.resultsFile === null) o.reason = `no ${bench.name}.json in ${rel(FROM_DIR)}`;
      else o.status = readResults(o) ? 'ok' : 'failed';
    }
    outcomes.push(o);
  }
}
const tookS = Math.round((Date.now() - began) / 1000);
const loadAvgEnd = loadAvgNow();
const failed = outcomes.filter((o) => o.status === 'failed');

const markdown = [
  FROM_DIR === null ? '# Benchmarks (quick run)' : `# Benchmarks (from \`${rel(FROM_DIR)}\`)`,
  '',
  ...(FROM_DIR === null
    ? [
        `Machine: ${machineHeader(host, loadAvgEnd)}`,
        `Date: ${host.date}; took ${durationWords(tookS)}${selection === '' ? '' : ` (${selection})`}`,
        '',
        `\`npm run bench\`: every bench in a quick mode (short phases, one round), its results in \`${rel(QUICK_DIR)}/\`. ` +
          'Each baseline was measured by the same bench in the same run as the figure it is compared with: read the ratios. ' +
          "Absolute rates depend on the machine and its neighbours (a load average above 0 at a bench's start means the cores were shared). " +
          'For figures to quote, run the full bench (`npm run bench:<name>`, docs/benchmarks.md).',
      ]
    : [
        `Report written ${host.date} from the results files in \`${rel(FROM_DIR)}/\`; each area's machine and date are its own results file's. ` +
          'Each baseline was measured by the same bench in the same run as the figure it is compared with.',
      ]),
  '',
  markdownTable(
    ['area', 'status', 'seconds', FROM_DIR === null ? 'command' : 'results file'],
    outcomes.map((o) => [
      o.bench.name,
      o.status === 'failed'
        ? `**FAILED** (${o.reason ?? 'unknown'})`
        : o.status === 'not run' && o.reason !== selection
          ? `not run (${o.reason ?? ''})`
          : o.status,
      o.seconds === null ? '-' : String(o.seconds),
      FROM_DIR === null ? `\`${o.command}\`` : o.resultsFile === null ? '-' : `\`${rel(o.resultsFile)}\``,
    ]),
  ),
  '',
  ...outcomes.flatMap((o) => [...section(o, selection), '']),
].join('\n');

const json = {
  name: 'bench-report',
  mode: FROM_DIR === null ? 'quick' : 'from',
  machine: host,
  loadAvgEnd,
  date: host.date,
  tookS,
  selection: { only, skip },
  resultsDir: rel(RESULTS_DIR),
  benches: outcomes.map((o) => ({
    name: o.bench.name,
    status: o.status,
    reason: o.reason,
    command: o.command,
    exitCode: o.exitCode,
    signal: o.signal,
    timedOut: o.timedOut,
    seconds: o.seconds,
    ranAt: o.ranAt,
    loadAvgStart: o.loadAvgStart,
    resultsFile: o.resultsFile === null ? null : rel(o.resultsFile),
    ...(o.status === 'failed' ? { lastLines: o.lastLines } : {}),
    figures: o.figures.map((f) => ({
      figure: f.figure,
      value: f.value,
      unit: f.unit,
      baseline: f.baseline === undefined ? null : f.baseline,
      baselineWhat: f.baselineWhat,
      ratio: ratioOf(f),
      ratioAs: f.ratioAs,
      lowerIsBetter: f.lowerIsBetter === true,
      targets: f.targets ?? [],
    })),
  })),
};
// Only a complete run replaces the committed latest.md / latest.json; others go beside them.
const out = reportPaths(repoRoot, { only, skip, failed: failed.length }, new Date());
mkdirSync(dirname(out.md), { recursive: true });
writeFileSync(out.md, markdown.endsWith('\n') ? markdown : markdown + '\n');
writeFileSync(out.json, JSON.stringify(json, null, 2) + '\n');
progress(
  `wrote ${rel(out.md)} and ${rel(out.json)}${out.latest ? '' : ' (a partial or failed run: bench/results/latest.md is left as it was)'} in ${durationWords(tookS)}${failed.length > 0 ? `; FAILED: ${failed.map((o) => o.bench.name).join(', ')}` : ''}`,
);
process.exitCode = failed.length > 0 ? 1 : 0;
