// A real, throwaway redis-server for the tests (test/redis-server.ts) and the benches: a free loopback port,
// no RDB snapshots, no AOF, its own temp dir, killed with the process that started it. `stop()` kills it
// like a crash (all data lost) and `restart()` starts a fresh, empty one on the same port, which is how the
// resilience tests take Redis away from running drivers and give it back; `pid` is for the benches, which
// charge Redis's CPU time to the messages that crossed it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './phases.js';
import { freePort, stopChild } from './processes.js';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The running server's pid (a new one after `restart()`). */
  readonly pid: number;
  /** Kills the server (SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts a fresh server (empty) on the same port; stops the running one first. */
  restart(): Promise<void>;
}

// Servers and their dirs still there when the process exits (a test that failed before its cleanup, a
// bench stopped by Ctrl-C) go with it.
const running = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

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

/** redis-server on `port`, resolved once it answers PING. */
async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Bounded: 200 x 50 ms. A loaded machine may take a while to fork; a failed start exits early.
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server exited on start (port ${port}): ${stderr.trim()}`);
    if (await ping(port)) return child;
    await sleep(50);
  }
  await stopChild(child, 0);
  throw new Error(`redis-server did not answer PING on port ${port}${stderr.trim() === '' ? '' : `: ${stderr.trim().slice(0, 300)}`}`);
}

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-redis-'));
  dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export async function startRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} not found (set REDIS_SERVER to a redis-server binary)`);
  let dir = freshDir();
  let port = await freePort();
  let child: ChildProcess | null = null;
  // The port can be taken between probing and binding: a few others are tried before giving up.
  for (let attempt = 1; child === null; attempt++) {
    try {
      child = await launch(port, dir);
    } catch (err) {
      if (attempt === 3) {
        removeDir(dir);
        throw err;
      }
      port = await freePort();
    }
  }
  let pid = child.pid ?? 0;

  const kill = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc !== null) await stopChild(proc, 0);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return pid;
    },
    async stop() {
      await kill();
      removeDir(dir);
    },
    async restart() {
      await kill();
      removeDir(dir);
      dir = freshDir();
      child = await launch(port, dir);
      pid = child.pid ?? 0;
    },
  };
}
