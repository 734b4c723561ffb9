// bench:cluster's rolling-restart part (--parts rolling): two ChatPulse hosts on one Redis (a Redis Cluster
// with --redis cluster, the default), SDK subscribers split over both, SDK publishers on both posting with
// acknowledged chat at a fixed total rate; then each host in turn is SIGTERMed (drained) and started again
// on its port while publishing goes on. The SDK subscribers of the host that went away reconnect to it and
// recover from the channel's history. Reported: messages acknowledged vs delivered per subscriber (lost,
// repeated, out of order), recovery outcomes, and delivery latency (server publish time -> SDK) during the
// restarts and outside them. Forks bench/rolling-clients.ts for the subscribers.
import { type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { LiveConnection } from '../src/client/index.js';
import { accountToken, startChatPulse, stopDeployment, type Deployment } from './lib/chatpulse.js';
import { sleep } from './lib/phases.js';
import { freePort, ServerUnavailable, spawnNode, stopChild } from './lib/processes.js';
import { fmt, markdownTable, progress } from './lib/results.js';
import { percentile, round, sum } from './lib/stats.js';
import type { RollingFromClient, RollingToClient, SubscriberTally } from './rolling-clients.js';
import { createBenchRooms } from './ws-procs.js';
import { channelName } from './ws-protocol.js';

export interface RollingSettings {
  subscribers: number;
  channels: number;
  /** Messages per second, all publishers together. */
  rate: number;
  /** Steady publishing before the first restart, between restarts and after the last. */
  steadyS: number;
  clientProcs: number;
  startTimeoutMs: number;
  /** Environment of a host, on `port`. */
  env(port: number): Record<string, string>;
  /** Which Redis: for the report. */
  redis: string;
}

export interface RestartWindow {
  host: string;
  /** Epoch ms: SIGTERM sent, and the restarted host ready again. */
  from: number;
  to: number;
  seconds: number;
}

export interface RollingResult {
  available: boolean;
  reason: string | null;
  redis: string;
  subscribers: number;
  subscribersHeld: number;
  channels: number;
  rate: number;
  published: number;
  chatFailures: number;
  /** Messages owed to subscribers (each one's channel's messages after it subscribed) and what arrived. */
  owed: number;
  delivered: number;
  lost: number;
  repeated: number;
  outOfOrder: number;
  subscribersWithLoss: number;
  subscribersWithRepeats: number;
  recoveredEvents: number;
  gapEvents: number;
  reconnects: number;
  restarts: RestartWindow[];
  latency: { during: LatencyFigures; outside: LatencyFigures };
}

interface LatencyFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

class RollingClients {
  readonly child: ChildProcess;
  private readonly waiters: Array<(m: RollingFromClient) => void> = [];

  constructor() {
    this.child = spawnNode([fileURLToPath(new URL('./rolling-clients.js', import.meta.url))], {}, true);
    this.child.on('message', (m) => this.waiters.shift()?.(m as RollingFromClient));
  }

  request<E extends RollingFromClient['ev']>(
    msg: RollingToClient,
    ev: E,
    timeoutMs: number,
  ): Promise<Extract<RollingFromClient, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rolling client ${this.child.pid}: no "${ev}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(timer);
        if (m.ev === ev) resolve(m as Extract<RollingFromClient, { ev: E }>);
        else reject(new Error(`rolling client ${this.child.pid}: expected "${ev}", got "${m.ev}"`));
      });
      this.child.send(msg);
    });
  }

  async close(): Promise<void> {
    if (this.child.connected) await this.request({ cmd: 'close' }, 'closed', 5000).catch(() => undefined);
    await stopChild(this.child, 3000);
  }
}

/** One publisher: an SDK connection to one host, chats acknowledged (kept and resent across its host's restart). */
interface Publisher {
  live: LiveConnection;
  acked: number;
  failed: number;
  pending: Set<Promise<unknown>>;
}

function figures(latencies: number[]): LatencyFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 50), 1),
    p99Ms: round(percentile(sorted, 99), 1),
    maxMs: round(sorted.at(-1) ?? NaN, 1),
  };
}

