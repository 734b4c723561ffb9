// A real, throwaway redis-server for tests: free ephemeral port, no persistence, its own temp dir.
// `stop()` kills it (like a crash: all data is lost) and `restart()` starts a fresh one on the same port,
// which is how the resilience tests take Redis away from running drivers and give it back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server (SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts a fresh server (empty) on the same port; stops the running one first. */
  restart(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
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
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Servers still running when the test process exits (a test that failed before its cleanup) die with it.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRedisServer(): Promise<RedisServer> {
  let dir = mkdtempSync(join(tmpdir(), 'chatpulse-redis-'));
  let port = await freePort();
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let exited = false;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
    });
    running.add(proc);
    child = proc;
    // Bounded: 200 x 50 ms. A loaded machine may take a while to fork; a failed start exits early.
    for (let i = 0; i < 200; i++) {
      if (exited) throw new Error(`redis-server exited on start (port ${port}): ${stderr.trim()}`);
      if (await ping(port)) return;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${port}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };

  // The port can be taken between probing and binding; try a few others before giving up.
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      await stop();
      if (attempt === 2) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
    }
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(join(tmpdir(), 'chatpulse-redis-'));
      await launch();
    },
  };
}
