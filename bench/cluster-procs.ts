// Processes for bench/cluster.ts: a throwaway redis-server (whose pid the bench reads CPU time from),
// ChatPulse deployments of one or more gateway processes, and the forked subscriber processes of the
// WebSocket bench (bench/ws-clients.ts) driven over IPC. Everything started here dies with the bench.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTime, freePort, rssBytes, ServerUnavailable, startServer, stopChild, type CpuTime } from './ws-procs.js';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Processes that are not our children (cluster workers forked by a ChatPulse primary) and our own
// non-node children (redis-server): killed synchronously on any exit path, as ws-procs does for its own.
const strays = new Set<number>();
const redisChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of redisChildren) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  for (const pid of strays) kill(pid);
});

export const alive = (pid: number): boolean => existsSync(`/proc/${pid}/stat`);

function ppidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 4 of stat(5), the first after "(comm) state".
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** CPU seconds (user + system, every thread) summed over processes; a process already gone counts 0. */
export function cpuOf(pids: readonly number[]): CpuTime {
  const sum: CpuTime = { user: 0, sys: 0 };
  for (const pid of pids) {
    try {
      const t = cpuTime(pid);
      sum.user += t.user;
      sum.sys += t.sys;
    } catch {
      // exited: its time is lost to the reading (the run notes a dead process)
    }
  }
  return sum;
}

export const cpuSum = (t: CpuTime): number => t.user + t.sys;

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds the whole machine spent busy (every core: user, nice, system, irq, softirq, steal) from
 * /proc/stat. Minus what the bench's own processes used over a window, it is what neighbours took.
 */
export function machineBusyS(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, x) => sum + (x ?? 0), 0) / CLOCK_TICKS;
}

export function rssOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += rssBytes(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------- Redis

export interface Redis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** One PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

/**
 * redis-server on a free loopback port: no RDB snapshots, no AOF, its own temp dir. Like test/redis-server.ts,
 * but this one hands out the pid: the bench charges Redis's CPU time to the messages that crossed it.
 */
export async function startRedis(): Promise<Redis> {
  if (!existsSync(REDIS_SERVER)) throw new ServerUnavailable(`${REDIS_SERVER} not found (set REDIS_SERVER to a redis-server binary)`);
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-bench-redis-'));
  tempDirs.add(dir);
  // The port may be taken between probing and binding: a few tries.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    redisChildren.add(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', () => redisChildren.delete(child));
    // Bounded: 200 x 50 ms.
    let up = false;
    for (let i = 0; i < 200 && child.exitCode === null && child.signalCode === null; i++) {
      if (await ping(port)) {
        up = true;
        break;
      }
      await sleep(50);
    }
    if (up && child.pid !== undefined) {
      const pid = child.pid;
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid,
        async stop() {
          await stopChild(child, 2000);
          rmSync(dir, { recursive: true, force: true });
          tempDirs.delete(dir);
        },
      };
    }
    await stopChild(child, 1000);
    if (attempt === 3) {
      rmSync(dir, { recursive: true, force: true });
      throw new ServerUnavailable(`redis-server did not answer PING on port ${port}${stderr.trim() === '' ? '' : `: ${stderr.trim().slice(0, 300)}`}`);
    }
  }
  throw new ServerUnavailable('redis-server did not start');
}

// ------------------------------------------------------------------------------------------ ChatPulse

export interface Deployment {
  label: string;
  child: ChildProcess;
  port: number;
  /** Every process of the deployment: with WORKERS > 1 the primary and its workers. */
  pids: number[];
  /** The gateway processes (the ones that logged "chatpulse listening"). */
  workerPids: number[];
}

/**
 * `node dist/src/main.js` with `env`, ready once `workers` gateway processes logged "chatpulse listening".
 * With WORKERS > 1 the cluster workers inherit the primary's stdout, so their lines (with their pid) come
 * through the same pipe; their pids are kept so CPU and RSS cover the whole deployment.
 */
export async function startChatPulse(label: string, env: Record<string, string>, workers: number, timeoutMs: number): Promise<Deployment> {
  const port = Number(env.PORT);
  const listening = new Set<number>();
  const started = await startServer(label, ['dist/src/main.js'], { ...env, WORKERS: String(workers) }, (line) => {
    if (line.msg === 'chatpulse cannot start' && workers > 1 && typeof line.pid === 'number') {
      // A cluster worker that cannot start exits, and the primary would restart it until its crash-loop
      // check gives up: fail at the first one instead. Killing the primary (the worker's parent, our child)
      // makes startServer reject with the logged reason; the worker is killed too.
      const parent = ppidOf(line.pid);
      if (parent !== null && ppidOf(parent) === process.pid) kill(parent);
      kill(line.pid);
      return null;
    }
    if (line.msg !== 'chatpulse listening') return null;
    if (typeof line.pid === 'number') listening.add(line.pid);
    return listening.size >= workers ? (typeof line.port === 'number' ? line.port : port) : null;
  }, timeoutMs);
  const workerPids = [...listening];
  for (const pid of workerPids) if (pid !== started.pid) strays.add(pid);
  const pids = [...new Set([started.pid, ...workerPids])];
  return { label, child: started.child, port: started.port, pids, workerPids };
}

/** SIGTERM (the primary drains its workers), SIGKILL after the grace, then any worker left. */
export async function stopDeployment(d: Deployment): Promise<void> {
  await stopChild(d.child, 8000);
  for (const pid of d.workerPids) {
    if (pid !== d.child.pid && alive(pid)) kill(pid);
  }
  for (const pid of d.workerPids) strays.delete(pid);
}

/** The processes of a deployment that are gone (a crashed worker the primary replaced is one). */
export const deadPids = (d: Deployment): number[] => d.pids.filter((pid) => !alive(pid));

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new ServerUnavailable(`POST ${new URL(url).pathname} on port ${new URL(url).port}: ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

/**
 * Registers `username` on one port and logs in on another (the same one for a lone instance): with
 * REDIS_URL the account lives in Redis, so this also checks that the instances share their user store.
 */
export async function accountToken(registerPort: number, loginPort: number, username: string): Promise<string> {
  const credentials = { username, password: 'bench-password-1' };
  await postJson(`http://127.0.0.1:${registerPort}/api/v1/auth/register`, credentials);
  const { access_token: token } = (await postJson(`http://127.0.0.1:${loginPort}/api/v1/auth/login`, credentials)) as { access_token?: unknown };
  if (typeof token !== 'string') throw new ServerUnavailable('login returned no access_token');
  return token;
}