export async function runRolling(s: RollingSettings): Promise<RollingResult> {
  const result: RollingResult = {
    available: false,
    reason: null,
    redis: s.redis,
    subscribers: s.subscribers,
    subscribersHeld: 0,
    channels: s.channels,
    rate: s.rate,
    published: 0,
    chatFailures: 0,
    owed: 0,
    delivered: 0,
    lost: 0,
    repeated: 0,
    outOfOrder: 0,
    subscribersWithLoss: 0,
    subscribersWithRepeats: 0,
    recoveredEvents: 0,
    gapEvents: 0,
    reconnects: 0,
    restarts: [],
    latency: { during: figures([]), outside: figures([]) },
  };
  const hosts: Deployment[] = [];
  const procs: RollingClients[] = [];
  const pubs: Publisher[] = [];
  /** Per channel, the highest acknowledged offset. */
  const top = new Map<string, number>();
  try {
    progress(`rolling restart (${s.redis}): starting two hosts`);
    for (const name of ['A', 'B']) {
      hosts.push(await startChatPulse(`ChatPulse ${name}`, s.env(await freePort()), 1, s.startTimeoutMs));
    }
    const [a, b] = hosts as [Deployment, Deployment];
    // The fan-out part may already have made these rooms in the same Redis Cluster earlier in the run.
    await createBenchRooms(a.port, await accountToken(a.port, b.port, 'rolling_host'), s.channels, true);
    const channels = Array.from({ length: s.channels }, (_, c) => channelName(c));
    const urls = hosts.map((h) => `http://127.0.0.1:${h.port}`);

    const share = Math.ceil(s.subscribers / s.clientProcs);
    for (let p = 0; p < s.clientProcs; p++) procs.push(new RollingClients());
    const ready = await Promise.all(
      procs.map((proc, p) =>
        proc.request(
          { cmd: 'start', urls, channels, count: Math.max(0, Math.min(share, s.subscribers - p * share)), first: p * share },
          'ready',
          120_000,
        ),
      ),
    );
    result.subscribersHeld = sum(ready.map((r) => r.subscribed));
    progress(`  ${result.subscribersHeld}/${s.subscribers} SDK subscribers on ${s.channels} channels, half on each host`);

    for (const [i, host] of hosts.entries()) {
      const token = await accountToken(host.port, host.port, `rolling_pub_${i}`);
      const live = new LiveConnection({
        url: urls[i] as string,
        WebSocket,
        credentials: { token },
        maxPendingChats: 1_000_000,
        chatTimeoutMs: false,
      });
      pubs.push({ live, acked: 0, failed: 0, pending: new Set() });
    }

    let publishing = true;
    let n = 0;
    const publish = async () => {
      // A tick every 10 ms sends what the rate owes by then, so a slow tick catches up instead of lowering the rate.
      const t0 = Date.now();
      while (publishing) {
        const due = Math.floor(((Date.now() - t0) / 1000) * s.rate);
        for (; n < due; n++) {
          const pub = pubs[n % pubs.length] as Publisher;
          const channel = channels[n % channels.length] as string;
          const sent = pub.live.chat(channel, `rolling ${n % 50} what a play`).then(
            (ack) => {
              pub.acked++;
              if (ack.offset > (top.get(channel) ?? 0)) top.set(channel, ack.offset);
            },
            () => {
              pub.failed++;
            },
          );
          pub.pending.add(sent);
          void sent.finally(() => pub.pending.delete(sent));
        }
        await sleep(10);
      }
    };
    const publisher = publish();
    await sleep(s.steadyS * 1000);
    for (const [i, host] of hosts.entries()) {
      const from = Date.now();
      progress(`  SIGTERM ${host.label} (pid ${host.pids.join(',')}), then starting it again on port ${host.port}`);
      await stopDeployment(host);
      const again = await startChatPulse(host.label, s.env(host.port), 1, s.startTimeoutMs);
      hosts[i] = again;
      const to = Date.now();
      result.restarts.push({ host: host.label, from, to, seconds: round((to - from) / 1000, 1) });
      progress(`  ${host.label} ready again after ${fmt((to - from) / 1000, 1)}s`);
      await sleep(s.steadyS * 1000);
    }
    publishing = false;
    await publisher;
    const settle = Date.now() + 60_000;
    while (pubs.some((p) => p.pending.size > 0) && Date.now() < settle) await sleep(100);
    await sleep(3000); // the last deliveries
    result.published = sum(pubs.map((p) => p.acked));
    result.chatFailures = sum(pubs.map((p) => p.failed)) + sum(pubs.map((p) => p.pending.size));

    const reports = await Promise.all(procs.map((p) => p.request({ cmd: 'report' }, 'report', 60_000)));
    const tallies: SubscriberTally[] = reports.flatMap((r) => r.tallies);
    for (const t of tallies) {
      if (t.startOffset < 0) continue;
      const owed = Math.max(0, (top.get(t.channel) ?? 0) - t.startOffset);
      result.owed += owed;
      result.delivered += t.distinct;
      const lost = Math.max(0, owed - t.distinct);
      result.lost += lost;
      result.repeated += t.repeated;
      result.outOfOrder += t.outOfOrder;
      if (lost > 0) result.subscribersWithLoss++;
      if (t.repeated > 0) result.subscribersWithRepeats++;
      result.recoveredEvents += t.recovered;
      result.gapEvents += t.gaps;
      result.reconnects += t.reconnects;
    }
    const during: number[] = [];
    const outside: number[] = [];
    for (const r of reports)
      r.publishTs.forEach((ts, k) => {
        const inRestart = result.restarts.some((w) => ts >= w.from && ts <= w.to);
        (inRestart ? during : outside).push(r.latencyMs[k] as number);
      });
    result.latency = { during: figures(during), outside: figures(outside) };
    result.available = true;
  } catch (err) {
    if (!(err instanceof ServerUnavailable) && !(err instanceof Error)) throw err;
    result.reason = err.message;
    progress(`  rolling restart not completed: ${err.message}`);
  } finally {
    for (const p of pubs) p.live.close();
    await Promise.all(procs.map((p) => p.close()));
    for (const h of hosts) await stopDeployment(h);
  }
  return result;
}

