// Property-based fuzzing of the REST surface, over the router's own route table: every method and path,
// hostile path segments and escapes, query strings, bodies of every JSON shape and depth, and headers.
// Each answer must be a documented status with the contract's error shape, no request may log an
// error-level line (an unexpected failure), and the process must stay up. Seeded, so a failure replays.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPulse } from '../src/app/index.js';
import type { Route } from '../src/gateway/router.js';
import { anyJson, deepJsonText, fromSchema, hostileString, isErrorShape, SEED, startFuzzServer } from './fuzz-arbitraries.js';
import { call } from './helpers.js';
import { exchange } from './raw-http.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);
/** What the contract and the OpenAPI document promise; anything else (a 500 above all) is a finding. */
const DOCUMENTED = new Set([200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 503]);
const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);
const METHOD: Record<Route['method'], string> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE' };

/** A path segment or query part as a client could send it: visible ASCII as is (malformed escapes too), the rest percent-encoded. */
const onTheWire = (s: string, reserved: string) =>
  Array.from(Buffer.from(s, 'utf8'), (b) =>
    b > 0x20 && b < 0x7f && !reserved.includes(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');

interface Case {
  /** The route pattern the case was made from ('' for made-up paths). */
  route: string;
  method: string;
  path: string;
  query: string;
  auth: string;
  contentType: string;
  body: Buffer;
}

/** JSON.stringify typed as it behaves: no text (undefined) for a value JSON cannot represent, which lib.d.ts's `string` omits. */
const stringify = (value: unknown) => JSON.stringify(value) as string | undefined;

function requestFor(routes: readonly Route[], ids: readonly string[]): fc.Arbitrary<Case> {
  const segment = fc
    .oneof(
      hostileString,
      fc.stringMatching(/^[0-9A-Z]{26}$/),
      fc.constantFrom('room:lobby', 'twitch:somechannel', 'me', ...ids),
      fc.constantFrom(...ids),
    )
    .map((s) => onTheWire(s, '/?#'));
  const queryPart = fc
    .oneof(hostileString, fc.constantFrom('limit', 'before', 'after', 'from', 'to', 'bucket', 'kind', '__proto__', 'constructor'))
    .map((s) => onTheWire(s, '&=#'));
  const query = fc.array(fc.tuple(queryPart, queryPart), { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
  const method = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS') },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,12}$/) },
  );
  // Mostly signed in, so cases get past auth to the handlers; read lazily, since renew() replaces them.
  const auth = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('user', 'admin') },
    { weight: 1, arbitrary: fc.constantFrom('none', 'garbage', 'basic', 'badKey') },
  );
  const contentType = fc.constantFrom(
    'application/json',
    'text/plain',
    '',
    'application/json; charset=utf-16',
    'multipart/form-data; boundary=x',
  );
  const bodyFor = (r: Route | null) =>
    fc.oneof(
      { weight: 6, arbitrary: fromSchema(r?.body).map((v) => Buffer.from(stringify(v) ?? '')) },
      { weight: 2, arbitrary: anyJson(6).map((v) => Buffer.from(stringify(v) ?? '')) },
      { weight: 1, arbitrary: deepJsonText.map((t) => Buffer.from(t)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((t) => Buffer.from(t)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
      { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
    );
  const known = fc.constantFrom(...routes).chain((r) =>
    fc.record({
      route: fc.constant(r.path),
      method: fc.oneof({ weight: 5, arbitrary: fc.constant(METHOD[r.method]) }, { weight: 1, arbitrary: method }),
      path: fc.array(segment, { minLength: 3, maxLength: 3 }).map((values) => {
        let i = 0;
        return r.path.replace(/:[A-Za-z_]+/g, () => values[i++] as string);
      }),
      query,
      auth,
      contentType,
      body: bodyFor(r),
    }),
  );
  const unknown = fc.record({
    route: fc.constant(''),
    method,
    path: fc
      .tuple(fc.constantFrom('api/v1', 'api/v1/rooms', 'ws', 'docs', 'assets', ''), fc.array(segment, { minLength: 1, maxLength: 5 }))
      .map(([base, parts]) => `/${base}/${parts.join('/')}`),
    query,
    auth,
    contentType,
    body: bodyFor(null),
  });
  return fc.oneof({ weight: 9, arbitrary: known }, { weight: 1, arbitrary: unknown });
}

describe('REST fuzz', () => {
  let app: ChatPulse;
  let url: string;
  let errors: string[] = [];
  const tokens = { user: '', admin: '' };
  const creds: Record<string, string> = {
    none: '',
    garbage: 'Authorization: Bearer abc.def.ghi\r\n',
    basic: 'Authorization: Basic Zm9vOmJhcg==\r\n',
    badKey: 'X-API-Key: cp_nope\r\n',
  };

  beforeAll(async () => {
    ({ app, url, errors } = await startFuzzServer());
    await renew();
  });

  /** Signs both accounts in again (re-creating them if a case deleted one), so later cases get past auth. */
  async function renew(): Promise<void> {
    await app.auth.ensureAdmin('admin', 'admin-password');
    await call(url, 'POST', '/api/v1/auth/register', { body: { username: 'fuzzer', password: 'fuzzer-password' } });
    const user = (await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'fuzzer', password: 'fuzzer-password' } })).body as {
      access_token: string;
    };
    const admin = (await call(url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body as {
      access_token: string;
    };
    tokens.user = user.access_token;
    tokens.admin = admin.access_token;
    creds.user = `Authorization: Bearer ${user.access_token}\r\n`;
    creds.admin = `Authorization: Bearer ${admin.access_token}\r\n`;
  }
  afterAll(() => app.stop());

  it(`answers ${RUNS} generated requests with documented statuses and the error shape, and stays up`, async () => {
    const routes = app.routes.filter((r) => !r.path.startsWith('/docs/'));
    // Real ids to aim at, so cases reach the handlers behind a lookup: a room, a report, both users.
    const room = (await call(url, 'POST', '/api/v1/rooms', { token: tokens.user, body: { id: 'lobby', title: 'Lobby' } })).body as {
      id: string;
    };
    const now = Date.now();
    const report = (
      await call(url, 'POST', '/api/v1/reports', { token: tokens.user, body: { channel: 'room:lobby', from: now - 3_600_000, to: now } })
    ).body as { id: string };
    const me = (await call(url, 'GET', '/api/v1/auth/me', { token: tokens.user })).body as { id: string };
    const admin = (await call(url, 'GET', '/api/v1/auth/me', { token: tokens.admin })).body as { id: string };
    const known = [room.id, report.id, me.id, admin.id].filter((x) => typeof x === 'string');
    expect(known).toHaveLength(4);
    const findings: string[] = [];
    const tally = new Map<string, Map<number, number>>();
    await fc.assert(
      fc.asyncProperty(requestFor(routes, known), async (c) => {
        const head =
          `${c.method} ${c.path}${c.query === '' ? '' : `?${c.query}`} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n${creds[c.auth] ?? ''}` +
          `${c.contentType === '' ? '' : `Content-Type: ${c.contentType}\r\n`}Content-Length: ${c.body.length}\r\n\r\n`;
        const res = await exchange(app.port, Buffer.concat([Buffer.from(head, 'latin1'), c.body]));
        const where = `[head ${head.length} B, body ${c.body.length} B] ${c.method} ${c.path.slice(0, 300)}?${c.query.slice(0, 300)} -> ${res.status} ${res.body.slice(0, 300)}`;
        // uWS's HTTP parser itself closes the connection on a method outside HTTP's standard set, before any
        // of our code runs: no answer to shape, and nothing reached the process.
        if (!STANDARD_METHODS.has(c.method) && res.status === 0) return;
        const key = `${c.method} ${c.route}`;
        const counts = tally.get(key) ?? new Map<number, number>();
        tally.set(key, counts.set(res.status, (counts.get(res.status) ?? 0) + 1));
        if (!DOCUMENTED.has(res.status)) findings.push(where);
        expect(DOCUMENTED.has(res.status), where).toBe(true);
        if (res.status >= 400 && c.method !== 'HEAD') {
          expect(res.headers['content-type'], where).toBe('application/json');
          expect(isErrorShape(JSON.parse(res.body)), where).toBe(true);
        }
        expect(res.headers['x-instance'], where).toBeDefined();
        // A case that signed out, changed a password or deleted an account spent the session: sign in again.
        if (res.status < 300 && c.method !== 'GET' && /\/(auth\/logout|users\/me)/.test(c.path)) await renew();
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    if (process.env.FUZZ_TALLY) for (const [k, v] of [...tally].sort()) console.log(k, JSON.stringify(Object.fromEntries(v)));
    expect(findings).toEqual([]);
    expect(errors, 'error-level log lines (unexpected failures)').toEqual([]);
    expect((await call(url, 'GET', '/health')).status).toBe(200);
  }, 240_000); // ~20 s alone; generous for a loaded CI machine running two files at once
});
