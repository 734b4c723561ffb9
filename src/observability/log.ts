// Structured JSON logs (pino). Request bodies, tokens and keys are never passed to the logger.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = 'info'): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    // Defence in depth should a credential-bearing object ever reach a log call.
    redact: {
      paths: ['password', '*.password', 'authorization', '*.authorization', 'apiKey', '*.apiKey', 'key', '*.key', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}
