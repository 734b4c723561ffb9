// Process entry: read the environment; with WORKERS > 1 become the cluster primary, else (or in a worker)
// start ChatPulse and drain on SIGTERM/SIGINT.
import cluster from 'node:cluster';
import { logBanner, startupBanner } from './app/banner.js';
import { jwtSecretSource } from './app/dev-secret.js';
import { startChatPulse } from './app/index.js';
import { runPrimary } from './cluster/primary.js';
import { ConfigError, loadConfig, logLevelFrom, type Config } from './config.js';
import { createLogger } from './observability/log.js';

const log = createLogger(logLevelFrom(process.env));

try {
  const loaded = loadConfig(process.env);
  // Without JWT_SECRET a development server keeps a generated secret in .chatpulse/dev-secret, so tokens
  // survive restarts (app/dev-secret.ts); with WORKERS > 1 JWT_SECRET is required (Redis), so every worker
  // reads the same value from the environment.
  const secret = jwtSecretSource(loaded.jwtSecret, process.env);
  const config: Config = secret.kind === 'file' ? { ...loaded, jwtSecret: secret.secret } : loaded;
  if (config.workers > 1 && cluster.isPrimary) {
    const port = await runPrimary(
      {
        workers: config.workers,
        host: config.host,
        port: config.port,
        drainTimeoutMs: config.drainTimeoutMs,
        maxCrashes: 5,
        crashWindowMs: 30_000,
      },
      log,
    );
    logBanner(log, startupBanner(config, port, secret));
  } else {
    const port = await serve(config);
    // Once per start: a cluster worker leaves the banner to its primary.
    if (port !== null && cluster.isPrimary) logBanner(log, startupBanner(config, port, secret));
  }
} catch (err) {
  // Configuration and model problems are the operator's to fix: say what, without a stack trace.
  const known =
    err instanceof ConfigError || (err instanceof Error && ['ModelError', 'NativeUwsMissingError', 'RegistryError'].includes(err.name));
  log.fatal(known ? { reason: err.message } : { err }, 'chatpulse cannot start');
  // Whatever had started (inference threads, a cluster worker's IPC channel, Redis clients) would keep
  // the process alive with nothing to serve: exit, so a supervisor (or the primary) sees the failure.
  process.exit(1);
}

/** Starts ChatPulse; the port it listens on, or null when a signal arrived while it was starting. */
async function serve(config: Config): Promise<number | null> {
  // Handlers go in before the start: a signal that arrives while starting (or right after "listening")
  // drains as soon as the server exists instead of killing the process mid-write.
  let server: Awaited<ReturnType<typeof startChatPulse>> | null = null;
  // Assigned by the signal handler while startChatPulse is awaited, which TypeScript's narrowing does not follow.
  let requested = null as string | null;
  let stopping = false;
  const drain = (signal: string) => {
    requested ??= signal;
    if (stopping || server === null) return;
    stopping = true;
    log.info({ signal: requested }, 'draining');
    // The drain is bounded inside (DRAIN_TIMEOUT_MS); this bounds whatever might still hang in it (a stuck
    // inference task, a store that never answers), so a single process always exits too.
    setTimeout(() => {
      log.error('drain deadline passed: exiting');
      process.exit(1);
    }, config.drainTimeoutMs + 5000).unref();
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
  // Every request and frame handler answers its own errors; a promise that still escapes is a bug to log,
  // not a reason to drop every other client's connection with the process.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
  server = await startChatPulse(config, log);
  if (requested !== null) {
    drain(requested);
    return null;
  }
  return server.port;
}