export function rollingReport(r: RollingResult, s: Pick<RollingSettings, 'steadyS'>): string[] {
  const lines = ['', `## Rolling restart (${r.redis})`, ''];
  if (!r.available) return [...lines, `Not completed: ${r.reason ?? 'unknown'}`];
  lines.push(
    `Two hosts (WORKERS=1 each) on ${r.redis}; ${r.subscribersHeld} SDK subscribers (\`LiveConnection\`, \`ws\`) on ${r.channels} channels, half on each host; ` +
      `two SDK publishers (one per host) posting with acknowledged chat at ${r.rate} msg/s in all. After ${s.steadyS}s, each host in turn is SIGTERMed ` +
      `(drained), started again on its port, and left ${s.steadyS}s before the next. Subscribers of a restarted host reconnect to it and recover from history. ` +
      'Owed: for each subscriber, the acknowledged messages of its channel after its first `subscribed` offset.',
    '',
    markdownTable(
      [
        'published (acked)',
        'chat failures',
        'owed deliveries',
        'delivered',
        'lost',
        'repeated',
        'out of order',
        'subscribers with loss',
        'recovered events',
        'gap events',
        'reconnects',
      ],
      [
        [
          String(r.published),
          String(r.chatFailures),
          String(r.owed),
          String(r.delivered),
          String(r.lost),
          String(r.repeated),
          String(r.outOfOrder),
          String(r.subscribersWithLoss),
          String(r.recoveredEvents),
          String(r.gapEvents),
          String(r.reconnects),
        ],
      ],
    ),
    '',
    markdownTable(
      ['restart', 'SIGTERM -> ready again (s)'],
      r.restarts.map((w) => [w.host, fmt(w.seconds, 1)]),
    ),
    '',
    'Delivery latency, server publish time to the SDK handing the message over (every 10th delivery of each subscriber), by whether the message was published while a host was restarting:',
    '',
    markdownTable(
      ['published', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
      (['outside', 'during'] as const).map((k) => {
        const f = r.latency[k];
        return [
          k === 'during' ? 'during a restart' : 'outside restarts',
          String(f.samples),
          fmt(f.p50Ms, 1),
          fmt(f.p99Ms, 1),
          fmt(f.maxMs, 1),
        ];
      }),
    ),
  );
  return lines;
}
