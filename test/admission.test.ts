// Admission by expected wait on a real engine (the fixture model on one ONNX thread): a flood of unique
// texts past ADMISSION_DEADLINE_MS is partly refused with 503 overloaded + Retry-After while everything
// admitted is answered; and a closing engine answers all it admitted before its pool stops.
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.js';
import { SentimentEngine } from '../src/sentiment/engine.js';
import { call, ROBERTA, startServer, type TestServer } from './helpers.js';
import { account, WsClient } from './ws-client.js';

const flood = (round: number, n: number) => Array.from({ length: n }, (_, i) => `flood ${round} text ${i} ${'na'.repeat(i % 40)} batman`);

describe('admission by expected wait (ADMISSION_DEADLINE_MS)', () => {
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.app.stop();
    s = undefined;
  });

  it('refuses part of a flood with 503 overloaded and Retry-After, and answers every call it admitted in full', async () => {
    s = await startServer({ ADMISSION_DEADLINE_MS: '10', CACHE_SIZE: '0', API_RATE_PER_MIN: '100000' });
    const { token } = await account(s.url, 'flooder');
    const calls = Array.from({ length: 24 }, (_, round) =>
      call(s!.url, 'POST', '/api/v1/sentiment/batch', { token, body: { texts: flood(round, 256) } }),
    );
    const answers = await Promise.all(calls);
    const admitted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    expect(admitted.length + refused.length).toBe(answers.length); // nothing else: no 500, no reset
    expect(admitted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of admitted) expect((a.body as { count: number }).count).toBe(256);
    for (const r of refused) {
      expect((r.body as { error: { code: string } }).error.code).toBe('overloaded');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    const stats = s.app.engine.stats();
    // Refused for time, not for room (the default queue bound, 8192, was never near): after their body was
    // parsed, or before it when even one more text would have been refused.
    expect(stats.shed).toBe(stats.shedLate);
    expect(stats.shedLate / 256 + stats.shedEarly).toBe(refused.length);
    expect(stats.items).toBe(admitted.length * 256);
    expect(stats.serviceRate).toBeGreaterThan(0);
    expect(stats.queued).toBe(0);
  });

  it('keeps WebSocket chat working through a flood: a refused message is an error frame, the socket stays open', async () => {
    s = await startServer({ ADMISSION_DEADLINE_MS: '10', CACHE_SIZE: '0', API_RATE_PER_MIN: '100000', CHAT_RATE_PER_30S: '1000' });
    const user = await account(s.url, 'chatter');
    expect((await call(s.url, 'POST', '/api/v1/rooms', { token: user.token, body: { id: 'flooded' } })).status).toBe(201);
    const ws = await WsClient.open(s.url, `token=${user.token}`);
    await ws.subscribe('room:flooded');
    const floods = Array.from({ length: 12 }, (_, round) =>
      call(s!.url, 'POST', '/api/v1/sentiment/batch', { token: user.token, body: { texts: flood(100 + round, 256) } }),
    );
    for (let i = 0; i < 20; i++) ws.send({ type: 'chat', channel: 'room:flooded', text: `chat during the flood ${i}` });
    await Promise.all(floods);
    // Every chat frame was answered one way or the other.
    await ws.until(
      (fs) => fs.filter((f) => (f.type === 'message' && String(f.text).startsWith('chat during')) || f.type === 'error').length >= 20,
      20_000,
    );
    for (const f of ws.frames.filter((f) => f.type === 'error')) expect(f.code).toBe('overloaded');
    ws.send({ type: 'chat', channel: 'room:flooded', text: 'after the flood' });
    await ws.until((fs) => fs.some((f) => f.type === 'message' && f.text === 'after the flood'), 10_000);
    ws.close();
  });
});

describe('SentimentEngine.close', () => {
  it('answers every text it admitted before it stops its threads, and refuses later ones with 503 draining', async () => {
    const engine = await SentimentEngine.start({
      modelDir: ROBERTA,
      maxLength: 128,
      threads: 1,
      intraOpNumThreads: 1,
      batchMaxItems: 16,
      batchMaxTokens: 8192,
      batchMaxWaitMs: 2,
      queueMax: 10_000,
      cacheSize: 0,
    });
    const admitted = Array.from({ length: 20 }, (_, round) => engine.classifyMany(flood(200 + round, 64)));
    const closing = engine.close();
    const late = await engine.classify('after close').then(
      () => null,
      (e: unknown) => e,
    );
    expect(late).toBeInstanceOf(AppError);
    expect((late as AppError).code).toBe('draining');
    expect((late as AppError).status).toBe(503);
    const results = await Promise.all(admitted); // before the fix: Piscina AbortError once the pool closed
    expect(results.every((r) => r.length === 64 && r.every((x) => typeof x.label === 'string'))).toBe(true);
    await closing;
    expect(engine.ready).toBe(false);
  });
});
