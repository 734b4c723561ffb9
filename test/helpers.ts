// Shared test fixtures: where the shared model fixtures live, and a real ChatPulse server on an ephemeral port.
import { fileURLToPath } from 'node:url';
import { startChatPulse, type ChatPulse } from '../src/app/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/log.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../shared/models/fixtures/', import.meta.url));
export const ROBERTA = `${FIXTURES}tiny-random-roberta-3class`;
export const DISTILBERT = `${FIXTURES}tiny-random-distilbert-2class`;

export interface TestServer {
  app: ChatPulse;
  url: string;
}

export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    MODEL_DIR: ROBERTA,
    INFERENCE_THREADS: '1',
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: 'admin-password',
    ...env,
  });
  const app = await startChatPulse(config, createLogger('silent'));
  return { app, url: `http://127.0.0.1:${app.port}` };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

export async function call(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; token?: string; apiKey?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey) headers['x-api-key'] = options.apiKey;
  const init: RequestInit = { method, headers };
  if (options.raw !== undefined) init.body = options.raw;
  else if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

/** Creates rooms through the API (chat, likes and subscriptions never create one); throws unless each is 201. */
export async function createRooms(url: string, token: string, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const res = await call(url, 'POST', '/api/v1/rooms', { token, body: { id } });
    if (res.status !== 201) throw new Error(`creating room "${id}": ${res.status} ${JSON.stringify(res.body)}`);
  }
}
