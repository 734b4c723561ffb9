// Process entry: read the environment, start ChatPulse, drain on SIGTERM/SIGINT.
import { startChatPulse } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './observability/log.js';

const log = createLogger(process.env.LOG_LEVEL ?? 'info');

try {
  const config = loadConfig(process.env);
  const server = await startChatPulse(config, log);
  let stopping = false;
  const drain = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
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
} catch (err) {
  // Configuration and model problems are the operator's to fix: say what, without a stack trace.
  const known = err instanceof ConfigError || (err instanceof Error && ['ModelError', 'NativeUwsMissingError', 'RegistryError'].includes(err.name));
  log.fatal(known ? { reason: (err as Error).message } : { err }, 'chatpulse cannot start');
  process.exitCode = 1;
}
