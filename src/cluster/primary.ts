// The node:cluster primary: forks WORKERS gateway processes that all listen on one port (uWS sets
// SO_REUSEPORT, so the kernel spreads connections), restarts a crashed one with backoff, gives up loudly on
// a crash loop, and turns SIGTERM/SIGINT into a graceful drain of every worker.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import type { Logger } from '../observability/log.js';
import { ConfigError } from '../config.js';
import { serveClusterMetrics } from '../observability/metrics.js';

export interface PrimaryOptions {
  workers: number;
  host: string;
  port: number;
  /** How long a drain may take before the stragglers are killed. */
  drainTimeoutMs: number;
  /** More than this many crashes within crashWindowMs is a crash loop: stop everything. */
  maxCrashes: number;
  crashWindowMs: number;
}

/**
 * A port the workers can share: with PORT=0 one is picked here so they all listen on the same one; a given
 * PORT is checked free first. The workers bind with SO_REUSEPORT, which a second host's primary would share
 * silently (two servers with different secrets splitting the traffic); this plain bind fails instead.
 */
async function freePort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new ConfigError(`PORT: ${host}:${port} is already in use`) : err),
    );
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Forks the workers; resolves with the port they all listen on (a free one picked here when PORT=0). */
export async function runPrimary(options: PrimaryOptions, log: Logger): Promise<number> {
  const port = await freePort(options.host, options.port);
  serveClusterMetrics();
  const crashes: number[] = [];
  let stopping = false;
  const slots = new Map<Worker, number>();

  const fork = (slot: number) => {
    const worker = cluster.fork({ PORT: String(port), CHATPULSE_WORKER_SLOT: String(slot) });
    slots.set(worker, slot);
    log.info({ slot, pid: worker.process.pid, port }, 'worker started');
  };

  /**
   * Every way into stopping goes through here, so the deadline is armed on each of them (a drain, a crash
   * loop): the primary always exits, whatever its workers do.
   */
  const stopAll = (exitCode: number) => {
    stopping = true;
    process.exitCode = exitCode;
    for (const w of slots.keys()) w.process.kill('SIGTERM');
    if (slots.size === 0) process.exit(exitCode);
    setTimeout(() => {
      for (const w of slots.keys()) w.process.kill('SIGKILL');
      log.error({ workers: slots.size }, 'drain deadline passed: killed the remaining workers');
      process.exit(1);
    }, options.drainTimeoutMs + 5000);
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker) ?? 0;
    slots.delete(worker);
    if (stopping) {
      log.info({ slot, pid: worker.process.pid, code }, 'worker drained');
      if (slots.size === 0) {
        log.info('all workers stopped');
        process.exit(process.exitCode ?? 0); // 1 after giving up on a crash loop
      }
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && now - (crashes[0] as number) > options.crashWindowMs) crashes.shift();
    if (crashes.length > options.maxCrashes) {
      log.fatal({ crashes: crashes.length, windowMs: options.crashWindowMs }, 'workers are crash-looping: giving up');
      stopAll(1);
      return;
    }
    // Backoff grows with recent crashes: 0.1 s, 0.2 s, 0.4 s ... capped at 5 s.
    const delay = Math.min(5000, 100 * 2 ** (crashes.length - 1));
    log.error({ slot, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker died: restarting');
    setTimeout(() => !stopping && fork(slot), delay);
  });

  let signalled = false;
  const drain = (signal: string) => {
    const again = signalled;
    signalled = true;
    if (again) {
      // A second signal: the operator will not wait for the drain.
      log.warn({ signal, workers: slots.size }, 'second signal while stopping: killing the workers');
      for (const w of slots.keys()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    if (stopping) return; // already stopping (a crash loop): its deadline is armed
    log.info({ signal, workers: slots.size }, 'draining workers');
    stopAll(0);
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));

  for (let slot = 0; slot < options.workers; slot++) fork(slot);
  return port;
}
