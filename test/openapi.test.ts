// The OpenAPI document and Swagger UI: the document is generated from the real route factories and
// checked for shape, completeness and resolvable $refs; the live server's replies are validated against
// the schemas it documents; the docs routes are served through a real Router (and, once the composition root mounts
// them, by the live server itself).
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryChannelBus, MemoryRoomStore, RoomService } from '../src/channels/index.js';
import { RoomLifecycleService } from '../src/channels/room-lifecycle.js';
import { MemoryRateLimiter } from '../src/limits/index.js';
import { asyncApiDocument } from '../src/gateway/asyncapi.js';
import { openApiDocument } from '../src/gateway/openapi.js';
import { route, Router, type Route } from '../src/gateway/router.js';
import { authRoutes } from '../src/gateway/routes/auth.js';
import { docsRoutes, DOCS_CSP } from '../src/gateway/routes/docs.js';
import { opsRoutes } from '../src/gateway/routes/ops.js';
import { MAX_TIMEOUT_S, roomRoutes } from '../src/gateway/routes/rooms.js';
import { sentimentRoutes } from '../src/gateway/routes/sentiment.js';
import { nativeUws, type us_listen_socket } from '../src/gateway/uws.js';
import { createLogger } from '../src/observability/log.js';
import { call, ROOT, startServer, type JsonResponse, type TestServer } from './helpers.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  parameters?: { name: string; in: string; required: boolean; schema: JsonObject; description?: string }[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonObject }> };
  responses: Record<string, JsonObject>;
  security?: Record<string, string[]>[];
}
interface Document {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, JsonObject>;
    responses: Record<string, JsonObject>;
    headers: Record<string, JsonObject>;
    securitySchemes: Record<string, JsonObject>;
  };
}

