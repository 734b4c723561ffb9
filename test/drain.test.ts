// SIGTERM on `npm start`'s process with keep-alive connections already open: what the server had read is
// answered (200, the connection then closed), what arrives afterwards on those connections is refused with
// 503 draining + Retry-After (never a 500 from a closed pool, never a reset), and the process exits 0.
import { afterEach, describe, expect, it } from 'vitest';
import { ROBERTA } from './helpers.js';
import { RawConnection, rawRequest, type RawResponse } from './raw-http.js';
import { spawnServer, type ServerProcess } from './spawn.js';
import { account } from './ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function logged(server: ServerProcess, msg: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!server.log.some((l) => l.includes(`"msg":"${msg}"`))) {
    if (Date.now() > deadline) throw new Error(`no "${msg}" in the log:\n${server.log.join('\n')}`);
    await sleep(10);
  }
}

function expectDrainRefusal(r: RawResponse): void {
  expect(r.status).toBe(503);
  expect((JSON.parse(r.body) as { error: { code: string } }).error.code).toBe('draining');
  expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(r.headers.connection).toBe('close');
  expect(r.headers['x-instance']).toBeDefined();
}

describe('drain on SIGTERM with open keep-alive connections', () => {
  let server: ServerProcess | undefined;
  afterEach(() => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
  });

  it('answers every request it had read, refuses later ones with 503 draining, closes every connection cleanly and exits 0', async () => {
    server = await spawnServer({
      MODEL_DIR: ROBERTA,
      INFERENCE_THREADS: '1',
      DRAIN_TIMEOUT_MS: '30000',
      ADMISSION_DEADLINE_MS: '600000',
      JWT_SECRET: 'drain-test-secret-drain-test-secret-0123456789',
    });
    const s = server;
    const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)));
    const { token } = await account(s.url, 'drainer');
    const auth = { authorization: `Bearer ${token}` };
    const port = Number(new URL(s.url).port);

    const conns = await Promise.all(Array.from({ length: 9 }, () => RawConnection.open(port)));
    // Every connection has carried a request and is kept alive: the state a drain finds behind a balancer.
    for (const c of conns) {
      c.send(rawRequest('GET', '/health'));
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(r.headers.connection).toBeUndefined();
    }

    // Read before SIGTERM, still in flight after it: the server has their heads (100 Continue) but only half
    // of each body, so none can be answered until the drain has begun.
    const single = JSON.stringify({ text: 'typing this before the shutdown' });
    const batch = JSON.stringify({ texts: Array.from({ length: 256 }, (_, i) => `drain text ${i} ${'x'.repeat(i % 50)}`) });
    const early = [
      { conn: conns[0]!, path: '/api/v1/sentiment', body: single },
      { conn: conns[1]!, path: '/api/v1/sentiment/batch', body: batch },
      { conn: conns[2]!, path: '/api/v1/sentiment/batch', body: batch.replaceAll('drain', 'other') },
    ];
    for (const e of early) {
      const head = rawRequest('POST', e.path, { ...auth, expect: '100-continue' }, e.body);
      e.conn.send(head.slice(0, head.length - Math.floor(e.body.length / 2)));
      await e.conn.continued();
    }

    s.child.kill('SIGTERM');
    await logged(s, 'draining');

    // Arriving after SIGTERM on connections opened before it: every route kind is refused the same way.
    const late = [
      { conn: conns[3]!, request: rawRequest('GET', '/health') },
      { conn: conns[4]!, request: rawRequest('POST', '/api/v1/sentiment', auth, JSON.stringify({ text: 'too late' })) },
      { conn: conns[5]!, request: rawRequest('GET', '/api/v1/no-such-route') },
      { conn: conns[6]!, request: rawRequest('GET', '/') },
      { conn: conns[7]!, request: rawRequest('OPTIONS', '/api/v1/sentiment', { origin: 'http://example.test' }) },
      { conn: conns[8]!, request: rawRequest('POST', '/api/v1/sentiment/batch', auth, JSON.stringify({ texts: ['late', 'later'] })) },
    ];
    for (const l of late) l.conn.send(l.request);
    for (const l of late) {
      expectDrainRefusal(await l.conn.response());
      expect(await l.conn.closed()).toBe('end');
    }

    // The rest of the early bodies: classified by a pool that is still there, answered, then closed.
    for (const e of early) {
      const head = rawRequest('POST', e.path, { ...auth, expect: '100-continue' }, e.body);
      e.conn.send(head.slice(head.length - Math.floor(e.body.length / 2)));
    }
    const [one, first, second] = await Promise.all(early.map((e) => e.conn.response()));
    for (const r of [one!, first!, second!]) {
      expect(r.status).toBe(200);
      expect(r.headers.connection).toBe('close');
    }
    expect(typeof (JSON.parse(one!.body) as { label: unknown }).label).toBe('string');
    expect((JSON.parse(first!.body) as { count: number }).count).toBe(256);
    expect((JSON.parse(second!.body) as { count: number }).count).toBe(256);
    for (const e of early) expect(await e.conn.closed()).toBe('end');

    expect(await exited).toBe(0);
    expect(s.log.join('\n')).not.toContain('request failed');
    expect(s.log.join('\n')).toContain('chatpulse stopped');
  });
});
