// ChatPulse as the benches run it: `node dist/src/main.js` child processes (a deployment of one or more
// gateway processes), the environment that raises its abuse limits out of the way, and bench accounts.
import { randomBytes } from 'node:crypto';
import { alive, ppidOf } from './proc.js';
import { killAtExit, killPid, releaseAtExit, ServerUnavailable, startServer, stopChild, type StartedServer } from './processes.js';

/** A fresh JWT_SECRET, 48 characters; instances that must accept each other's tokens share one. */
export const newJwtSecret = (): string => randomBytes(36).toString('base64');

export interface ServerEnv {
  port: number;
  modelDir: string;
  jwtSecret: string;
  /** None (the default): in-memory state, whatever the shell exports. */
  redisUrl?: string | null;
  threads?: number;
}

/** ChatPulse's environment for a load bench: in-memory store, one inference thread unless told. */
export function serverEnv(e: ServerEnv): Record<string, string> {
  return {
    PORT: String(e.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info', // the "chatpulse listening" line says when a process is ready, and its pid
    INFERENCE_THREADS: String(e.threads ?? 1),
    REDIS_URL: e.redisUrl ?? '',
    MONGODB_URL: '',
    MODEL_DIR: e.modelDir,
    JWT_SECRET: e.jwtSecret,
    ACCESS_TOKEN_TTL_S: '3600',
    // A bench measures fan-out and inference, not the abuse limits: all raised far past what it sends.
    WS_MAX_CONNECTIONS: '100000',
    WS_CONNECT_RATE_PER_MIN: '1000000',
    WS_FRAME_RATE_PER_10S: '1000000',
    CHAT_RATE_PER_30S: '1000000',
    AUTH_RATE_PER_MIN: '100000',
    API_RATE_PER_MIN: '100000000',
  };
}

export interface Deployment extends StartedServer {
  label: string;
  /** Every process of the deployment: with WORKERS > 1 the primary and its workers. */
  pids: number[];
  /** The gateway processes (the ones that logged "chatpulse listening"). */
  workerPids: number[];
}

/**
 * `node dist/src/main.js` with `env` and WORKERS=`workers`, ready once that many gateway processes logged
 * "chatpulse listening". With WORKERS > 1 the cluster workers inherit the primary's stdout, so their lines
 * (with their pid) come through the same pipe; their pids are kept so CPU and RSS cover the whole deployment.
 */
export async function startChatPulse(label: string, env: Record<string, string>, workers: number, timeoutMs: number): Promise<Deployment> {
  const port = Number(env.PORT);
  const listening = new Set<number>();
  const started = await startServer(
    label,
    ['dist/src/main.js'],
    { ...env, WORKERS: String(workers) },
    (line) => {
      if (line.msg === 'chatpulse cannot start' && workers > 1 && typeof line.pid === 'number') {
        // A cluster worker that cannot start exits, and the primary would restart it until its crash-loop
        // check gives up: fail at the first one instead. Killing the primary (the worker's parent, our child)
        // makes startServer reject with the logged reason; the worker is killed too.
        const parent = ppidOf(line.pid);
        if (parent !== null && ppidOf(parent) === process.pid) killPid(parent);
        killPid(line.pid);
        return null;
      }
      if (line.msg !== 'chatpulse listening') return null;
      if (typeof line.pid === 'number') listening.add(line.pid);
      return listening.size >= workers ? (typeof line.port === 'number' ? line.port : port) : null;
    },
    timeoutMs,
  );
  const workerPids = [...listening];
  for (const pid of workerPids) if (pid !== started.pid) killAtExit(pid);
  const pids = [...new Set([started.pid, ...workerPids])];
  return { ...started, label, pids, workerPids };
}

/** SIGTERM (the primary drains its workers), SIGKILL after the grace, then any worker left. */
export async function stopDeployment(d: Deployment): Promise<void> {
  await stopChild(d.child, 8000);
  for (const pid of d.workerPids) {
    if (pid !== d.child.pid && alive(pid)) killPid(pid);
  }
  for (const pid of d.workerPids) releaseAtExit(pid);
}

/** The processes of a deployment that are gone (a crashed worker the primary replaced is one). */
export const deadPids = (d: Deployment): number[] => d.pids.filter((pid) => !alive(pid));

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok)
    throw new ServerUnavailable(
      `POST ${new URL(url).pathname} on port ${new URL(url).port}: ${res.status} ${(await res.text()).slice(0, 200)}`,
    );
  return res.json();
}

/**
 * Registers `username` on one port and logs in on another (the same one for a lone instance): with
 * REDIS_URL the account lives in Redis, so this also checks that the instances share their user store.
 */
export async function accountToken(registerPort: number, loginPort: number, username: string): Promise<string> {
  const credentials = { username, password: 'bench-password-1' };
  await postJson(`http://127.0.0.1:${registerPort}/api/v1/auth/register`, credentials);
  const { access_token: token } = (await postJson(`http://127.0.0.1:${loginPort}/api/v1/auth/login`, credentials)) as {
    access_token?: unknown;
  };
  if (typeof token !== 'string') throw new ServerUnavailable('login returned no access_token');
  return token;
}