const INFO = { title: 'ChatPulse API', version: '0.1.0', description: 'Real-time sentiment for live-stream chat' };
const LIMITS = { maxTextLength: 2000, maxBatchTexts: 256, maxBodyBytes: 2_100_000 };
const asyncApi = () => asyncApiDocument({ version: INFO.version, maxTextLength: LIMITS.maxTextLength });
const METHOD: Record<Route['method'], string> = { get: 'get', post: 'post', put: 'put', patch: 'patch', del: 'delete' };
const toTemplate = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');
const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The document's value at a local `$ref` (`#/a/b`), or undefined. */
function resolve(doc: Document, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function walk(node: unknown, visit: (obj: Record<string, unknown>, path: string) => void, path = '#'): void {
  if (Array.isArray(node)) node.forEach((n, i) => walk(n, visit, `${path}/${i}`));
  else if (node !== null && typeof node === 'object') {
    visit(node as Record<string, unknown>, path);
    for (const [k, v] of Object.entries(node)) walk(v, visit, `${path}/${k}`);
  }
}

/** A copy in which every object schema with listed properties allows no others: a documented reply names every field. */
function closed(node: Json): Json {
  if (Array.isArray(node)) return node.map(closed);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === 'properties' && isObject(v) ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (out.type === 'object' && isObject(out.properties) && !('additionalProperties' in out) && !('patternProperties' in out))
    out.additionalProperties = false;
  return out;
}

/** Finds the operation a concrete request path hits. */
function operationFor(doc: Document, method: string, path: string): Operation {
  const bare = path.split('?')[0] as string;
  for (const [template, item] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const op = item[method.toLowerCase()];
    if (pattern.test(bare) && op) return op;
  }
  throw new Error(`no operation for ${method} ${bare}`);
}

/** Checks that a live reply's status is documented for its operation and its body matches the schema. */
function conforms(doc: Document, ajv: Ajv2020, method: string, path: string, reply: JsonResponse): void {
  const op = operationFor(doc, method, path);
  let response: unknown = op.responses[String(reply.status)];
  expect(response, `${method} ${path} answered ${reply.status}, which ${op.operationId} does not document`).toBeDefined();
  if (isObject(response) && typeof response.$ref === 'string') response = resolve(doc, response.$ref);
  const content = isObject(response) && isObject(response.content) ? response.content : undefined;
  if (reply.status === 204 || reply.body === null) {
    expect(content, `${op.operationId} ${reply.status} documents a body but none came`).toBeUndefined();
    return;
  }
  const media = content?.['application/json'];
  expect(isObject(media) && isObject(media.schema), `${op.operationId} ${reply.status} documents no JSON body`).toBe(true);
  const schema = (media as { schema: JsonObject }).schema;
  const validate = ajv.compile({ ...(closed(schema) as JsonObject), components: closed(doc.components as unknown as Json) });
  expect(validate(reply.body), `${method} ${path} ${reply.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(reply.body)}`).toBe(
    true,
  );
}

interface DocsServer {
  url: string;
  close(): void;
}

/** A bare Router with the docs routes on its own port: the raw (non-JSON) reply path, without the composition root. */
async function docsOnlyServer(s: TestServer, getDocument: () => object): Promise<DocsServer> {
  const uws = nativeUws();
  const router = new Router({
    auth: s.app.auth,
    apiLimiter: new MemoryRateLimiter(1000, 60, 'api-test'),
    authLimiter: new MemoryRateLimiter(1000, 60, 'auth-test'),
    baseHeaders: { 'X-Instance': 'docs-test' },
    corsOrigins: [],
    onError: (err) => console.error(err),
    inflight: { begin: () => undefined, end: () => undefined },
  });
  router.add(...docsRoutes(getDocument, asyncApi));
  const app = uws.App();
  router.mount(app);
  const socket = await new Promise<us_listen_socket>((ok, fail) =>
    app.listen('127.0.0.1', 0, (sock) => (sock ? ok(sock) : fail(new Error('cannot listen')))),
  );
  return {
    url: `http://127.0.0.1:${uws.us_socket_local_port(socket)}`,
    close() {
      uws.us_listen_socket_close(socket);
      (app as typeof app & { close(): void }).close();
    },
  };
}

/** `/openapi.json`, `/docs` and every asset the page names, as a browser would load them. */
async function checkDocs(url: string): Promise<Document> {
  const res = await fetch(`${url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const doc = (await res.json()) as Document;
  expect(doc.openapi).toBe('3.1.0');
  expect(doc.paths['/openapi.json']?.get).toBeDefined();
  expect(doc.paths['/asyncapi.json']?.get).toBeDefined();
  expect(doc.paths['/docs']?.get).toBeDefined();
  const asyncRes = await fetch(`${url}/asyncapi.json`);
  expect(asyncRes.status).toBe(200);
  expect(asyncRes.headers.get('content-type')).toMatch(/^application\/json/);
  expect(((await asyncRes.json()) as { asyncapi: string }).asyncapi).toBe('3.0.0');
  expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs/'))).toEqual([]);

  for (const path of ['/docs', '/docs/']) {
    const page = await fetch(url + path);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(page.headers.get('x-instance')).toBeTruthy();
    const html = await page.text();
    expect(html).toContain('<div id="swagger-ui"></div>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.map((r) => r.split('?')[0])).toEqual(
      expect.arrayContaining([
        '/docs/swagger-ui.css',
        '/docs/swagger-ui-bundle.js',
        '/docs/swagger-ui-standalone-preset.js',
        '/docs/swagger-initializer.js',
        '/docs/favicon-32x32.png',
        '/asyncapi.json',
      ]),
    );
    if (path !== '/docs') continue;
    const types: Record<string, RegExp> = { css: /^text\/css/, js: /^text\/javascript/, png: /^image\/png$/, json: /^application\/json/ };
    for (const ref of refs) {
      const asset = await fetch(url + ref);
      const ext = (ref.split('?')[0] as string).split('.').pop() as string;
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get('content-type'), ref).toMatch(types[ext] as RegExp);
      expect(asset.headers.get('cache-control'), ref).toMatch(/max-age=\d+|no-cache/);
      expect(asset.headers.get('x-content-type-options'), ref).toBe('nosniff');
      const body = Buffer.from(await asset.arrayBuffer());
      expect(body.length, ref).toBeGreaterThan(0);
      if (ref.startsWith('/docs/swagger-initializer.js')) {
        const script = body.toString();
        expect(script).toContain('url: "/openapi.json"');
        expect(script).not.toContain('petstore');
      } else if (ext !== 'png' && ref.startsWith('/docs/')) {
        const file = readFileSync(`${ROOT}node_modules/swagger-ui-dist/${ref.split('?')[0]!.slice('/docs/'.length)}`);
        expect(body.equals(file), ref).toBe(true);
      }
    }
  }
  return doc;
}

describe('OpenAPI', () => {
  let s: TestServer;
  let routes: Route[];
  let doc: Document;
  let builds = 0;

  beforeAll(async () => {
    s = await startServer();
    // The route table the composition root (src/app/http.ts) builds, from the same factories and the live services.
    const roomStore = new MemoryRoomStore();
    const roomBus = new MemoryChannelBus();
    const rooms = new RoomService(
      roomStore,
      roomBus,
      { maxRooms: 100, maxRoomsPerUser: 10, maxTimeoutS: MAX_TIMEOUT_S },
      { findByUsername: async () => null, findById: async () => null },
    );
    // (Admin and the history routes are covered by the live document once the composition root mounts the docs.)
    routes = [
      ...opsRoutes({ notReadyReason: () => null }),
      ...authRoutes(s.app.auth),
      ...sentimentRoutes(s.app.engine, LIMITS, 'test:1'),
      ...roomRoutes(
        rooms,
        new RoomLifecycleService(
          { store: roomStore, bus: roomBus, notifier: { notify: () => undefined }, log: createLogger('silent') },
          { activeMs: 300_000, countdownMs: 300_000, decisionMs: 30_000, tickMs: 500 },
        ),
      ),
    ];
    routes.push(
      ...docsRoutes(() => {
        builds++;
        return openApiDocument(routes, INFO);
      }, asyncApi),
    );
    doc = openApiDocument(routes, INFO) as unknown as Document;
  });
  afterAll(async () => s.app.stop());

  describe('the document', () => {
    it('has the OpenAPI 3.1 shape, both security schemes and shared components', () => {
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info).toEqual(INFO);
      expect(doc.components.securitySchemes).toMatchObject({
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      });
      expect(doc.components.schemas.Error).toEqual({
        type: 'object',
        properties: {
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] },
        },
        required: ['error'],
      });
      expect(Object.keys(doc.components.schemas)).toEqual(
        expect.arrayContaining([
          'Credentials',
          'TokenPair',
          'User',
          'SentimentResult',
          'BatchResult',
          'Model',
          'Room',
          'ApiKey',
          'CreatedApiKey',
        ]),
      );
      expect(doc.tags.map((t) => t.name)).toEqual(['ops', 'auth', 'sentiment', 'rooms', 'docs']);
      // Plain JSON: no TypeBox symbols, nothing JSON.stringify would drop or change.
      walk(doc, (obj, path) => expect(Object.getOwnPropertySymbols(obj), path).toEqual([]));
      expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    });

    it('documents bearer-only routes with the bearer scheme alone (an API key cannot log out or mint keys)', () => {
      const ops = doc.paths as unknown as Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
      expect(ops['/api/v1/api-keys']?.post?.security).toEqual([{ bearerAuth: [] }]);
      expect(ops['/api/v1/auth/logout']?.post?.security).toEqual([{ bearerAuth: [] }]);
      expect(ops['/api/v1/auth/me']?.get?.security).toEqual([{ bearerAuth: [] }, { apiKey: [] }]);
    });

    it('has one operation per route (and nothing else), with path parameters, tags and unique ids', () => {
      const visible = routes.filter((r) => !r.hidden);
      expect(visible.length).toBeGreaterThan(15);
      for (const r of visible) {
        const op = doc.paths[toTemplate(r.path)]?.[METHOD[r.method]];
        expect(op, `${r.method} ${r.path}`).toBeDefined();
        expect(op?.tags).toEqual([r.tag]);
        expect(op?.summary).toBe(r.summary);
        const pathParams = (op?.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(pathParams).toEqual([...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]));
      }
      const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`));
      expect(documented.sort()).toEqual(visible.map((r) => `${METHOD[r.method]} ${toTemplate(r.path)}`).sort());
      const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
      expect(new Set(ids).size).toBe(ids.length);
      expect(doc.paths['/api/v1/rooms/{id}/moderators/{userId}']?.delete?.operationId).toBe('deleteRoomsByIdModeratorsByUserId');
    });

    it('documents security, errors and bodies by auth level, limits and schema', () => {
      for (const r of routes.filter((x) => !x.hidden)) {
        const op = doc.paths[toTemplate(r.path)]?.[METHOD[r.method]] as Operation;
        const where = `${r.method} ${r.path}`;
        const statuses = Object.keys(op.responses);
        expect(
          statuses.some((st) => st.startsWith('2')),
          where,
        ).toBe(true);
        if (r.auth === 'public') expect(op.security, where).toBeUndefined();
        else {
          expect(op.security, where).toEqual(r.bearerOnly ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, { apiKey: [] }]);
          expect(statuses, where).toContain('401');
        }
        if (r.auth === 'admin') expect(statuses, where).toContain('403');
        if (r.rateLimit) expect(statuses, where).toContain('429');
        if (r.body) {
          expect(op.requestBody?.content['application/json']?.schema, where).toBeDefined();
          expect(statuses, where).toEqual(expect.arrayContaining(['400', '413']));
        } else expect(op.requestBody, where).toBeUndefined();
        if (r.query) expect(statuses, where).toContain('400');
        if (r.response) {
          const ok = op.responses[statuses.find((st) => st.startsWith('2')) as string] as { content?: Record<string, unknown> };
          expect(ok.content?.['application/json'], where).toBeDefined();
        }
        // Every error reply carries the contract's error body.
        for (const st of statuses.filter((x) => Number(x) >= 400)) {
          const resp = op.responses[st] as JsonObject;
          const target = typeof resp.$ref === 'string' ? (resolve(doc, resp.$ref) as JsonObject) : resp;
          const schema = (target.content as Record<string, { schema: JsonObject }>)['application/json']?.schema;
          if (r.path === '/ready') continue; // its 503 has its own body
          expect(schema, `${where} ${st}`).toEqual({ $ref: '#/components/schemas/Error' });
        }
      }
      const sentiment = doc.paths['/api/v1/sentiment']?.post as Operation;
      expect(sentiment.responses['200']).toMatchObject({
        content: { 'application/json': { schema: { $ref: '#/components/schemas/SentimentResult' } } },
      });
      expect(sentiment.requestBody?.content['application/json']?.schema).toMatchObject({
        properties: { text: { type: 'string', minLength: 1, maxLength: 2000 } },
        additionalProperties: false,
      });
      expect((doc.components.responses.TooManyRequests as { headers: JsonObject }).headers['Retry-After']).toBeDefined();
      expect(doc.paths['/api/v1/auth/register']?.post?.responses).toMatchObject({ '201': { description: 'The new account' }, '409': {} });
      expect(doc.paths['/api/v1/auth/register']?.post?.responses['200']).toBeUndefined();
      expect(doc.paths['/api/v1/api-keys/{id}']?.delete?.responses['204']).toEqual({ description: 'Deleted' });
      const list = doc.paths['/api/v1/rooms']?.get as Operation;
      expect(list.parameters).toEqual([
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: expect.any(String) as unknown,
          schema: { type: 'string', pattern: '^[0-9]{1,6}$' },
        },
        {
          name: 'after',
          in: 'query',
          required: false,
          description: expect.any(String) as unknown,
          schema: { type: 'string', minLength: 1, maxLength: 64 },
        },
      ]);
    });

    it('follows the generator rules on a synthetic table', () => {
      const Thing = Type.Object({ id: Type.String(), size: Type.Integer() }, { title: 'Thing' });
      const OtherThing = Type.Object({ name: Type.String() }, { title: 'Thing' });
      const handler = () => ({});
      const table: Route[] = [
        route({
          method: 'patch',
          path: '/api/v1/things/:thingId',
          auth: 'admin',
          rateLimit: 'api',
          tag: 'things',
          summary: 'Edit',
          description: 'Long text',
          body: Type.Object({ size: Type.Integer() }),
          response: Thing,
          responses: { 409: 'Busy', 503: Type.Object({ why: Type.String() }, { description: 'Down' }) },
          handler,
        }),
        route({
          method: 'get',
          path: '/api/v1/things',
          auth: 'user',
          tag: 'things',
          summary: 'List',
          query: Type.Object({
            q: Type.String({ minLength: 2, description: 'Search' }),
            n: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
          }),
          response: Type.Object({ items: Type.Array(Thing), other: OtherThing }),
          handler,
        }),
        route({
          method: 'post',
          path: '/things/new',
          auth: 'public',
          tag: 'things',
          summary: 'New',
          response: Thing,
          responses: { 201: 'Made' },
          handler,
        }),
        route({
          method: 'del',
          path: '/things/:id',
          auth: 'public',
          tag: 'things',
          summary: 'Gone',
          responses: { 204: 'Deleted' },
          handler,
        }),
        route({ method: 'get', path: '/things/secret', auth: 'public', tag: 'things', summary: 'Hidden', hidden: true, handler }),
      ];
      const d = openApiDocument(table, { title: 't', version: '1' }) as unknown as Document;
      expect(Object.keys(d.paths).sort()).toEqual(['/api/v1/things', '/api/v1/things/{thingId}', '/things/new', '/things/{id}']);
      const edit = d.paths['/api/v1/things/{thingId}']?.patch as Operation;
      expect(edit).toMatchObject({
        operationId: 'patchThingsByThingId',
        tags: ['things'],
        summary: 'Edit',
        description: 'Long text',
        parameters: [{ name: 'thingId', in: 'path', required: true, schema: { type: 'string' } }],
        security: [{ bearerAuth: [] }, { apiKey: [] }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['size'] } } } },
      });
      expect(Object.keys(edit.responses)).toEqual(['200', '400', '401', '403', '404', '409', '413', '429', '503']);
      expect(edit.responses['200']).toEqual({
        description: 'OK',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
      });
      expect(edit.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
      expect(edit.responses['409']).toEqual({
        description: 'Busy',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      });
      expect(edit.responses['503']).toEqual({
        description: 'Down',
        content: {
          'application/json': {
            schema: { description: 'Down', type: 'object', properties: { why: { type: 'string' } }, required: ['why'] },
          },
        },
      });
      const list = d.paths['/api/v1/things']?.get as Operation;
      expect(list.parameters).toEqual([
        { name: 'q', in: 'query', required: true, description: 'Search', schema: { type: 'string', minLength: 2 } },
        { name: 'n', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]+$' } },
      ]);
      expect(Object.keys(list.responses)).toEqual(['200', '400', '401', '503']);
      // Same title, different shape: two components.
      expect(d.components.schemas.Thing2).toMatchObject({ properties: { name: { type: 'string' } } });
      const created = d.paths['/things/new']?.post as Operation;
      expect(created.security).toBeUndefined();
      expect(created.responses).toEqual({
        '201': { description: 'Made', content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
      });
      expect(d.paths['/things/{id}']?.delete?.responses).toEqual({
        '204': { description: 'Deleted' },
        '404': { $ref: '#/components/responses/NotFound' },
      });
    });

    it('resolves every $ref, and every schema compiles as JSON Schema 2020-12', () => {
      let refs = 0;
      walk(doc, (obj, path) => {
        if (typeof obj.$ref !== 'string') return;
        refs++;
        expect(resolve(doc, obj.$ref), `${path}: ${obj.$ref}`).toBeDefined();
      });
      expect(refs).toBeGreaterThan(20);
      const ajv = new Ajv2020({ strict: false });
      for (const [name, schema] of Object.entries(doc.components.schemas)) {
        expect(() => ajv.compile({ ...schema, components: doc.components }), name).not.toThrow();
      }
    });
  });

  describe('the live server', () => {
    it('answers as documented: every status is listed and every JSON body matches its schema', async () => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      const check = async (method: string, path: string, options: Parameters<typeof call>[3] = {}) => {
        const reply = await call(s.url, method, path, options);
        conforms(doc, ajv, method, path, reply);
        return reply;
      };
      await check('GET', '/health');
      await check('GET', '/ready');
      expect((await check('POST', '/api/v1/auth/register', { body: { username: 'doc_user', password: 'password123' } })).status).toBe(201);
      expect((await check('POST', '/api/v1/auth/register', { body: { username: 'doc_user', password: 'password123' } })).status).toBe(409);
      expect((await check('POST', '/api/v1/auth/register', { body: { username: 'x', password: 'password123' } })).status).toBe(400);
      expect((await check('POST', '/api/v1/auth/login', { body: { username: 'doc_user', password: 'wrong-password' } })).status).toBe(401);
      const login = await check('POST', '/api/v1/auth/login', { body: { username: 'doc_user', password: 'password123' } });
      const tokens = login.body as { access_token: string; refresh_token: string };
      const refreshed = await check('POST', '/api/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
      const token = (refreshed.body as { access_token: string }).access_token;
      await check('GET', '/api/v1/auth/me', { token });
      expect((await check('GET', '/api/v1/auth/me')).status).toBe(401);

      const key = await check('POST', '/api/v1/api-keys', { token, body: { name: 'ci', current_password: 'password123' } });
      expect(key.status).toBe(201);
      const apiKey = (key.body as { key: string; id: string }).key;
      await check('GET', '/api/v1/auth/me', { apiKey }); // sets last_used_at
      await check('GET', '/api/v1/api-keys', { token });
      expect((await check('DELETE', `/api/v1/api-keys/${(key.body as { id: string }).id}`, { token })).status).toBe(204);
      expect((await check('DELETE', '/api/v1/api-keys/nope', { token })).status).toBe(404);

      await check('POST', '/api/v1/sentiment', { token, body: { text: 'what a great stream' } });
      expect((await check('POST', '/api/v1/sentiment', { token, body: { text: '   ' } })).status).toBe(400);
      expect((await check('POST', '/api/v1/sentiment', { token, body: { text: 'x'.repeat(2001) } })).status).toBe(413);
      await check('POST', '/api/v1/sentiment/batch', { token, body: { texts: ['love it', 'hate it'] } });
      await check('GET', '/api/v1/model', { token });

      expect(
        (await check('POST', '/api/v1/rooms', { token, body: { id: 'doc-room', title: 'Docs', closes_at: Date.now() + 60_000 } })).status,
      ).toBe(201);
      await check('POST', '/api/v1/rooms', { token, body: { id: 'doc-room-2' } });
      await check('GET', '/api/v1/rooms/doc-room', { token });
      expect((await check('GET', '/api/v1/rooms/nope', { token })).status).toBe(404);
      const page = await check('GET', '/api/v1/rooms?limit=1', { token });
      expect(page.body).toMatchObject({ next: expect.any(String) as unknown });
      await check('POST', '/api/v1/rooms/doc-room/timeouts', { token, body: { user_id: 'someone', duration_s: 60 } });
      await check('POST', '/api/v1/rooms/doc-room/close', { token });
      expect((await check('POST', '/api/v1/rooms', { token, body: { id: 'doc-life', lifecycle: true } })).body).toMatchObject({
        state: 'active',
      });
      expect((await check('POST', '/api/v1/rooms/doc-life/countdown', { token })).body).toMatchObject({ state: 'countdown' });
      expect((await check('POST', '/api/v1/rooms/doc-life/countdown', { token })).status).toBe(409);
      expect((await check('POST', '/api/v1/rooms/doc-life/decision', { token, body: { keep: true } })).status).toBe(409);
      expect((await check('POST', '/api/v1/rooms/doc-room-2/countdown', { token })).status).toBe(409);

      expect((await check('POST', '/api/v1/auth/logout', { token, body: {} })).status).toBe(204);
    });

    it('validates query strings before the handler: 400 validation_failed naming the parameter', async () => {
      const login = await call(s.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } });
      const token = (login.body as { access_token: string }).access_token;
      for (const bad of ['limit=abc', 'limit=-1', 'limit=1.5', 'after=']) {
        const res = await call(s.url, 'GET', `/api/v1/rooms?${bad}`, { token });
        expect(res.status, bad).toBe(400);
        expect(res.body, bad).toMatchObject({
          error: { code: 'validation_failed', message: expect.stringMatching(/^query\.(limit|after) /) as unknown },
        });
      }
      // Well-formed strings still reach the handler, which keeps its own range check.
      expect((await call(s.url, 'GET', '/api/v1/rooms?limit=500', { token })).body).toMatchObject({
        error: { code: 'validation_failed', message: 'limit must be an integer from 1 to 100' },
      });
      expect((await call(s.url, 'GET', '/api/v1/rooms?limit=5&after=x&unknown=1', { token })).status).toBe(200);
      // Credentials are still checked first.
      expect((await call(s.url, 'GET', '/api/v1/rooms?limit=abc')).status).toBe(401);
    });
  });

  describe('docs routes', () => {
    it('serve the document (built once), Swagger UI and its local assets through a Router', async () => {
      const server = await docsOnlyServer(s, () => {
        builds++;
        return openApiDocument(routes, INFO);
      });
      try {
        const before = builds;
        const served = await checkDocs(server.url);
        expect(served).toEqual(doc);
        await fetch(`${server.url}/openapi.json`).then((r) => r.text());
        expect(builds).toBe(before + 1);
        // The router's usual JSON errors still apply around the raw routes.
        const missing = await call(server.url, 'GET', '/docs/nope.js');
        expect(missing).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
        expect((await call(server.url, 'POST', '/openapi.json')).status).toBe(405);
      } finally {
        server.close();
      }
    });

    it('are mounted by the live server (src/app/http.ts), whose document lists exactly its routes', async () => {
      const served = await checkDocs(s.url);
      for (const r of routes.filter((x) => !x.hidden)) {
        expect(served.paths[toTemplate(r.path)]?.[METHOD[r.method]], `${r.method} ${r.path}`).toBeDefined();
      }
      expect(served.paths['/api/v1/admin/stats']?.get?.responses['403']).toBeDefined();
      // Every documented operation is served: without credentials or a body, nothing reaches a handler
      // that changes state, and the answer is never the router's own 404 or 405.
      for (const [template, item] of Object.entries(served.paths)) {
        for (const method of Object.keys(item)) {
          const path = template.replace(/\{[^}]+\}/g, 'probe');
          const res = await fetch(s.url + path, { method: method.toUpperCase() });
          const text = await res.text();
          const where = `${method} ${template} -> ${res.status} ${text.slice(0, 200)}`;
          expect(res.status, where).not.toBe(405);
          if (res.status === 404) expect(text, where).not.toContain('no route for');
          expect(Object.keys(item[method]?.responses ?? {}), where).toContain(String(res.status));
        }
      }
    });
  });
});
