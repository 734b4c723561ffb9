// soketi, the Pusher-protocol server built on uWebSockets.js, as a peer in bench/ws.ts. It is installed
// apart from the project (bench/peers/soketi, on the same uWS build as ChatPulse through an npm override) so
// that CI's `npm ci` does not pay for it; a run without it reports the row unavailable and says how to
// install it. Started as `node <soketi's bin> start --config=<file>`, never through npx or npm, so the pid
// the bench reads /proc for is soketi's own node process, every thread of it.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../src/paths.js';
import { sleep } from './lib/phases.js';
import { freePort, ServerUnavailable, spawnNode, stopChild, type StartedServer } from './lib/processes.js';
import { profileArgs } from './lib/profile.js';
import { PUSHER_APP } from './ws-pusher.js';

export const SOKETI_BIN = join(REPO_ROOT, 'bench/peers/soketi/node_modules/@soketi/soketi/bin/server.js');
export const SOKETI_INSTALL = 'npm run bench:peers (that is, npm ci --prefix bench/peers/soketi)';

export const soketiInstalled = (): boolean => existsSync(SOKETI_BIN);

// ANSI colours, which soketi's log lines are wrapped in.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** soketi's options, in its config file's dotted-key form (soketi's src/server.ts lists the defaults). */
function config(port: number, metricsPort: number, discoveryPort: number): Record<string, unknown> {
  return {
    debug: false,
    host: '127.0.0.1',
    port,
    // Prometheus off; the /usage server listens whatever the setting, so on a free loopback port.
    'metrics.enabled': false,
    'metrics.host': '127.0.0.1',
    'metrics.port': metricsPort,
    // Node discovery (UDP hellos, for its cluster adapter) starts whatever the adapter: keep it off shared ports.
    'cluster.hostname': '127.0.0.1',
    'cluster.port': discoveryPort,
    'appManager.array.apps': [
      {
        ...PUSHER_APP,
        enabled: true,
        // Chat from clients is what is measured: client events on, and no quota on connections or events.
        enableClientMessages: true,
        maxConnections: -1,
        maxClientEventsPerSecond: -1,
        maxBackendEventsPerSecond: -1,
        maxReadRequestsPerSecond: -1,
        webhooks: [],
      },
    ],
    // Never refuse connections because the machine's memory is busy (the clients share it).
    'httpApi.acceptTraffic.memoryThreshold': 100,
    // Exit at once on SIGTERM instead of waiting 3 s for connections to go.
    shutdownGracePeriod: 0,
  };
}

/** Starts soketi on a free port and resolves once GET /ready answers 200. */
export async function startSoketi(name: string, timeoutMs: number): Promise<StartedServer> {
  if (!soketiInstalled()) throw new ServerUnavailable(`soketi is not installed (no ${SOKETI_BIN}); install it with ${SOKETI_INSTALL}`);
  const [port, metricsPort, discoveryPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-soketi-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config(port, metricsPort, discoveryPort), null, 2));
  // The AWS SDK soketi bundles (for its SQS queue driver) would print an end-of-support notice to our stderr.
  const child = spawnNode(
    [...profileArgs(), SOKETI_BIN, 'start', `--config=${file}`],
    { AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' },
    false,
  );
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  // Its log is plain text: drained (a full pipe would block it), the last lines kept for a failure message.
  const tail: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const text = line.replace(ANSI, '').trim();
    if (text !== '' && tail.push(text) > 5) tail.shift();
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new ServerUnavailable(`${name} exited (${child.signalCode ?? child.exitCode}) before ready: ${tail.join(' | ')}`);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
      async (res) => (await res.text()) === 'OK' && res.ok,
      () => false,
    );
    if (ready && child.pid !== undefined) return { child, pid: child.pid, port };
    await sleep(100);
  }
  await stopChild(child, 0);
  throw new ServerUnavailable(`${name} did not answer GET /ready within ${timeoutMs / 1000}s: ${tail.join(' | ')}`);
}
