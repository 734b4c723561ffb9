// The subscriber side of the WebSocket fan-out client generator (bench:ws, and bench:cluster's fan-out part):
// the forked bench/ws-clients.ts processes driven over IPC, and the rooms they subscribe to.
import { type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ServerUnavailable, spawnNode, stopChild } from './lib/processes.js';
import { monoMs, type FromClient, type SubPlan, type ToClient, type Wire } from './ws-protocol.js';

/**
 * Creates the bench's rooms (`room:bench-<c>`, see channelName) as `token`'s user: rooms exist only through
 * the API, never by a first post or subscribe. The token should be a dedicated host account's, so that no
 * publisher's messages carry a `host` badge the others' lack. With `reuse`, a room that is already there
 * (made earlier in the run, in the same Redis) is as good as a new one.
 */
export async function createBenchRooms(port: number, token: string, count: number, reuse = false): Promise<void> {
  for (let c = 0; c < count; c++) {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ id: `bench-${c}` }),
    });
    if (res.status === 201) continue;
    const body = (await res.text()).slice(0, 200);
    if (reuse && res.status === 409 && body.includes('"conflict"')) continue;
    throw new ServerUnavailable(`POST /api/v1/rooms (bench-${c}): ${res.status} ${body}`);
  }
}

// ------------------------------------------------------------------------------- subscriber processes

/** A forked bench/ws-clients.ts process and its one-reply-per-command IPC (the protocol of ws-protocol.ts). */
export class ClientProc {
  readonly child: ChildProcess;
  private readonly waiters: Array<{ resolve: (m: FromClient) => void; reject: (e: Error) => void }> = [];

  constructor() {
    this.child = spawnNode([fileURLToPath(new URL('./ws-clients.js', import.meta.url))], {}, true);
    this.child.on('message', (m) => this.waiters.shift()?.resolve(m as FromClient));
    this.child.once('exit', (code, signal) => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`subscriber process exited (${signal ?? code})`));
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  request<E extends FromClient['ev']>(msg: ToClient, ev: E, timeoutMs: number): Promise<Extract<FromClient, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`subscriber process ${this.pid}: no "${ev}" reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        resolve: (m) => {
          clearTimeout(timer);
          if (m.ev === ev) resolve(m as Extract<FromClient, { ev: E }>);
          else reject(new Error(`subscriber process ${this.pid}: expected "${ev}", got "${m.ev}"`));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send(msg);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ cmd: 'close' } satisfies ToClient);
    await stopChild(this.child, 3000);
  }
}

/** Each subscriber process's share of a wave of `wave` connections opened at once over `procs` processes. */
export const waveShare = (wave: number, procs: number): number => Math.max(1, Math.ceil(wave / procs));

export interface SubscriberShare {
  proc: ClientProc;
  port: number;
  subs: SubPlan[];
}

export interface Connected {
  /** Per share, its subscribers held. */
  heldPerShare: number[];
  held: number;
  failed: number;
  failureSamples: string[];
  seconds: number;
}

/** Every share's process opens its subscribers `waveEach` at a time, each wave waiting for the last. */
export async function connectSubscribers(
  wire: Wire,
  shares: readonly SubscriberShare[],
  waveEach: number,
  timeoutMs: number,
): Promise<Connected> {
  const started = monoMs();
  const waves = Math.ceil(Math.max(0, ...shares.map((s) => s.subs.length)) / waveEach) + 1;
  const replies = await Promise.all(
    shares.map((s) =>
      s.proc.request(
        { cmd: 'connect', wire, port: s.port, subs: s.subs, wave: waveEach, timeoutMs },
        'connected',
        waves * (timeoutMs + 5000) + 30_000,
      ),
    ),
  );
  const out: Connected = {
    heldPerShare: replies.map((r) => r.held),
    held: 0,
    failed: 0,
    failureSamples: [],
    seconds: Number(((monoMs() - started) / 1000).toFixed(2)),
  };
  for (const r of replies) {
    out.held += r.held;
    out.failed += r.failed;
    out.failureSamples.push(...r.failures.slice(0, 5 - out.failureSamples.length));
  }
  return out;
}
