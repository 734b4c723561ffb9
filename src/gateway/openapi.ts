// The OpenAPI 3.1 document, generated from the route table: the same TypeBox schemas that ajv validates
// requests with describe them here (TypeBox schemas are JSON Schema 2020-12 once its symbol keys are gone).
import type { TSchema } from '@sinclair/typebox';
import { BatchReply, ErrorReply, SentimentReply, TokenPairReply, UserReply } from '../contract/index.js';
import type { Method, Route } from './router.js';
import { ApiKeyBody, Credentials, LogoutBody, RefreshBody } from './schemas.js';

export interface ApiInfo {
  title: string;
  version: string;
  description?: string;
}

type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
interface JsonObject {
  [key: string]: JsonValue;
}

const HTTP_METHOD: Record<Method, string> = { get: 'get', post: 'post', put: 'put', patch: 'patch', del: 'delete' };

/** Schemas shared by several routes, named in `components.schemas` (matched by shape, not identity). */
const NAMED_SCHEMAS: Readonly<Record<string, TSchema>> = {
  Error: ErrorReply,
  Credentials,
  RefreshRequest: RefreshBody,
  LogoutRequest: LogoutBody,
  ApiKeyRequest: ApiKeyBody,
  TokenPair: TokenPairReply,
  User: UserReply,
  SentimentResult: SentimentReply,
  BatchResult: BatchReply,
};

const TAG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  ops: 'Liveness and readiness',
  auth: 'Accounts, tokens and API keys',
  sentiment: 'Sentiment classification',
  rooms: 'Native chat rooms (chat itself happens on the WebSocket at `/ws`)',
  matching: 'One-to-one matching into private rooms (the pair is announced as a `matched` notification on `/ws`)',
  admin: 'Administration (admin role only)',
  profiles: 'Twitch and TikTok users: display name and avatar, from the best of four tiers',
  docs: 'This document, its viewer, and the AsyncAPI document of the WebSocket protocol (`/asyncapi.json`)',
};

const ERROR_REF = '#/components/schemas/Error';
const errorContent = (): JsonObject => ({ 'application/json': { schema: { $ref: ERROR_REF } } });
const retryAfter = (): JsonObject => ({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });

/** The error replies every route shares, by status: named in `components.responses`. */
const SHARED_RESPONSES: Readonly<Record<number, { name: string; description: string; retry?: true }>> = {
  400: { name: 'BadRequest', description: 'Invalid input: `validation_failed` (the message names the field) or `invalid_json`' },
  401: { name: 'Unauthorized', description: 'Missing or invalid credentials (`unauthorized`)' },
  403: { name: 'Forbidden', description: 'Authenticated, but not allowed to do this (`forbidden`)' },
  404: { name: 'NotFound', description: 'No such resource (`not_found`)' },
  409: { name: 'Conflict', description: 'Conflicts with the current state (`conflict`)' },
  413: { name: 'PayloadTooLarge', description: 'The body, a text or a batch is over its size limit (`payload_too_large`)' },
  429: { name: 'TooManyRequests', description: 'Over the rate limit (`rate_limited`): retry after `Retry-After` seconds', retry: true },
  503: {
    name: 'Unavailable',
    description:
      'Temporarily unable to serve: shared state unreachable (`unavailable`), the sentiment engine at capacity or its expected wait past the admission deadline (`overloaded`), or this process shutting down (`draining`, and the connection closes); retry after `Retry-After` seconds',
    retry: true,
  },
};

/** A TypeBox schema as plain JSON: symbol keys (TypeBox's Kind, Optional, ...) and undefined values dropped. */
export function plainSchema(schema: unknown): JsonValue {
  if (Array.isArray(schema)) return schema.map((item) => plainSchema(item));
  if (schema !== null && typeof schema === 'object') {
    const out: JsonObject = {};
    for (const key of Object.keys(schema)) {
      const value: unknown = (schema as Record<string, unknown>)[key];
      if (value !== undefined && typeof value !== 'function') out[key] = plainSchema(value);
    }
    return out;
  }
  if (typeof schema === 'string' || typeof schema === 'boolean') return schema;
  if (typeof schema === 'number') return Number.isFinite(schema) ? schema : null;
  return null;
}

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Key-sorted JSON, so equal schemas compare equal whatever order their keys were written in. */
function canonical(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k] as JsonValue)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const isObjectSchema = (v: JsonObject) => v.type === 'object' && isObject(v.properties);

