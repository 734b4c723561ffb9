// Property-based fuzzing of the WebSocket protocol: every client frame type (shaped by its own schema, and
// misshapen), any JSON, non-JSON text, invalid UTF-8, binary and oversize frames, from anonymous, user and
// admin sockets. Every frame the server sends must be JSON of a known type (errors in the contract's
// shape), sockets close only with documented codes, nothing is logged as an unexpected failure, and the
// process stays up. Seeded, so a failure replays.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPulse } from '../src/app/index.js';
import { clientFrameSchemas, SERVER_FRAME_TYPES } from '../src/contract/index.js';
import { anyJson, fromSchema, hostileString, SEED, startFuzzServer } from './fuzz-arbitraries.js';
import { call } from './helpers.js';
import { WsClient, type Frame } from './ws-client.js';

const RUNS = Number(process.env.FUZZ_WS_RUNS ?? 1500);
const MAX_FRAME_BYTES = 2048;
/** Server frame types of the protocol (the contract's). */
const SERVER_TYPES = new Set<string>(SERVER_FRAME_TYPES);

type Who = 'anonymous' | 'user' | 'admin';
interface FrameCase {
  who: Who;
  data: string | Buffer;
  /** What the size rules say must happen to the socket: stay open, 1009, or cut by uWS past twice the limit. */
  size: 'ok' | 'too_big' | 'cut';
}

function frameCase(): fc.Arbitrary<FrameCase> {
  const schemas = clientFrameSchemas(500);
  const shaped = fc
    .constantFrom(...(Object.keys(schemas) as Array<keyof typeof schemas>))
    .chain((type) =>
      fromSchema(schemas[type]).map((v) =>
        typeof v === 'object' && v !== null && !Array.isArray(v) ? JSON.stringify({ ...v, type }) : JSON.stringify(v),
      ),
    );
  const text = fc.oneof(
    { weight: 8, arbitrary: shaped },
    { weight: 2, arbitrary: anyJson(5).map((v) => (JSON.stringify(v) as string | undefined) ?? 'null') },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 400 }).map((n) => '{"type":'.repeat(n)) },
  );
  const data = fc.oneof(
    { weight: 12, arbitrary: text },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES * 2 - 1, MAX_FRAME_BYTES * 3)
        .map((n) => `{"type":"chat","channel":"room:lobby","text":"${'x'.repeat(n)}"}`),
    },
  );
  return fc.record({ who: fc.constantFrom<Who>('anonymous', 'user', 'admin'), data }).map(({ who, data: d }) => {
    const bytes = typeof d === 'string' ? Buffer.byteLength(d) : d.length;
    return { who, data: d, size: bytes > MAX_FRAME_BYTES * 2 ? 'cut' : bytes > MAX_FRAME_BYTES ? 'too_big' : 'ok' };
  });
}

function checkFrame(f: Frame): string | null {
  if (!SERVER_TYPES.has(f.type)) return `unknown server frame type: ${JSON.stringify(f).slice(0, 200)}`;
  if (f.type === 'error' && !(typeof f.code === 'string' && /^[a-z][a-z0-9_]*$/.test(f.code) && typeof f.message === 'string'))
    return `bad error frame: ${JSON.stringify(f)}`;
  if (f.type === 'error' && f.code === 'internal') return `internal error: ${JSON.stringify(f)}`;
  return null;
}

describe('WebSocket fuzz', () => {
  let app: ChatPulse;
  let url: string;
  let errors: string[] = [];
  const tokens: Record<Who, string> = { anonymous: '', user: '', admin: '' };

  beforeAll(async () => {
    ({ app, url, errors } = await startFuzzServer({ WS_MAX_FRAME_BYTES: String(MAX_FRAME_BYTES) }));
    await call(url, 'POST', '/api/v1/auth/register', { body: { username: 'wsfuzzer', password: 'wsfuzzer-password' } });
    tokens.user = (
      (await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'wsfuzzer', password: 'wsfuzzer-password' } })).body as {
        access_token: string;
      }
    ).access_token;
    tokens.admin = (
      (await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body as {
        access_token: string;
      }
    ).access_token;
    expect((await call(url, 'POST', '/api/v1/rooms', { token: tokens.user, body: { id: 'lobby', title: 'Lobby' } })).status).toBe(201);
  });
  afterAll(() => app.stop());

  it(`answers ${RUNS} generated frames with known frames and documented close codes, and stays up`, async () => {
    const sockets = new Map<Who, WsClient>();
    const findings: string[] = [];
    const open = async (who: Who) => {
      const current = sockets.get(who);
      if (current && current.closeCode === null) return current;
      const ws = await WsClient.open(url, who === 'anonymous' ? '' : `token=${tokens[who]}`);
      ws.send({ type: 'subscribe', channel: 'room:lobby' });
      sockets.set(who, ws);
      return ws;
    };
    const checkAll = (ws: WsClient, from: number) => {
      for (const f of ws.frames.slice(from)) {
        const problem = checkFrame(f);
        if (problem) findings.push(problem);
      }
    };
    await fc.assert(
      fc.asyncProperty(frameCase(), async (c) => {
        const ws = await open(c.who);
        const seen = ws.frames.length;
        const pongs = ws.of('pong').length;
        ws.send(c.data);
        if (c.size === 'ok') {
          // A ping behind it: once its pong is back the frame was handled (or is being handled) and the socket lives.
          ws.send({ type: 'ping' });
          await ws.until((fs) => fs.filter((f) => f.type === 'pong').length > pongs || ws.closeCode !== null, 10_000, 'pong');
          expect(ws.closeCode, `closed by ${String(c.data).slice(0, 200)}`).toBeNull();
        } else {
          const code = await ws.closed(10_000);
          expect(c.size === 'too_big' ? [1009] : [1006, 1009], `close code for a ${c.size} frame`).toContain(code);
        }
        checkAll(ws, seen);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    for (const ws of sockets.values()) ws.close();
    expect(findings.slice(0, 10)).toEqual([]);
    expect(errors, 'error-level log lines (unexpected failures)').toEqual([]);
    const fresh = await WsClient.open(url);
    fresh.send({ type: 'ping' });
    await fresh.until((fs) => fs.some((f) => f.type === 'pong'));
    fresh.close();
    expect((await call(url, 'GET', '/health')).status).toBe(200);
  }, 240_000); // ~20 s alone; generous for a loaded CI machine running two files at once
});
