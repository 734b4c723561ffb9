// The start-up banner: one log line from the process an operator started (the single process, or the
// cluster primary with WORKERS > 1; never each worker) saying where the dashboard and the API docs are,
// and a warning when accounts and history live in this process's memory only. It names URLs, where
// state lives and where the JWT secret comes from (never a secret, a password or a connection string).
import type { Config } from '../config.js';
import type { Logger } from '../observability/log.js';
import type { JwtSecretSource } from './dev-secret.js';

export interface Banner {
  dashboard: string;
  docs: string;
  /** Set when accounts, rooms and history are lost on restart (no Redis, no MongoDB). */
  memoryWarning: string | null;
  secret: string;
}

/** The address a browser on this host can open: a wildcard listen address becomes localhost. */
export function browserBase(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

export function startupBanner(config: Config, port: number, secret: JwtSecretSource): Banner {
  const base = browserBase(config.host, port);
  const shared = config.redis !== undefined;
  const persistent = config.mongodbUrl !== undefined;
  const memoryWarning =
    !shared && !persistent
      ? 'state is in memory (no REDIS_URL or REDIS_CLUSTER_NODES, no MONGODB_URL): accounts, API keys, rooms and ' +
        'history are lost when this process restarts; sign up again after a restart'
      : null;
  const secretWords =
    secret.kind === 'env'
      ? 'JWT_SECRET'
      : secret.kind === 'file'
        ? `development secret in ${secret.file}${secret.created ? ' (created now)' : ''}: tokens survive restarts`
        : `a random secret of this process (${secret.reason}): tokens stop working when it restarts`;
  return { dashboard: `${base}/`, docs: `${base}/docs`, memoryWarning, secret: secretWords };
}

export function logBanner(log: Logger, banner: Banner): void {
  log.info(
    { dashboard: banner.dashboard, docs: banner.docs, jwt_secret: banner.secret },
    `ChatPulse is up: dashboard ${banner.dashboard} · API docs ${banner.docs}`,
  );
  if (banner.memoryWarning !== null) log.warn(banner.memoryWarning);
}