/**
 * `components.schemas`: the named shared schemas, plus any object schema a route file gave a `title`;
 * wherever one of them appears in a route's schema it becomes a `$ref`.
 */
class SchemaComponents {
  readonly schemas: Record<string, JsonObject> = {};
  private readonly byShape = new Map<string, string>();
  private readonly pending = new Map<string, JsonObject>();

  constructor(named: Readonly<Record<string, TSchema>>) {
    for (const [name, schema] of Object.entries(named)) {
      const plain = plainSchema(schema);
      if (!isObject(plain)) continue;
      this.byShape.set(canonical(plain), name);
      this.pending.set(name, plain);
    }
  }

  /** Converts a (TypeBox) schema for use in the document. */
  use(schema: unknown): JsonValue {
    return this.convert(plainSchema(schema), false);
  }

  /** Adds the named schemas that were not referenced (Error always is). */
  finish(): Record<string, JsonObject> {
    for (const name of [...this.pending.keys()]) this.define(name);
    return Object.fromEntries(
      Object.keys(this.schemas)
        .sort()
        .map((k) => [k, this.schemas[k] as JsonObject]),
    );
  }

  private define(name: string): void {
    const plain = this.pending.get(name);
    if (!plain) return;
    this.pending.delete(name);
    this.schemas[name] = this.convert(plain, true) as JsonObject;
  }

  private convert(node: JsonValue, isComponentRoot: boolean): JsonValue {
    if (Array.isArray(node)) return node.map((n) => this.convert(n, false));
    if (!isObject(node)) return node;
    if (!isComponentRoot && isObjectSchema(node)) {
      const shape = canonical(node);
      let name = this.byShape.get(shape);
      if (name === undefined && typeof node.title === 'string') name = this.register(node.title, shape, node);
      if (name !== undefined) {
        this.define(name);
        return { $ref: `#/components/schemas/${name}` };
      }
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) out[k] = this.convert(v, false);
    return out;
  }

  private register(title: string, shape: string, plain: JsonObject): string {
    const base = title.replace(/[^A-Za-z0-9_.-]/g, '');
    let name = base === '' ? 'Schema' : base;
    for (let i = 2; name in this.schemas || this.pending.has(name) || [...this.byShape.values()].includes(name); i++) name = `${base}${i}`;
    this.byShape.set(shape, name);
    this.pending.set(name, plain);
    return name;
  }
}

/** `/api/v1/rooms/:id` → `/api/v1/rooms/{id}` and its parameter names. */
export function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted, params };
}

