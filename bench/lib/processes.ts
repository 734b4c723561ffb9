// Process control for the benches: node children started with the open-files limit raised, waited on until
// they log that they are ready, stopped with a grace period, and never left behind when the bench exits
// (an error, Ctrl-C, the watchdog): thousands of sockets must not outlive a run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../src/paths.js';
import { profileArgs } from './profile.js';

const live = new Set<ChildProcess>();
// Processes that are not our children (cluster workers forked by a ChatPulse primary).
const strays = new Set<number>();
// Synchronous kill on any exit path.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const pid of strays) killPid(pid);
});

export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills `pid` (not our child) when the bench exits, unless released first. */
export const killAtExit = (pid: number): void => void strays.add(pid);
export const releaseAtExit = (pid: number): void => void strays.delete(pid);

/**
 * Raises the soft open-files limit to the hard one ("unlimited" means the kernel's per-process ceiling)
 * and execs node in place, so the pid we hold is node's and /proc/<pid> describes the process under test.
 * Done here rather than in a wrapper script so `node dist/bench/ws.js` alone is enough.
 */
const RAISE_FD_LIMIT = 'h=$(ulimit -Hn); [ "$h" = unlimited ] && h=$(cat /proc/sys/fs/nr_open); ulimit -n "$h" 2>/dev/null; exec "$0" "$@"';

/** `node ...args` from the repo root, with `env` over ours; `ipc`: an IPC channel and our stdout. */
export function spawnNode(args: readonly string[], env: Record<string, string>, ipc: boolean): ChildProcess {
  const child = spawn('/bin/sh', ['-c', RAISE_FD_LIMIT, process.execPath, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
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

/** A server that could not be started or stopped answering: the run reports it and goes on. */
export class ServerUnavailable extends Error {
  override name = 'ServerUnavailable';
}

/** Why a run ended early, in words; an error the bench did not expect is printed whole first. */
export function failureReason(err: unknown): string {
  if (!(err instanceof ServerUnavailable)) console.error(err);
  return err instanceof Error ? err.message : String(err);
}

export interface StartedServer {
  child: ChildProcess;
  pid: number;
  port: number;
}

/** The port of a `{"port":N}` line, the one the baseline servers print once listening. */
export const portLine = (line: Record<string, unknown>): number | null => (typeof line.port === 'number' ? line.port : null);

/**
 * Starts a node server and resolves once a stdout JSON line satisfies `ready` (which returns the port).
 * stdout keeps being drained afterwards (a full pipe would block the server); error-level pino lines are
 * echoed, a few of them, so a failing server says why.
 */
export function startServer(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
  ready: (line: Record<string, unknown>) => number | null,
  timeoutMs: number,
): Promise<StartedServer> {
  // With --profile, every server a bench starts (its cluster workers too: they inherit execArgv) is profiled.
  const child = spawnNode([...profileArgs(), ...args], env, false);
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
        lastError = (typeof line.reason === 'string' ? line.reason : typeof line.msg === 'string' ? line.msg : text).slice(0, 300);
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

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`; a grace of 0 is SIGKILL at once (a crash). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (graceMs <= 0) {
    child.kill('SIGKILL');
    await exited;
    return;
  }
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Exit codes for Ctrl-C and SIGTERM (the exit handler above then kills every child), and a backstop should
 * a step hang anyway, though every step is bounded on its own: `<name>: still running after <bound>`, exit 2.
 */
export function guardRun(name: string, boundS: number, bound = `${boundS}s`): void {
  const watchdog = setTimeout(() => {
    console.error(`${name}: still running after ${bound}: giving up`);
    process.exit(2);
  }, boundS * 1000);
  watchdog.unref();
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
}
