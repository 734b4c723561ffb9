// Child processes for bench/ws.ts: started with the open-files limit raised (each holds one descriptor per
// connection), read from /proc for CPU time and RSS, and never left behind when the bench exits.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './machine.js';
import type { FromClient, ToClient } from './ws-protocol.js';

const live = new Set<ChildProcess>();
// Synchronous kill on any exit path (error, Ctrl-C, watchdog): thousands of sockets must not outlive us.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Raises the soft open-files limit to the hard one ("unlimited" means the kernel's per-process ceiling)
 * and execs node in place, so the pid we hold is node's and /proc/<pid> describes the process under test.
 * Done here rather than in a wrapper script so `node dist/bench/ws.js` alone is enough.
 */
const RAISE_FD_LIMIT = 'h=$(ulimit -Hn); [ "$h" = unlimited ] && h=$(cat /proc/sys/fs/nr_open); ulimit -n "$h" 2>/dev/null; exec "$0" "$@"';

export function spawnNode(args: readonly string[], env: Record<string, string>, ipc: boolean): ChildProcess {
  const child = spawn('/bin/sh', ['-c', RAISE_FD_LIMIT, process.execPath, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface CpuTime {
  user: number;
  sys: number;
}

/** User and system CPU seconds of a process, all its threads included (ChatPulse's inference workers too). */
export function cpuTime(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)", which may itself hold spaces; utime and stime are fields 14 and 15 of stat(5).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS, sys: Number(fields[12]) / CLOCK_TICKS };
}

export const cpuSeconds = (pid: number): number => {
  const t = cpuTime(pid);
  return t.user + t.sys;
};

export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) * 1024;
}

/** The soft open-files limit the process actually runs under. */
export function openFilesLimit(pid: number): number {
  const match = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return match === null || match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class ServerUnavailable extends Error {
  override name = 'ServerUnavailable';
}

/**
 * Creates the bench's rooms (`room:bench-<c>`, see channelName) as `token`'s user: rooms exist only through
 * the API, never by a first post or subscribe. The token should be a dedicated host account's, so that no
 * publisher's messages carry a `host` badge the others' lack.
 */
export async function createBenchRooms(port: number, token: string, count: number): Promise<void> {
  for (let c = 0; c < count; c++) {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ id: `bench-${c}` }),
    });
    if (res.status !== 201) throw new ServerUnavailable(`POST /api/v1/rooms (bench-${c}): ${res.status} ${(await res.text()).slice(0, 200)}`);
  }
}

export interface StartedServer {
  child: ChildProcess;
  pid: number;
  port: number;
}

/**
 * Starts a server and resolves once a stdout JSON line satisfies `ready` (which returns the port).
 * stdout keeps being drained afterwards (a full pipe would block the server); error-level pino lines are
 * echoed, a few of them, so a failing server says why.
 */
export function startServer(name: string, args: readonly string[], env: Record<string, string>, ready: (line: Record<string, unknown>) => number | null, timeoutMs: number): Promise<StartedServer> {
  const child = spawnNode(args, env, false);
  let echoed = 0;
  let lastError = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ServerUnavailable(`${name} did not become ready within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      reject(new ServerUnavailable(`${name} exited (${signal ?? code}) before ready${lastError === '' ? '' : `: ${lastError}`}`));
    };
    child.once('exit', onExit);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof line.level === 'number' && line.level >= 50) {
        lastError = String(line.reason ?? line.msg ?? text).slice(0, 300);
        if (echoed++ < 10) console.error(`  [${name}] ${text.slice(0, 500)}`);
      }
      const port = ready(line);
      if (port !== null && child.pid !== undefined) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({ child, pid: child.pid, port });
      }
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
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
      const timer = setTimeout(() => reject(new Error(`subscriber process ${this.pid}: no "${ev}" reply within ${timeoutMs} ms`)), timeoutMs);
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