/** `del /api/v1/rooms/:id/moderators/:userId` → `deleteRoomsByIdModeratorsByUserId`. */
function operationId(r: Route): string {
  const words = r.path
    .replace(/^\/api\/v\d+\//, '/')
    .split('/')
    .filter((s) => s !== '')
    .flatMap((seg) => (seg.startsWith(':') ? ['by', seg.slice(1)] : seg.split(/[^A-Za-z0-9]+/)))
    .filter((w) => w !== '')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  return HTTP_METHOD[r.method] + words.join('');
}

function errorResponse(status: number, description?: string): JsonObject {
  const shared = SHARED_RESPONSES[status];
  if (shared && description === undefined) return { $ref: `#/components/responses/${shared.name}` };
  return {
    description: description ?? shared?.description ?? `Error ${status}`,
    ...(shared?.retry ? { headers: retryAfter() } : {}),
    content: errorContent(),
  };
}

function operation(r: Route, components: SchemaComponents, id: string, pathParams: string[]): JsonObject {
  const op: JsonObject = { operationId: id, tags: [r.tag], summary: r.summary };
  if (r.description !== undefined) op.description = r.description;

  const parameters: JsonValue[] = pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  if (r.query) {
    const required = new Set(r.query.required ?? []);
    for (const [name, schema] of Object.entries(r.query.properties)) {
      const plain = components.use(schema);
      const param: JsonObject = { name, in: 'query', required: required.has(name) };
      if (isObject(plain)) {
        const { description, ...rest } = plain;
        if (typeof description === 'string') param.description = description;
        param.schema = rest;
      } else param.schema = plain;
      parameters.push(param);
    }
  }
  if (parameters.length > 0) op.parameters = parameters;

  if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: components.use(r.body) } } };
  if (r.upload)
    op.requestBody = {
      required: true,
      content: Object.fromEntries(r.upload.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])),
    };

  const responses: JsonObject = {};
  const extra = r.responses ?? {};
  const success = Object.keys(extra)
    .map(Number)
    .filter((s) => s >= 200 && s < 300)
    .sort((a, b) => a - b);
  // A schema's own `description` describes the reply better than a generic one.
  const withBody = (fallback: string, schema: unknown): JsonObject => {
    const converted = components.use(schema);
    const own = isObject(converted) ? converted.description : undefined;
    return {
      description: typeof own === 'string' ? own : fallback,
      content: { [r.produces ?? 'application/json']: { schema: converted } },
    };
  };
  if (success.length === 0) responses['200'] = r.response ? withBody('OK', r.response) : { description: 'OK' };
  // Errors every route of this kind may answer; a route's own `responses` may describe them better.
  const errors = new Set<number>();
  if (r.body || r.query) errors.add(400);
  if (r.body || r.upload) errors.add(413);
  if (r.auth !== 'public') errors.add(401);
  if (r.auth === 'admin') errors.add(403);
  if (pathParams.length > 0) errors.add(404);
  if (r.rateLimit) errors.add(429);
  // Credentials and limiter counters live in shared state (Redis in a cluster): unreachable → 503.
  if (r.auth !== 'public' || r.rateLimit) errors.add(503);
  for (const status of errors) responses[String(status)] = errorResponse(status);

  for (const [key, value] of Object.entries(extra)) {
    const status = Number(key);
    if (status >= 200 && status < 300) {
      if (typeof value !== 'string') responses[key] = withBody(statusDescription(status), value);
      else if (status !== 204 && status === success[0] && r.response) responses[key] = withBody(value, r.response);
      else responses[key] = { description: value };
    } else if (typeof value === 'string') responses[key] = errorResponse(status, value);
    else responses[key] = withBody(SHARED_RESPONSES[status]?.description ?? statusDescription(status), value);
  }
  op.responses = Object.fromEntries(
    Object.keys(responses)
      .sort()
      .map((k) => [k, responses[k] as JsonValue]),
  );

  if (r.auth !== 'public') op.security = r.bearerOnly ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, { apiKey: [] }];
  if (r.auth === 'admin') op['x-required-role'] = 'admin';
  if (r.rateLimit) op['x-rate-limit'] = r.rateLimit === 'api' ? 'per principal' : 'per client IP';
  return op;
}

function statusDescription(status: number): string {
  if (status === 201) return 'Created';
  if (status === 204) return 'No content';
  if (status >= 200 && status < 300) return 'OK';
  return `Error ${status}`;
}

/**
 * The OpenAPI 3.1 document for a route table: one operation per (visible) route, its request body, query
 * and path parameters, its 2xx reply and the errors it may answer, and its security by auth level.
 */
export function openApiDocument(routes: readonly Route[], info: ApiInfo): JsonObject {
  const components = new SchemaComponents(NAMED_SCHEMAS);
  const paths: Record<string, JsonObject> = {};
  const tags: string[] = [];
  const ids = new Set<string>();
  for (const r of routes) {
    if (r.hidden) continue;
    const { path, params } = openApiPath(r.path);
    let id = operationId(r);
    for (let i = 2; ids.has(id); i++) id = `${operationId(r)}${i}`;
    ids.add(id);
    if (!tags.includes(r.tag)) tags.push(r.tag);
    const item = (paths[path] ??= {});
    item[HTTP_METHOD[r.method]] = operation(r, components, id, params);
  }

  const sharedResponses: JsonObject = {};
  for (const shared of Object.values(SHARED_RESPONSES)) {
    sharedResponses[shared.name] = {
      description: shared.description,
      ...(shared.retry ? { headers: retryAfter() } : {}),
      content: errorContent(),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description === undefined ? {} : { description: info.description }) },
    tags: tags.map((name): JsonObject => {
      const description = TAG_DESCRIPTIONS[name];
      return description === undefined ? { name } : { name, description };
    }),
    paths,
    components: {
      schemas: components.finish(),
      responses: sharedResponses,
      headers: {
        RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } },
      },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from `POST /api/v1/auth/login`' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A key from `POST /api/v1/api-keys`' },
      },
    },
  };
}
