// The fuzz suites' shared parts: the seed, a server whose error-level log lines are kept, and fast-check
// arbitraries: hostile strings, numbers and times, JSON of any shape and depth, and values shaped by a
// TypeBox schema (so generated bodies and frames get past validation often enough to reach the handlers).
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino, type Logger } from 'pino';
import { startChatPulse, type ChatPulse } from '../src/app/index.js';
import { loadConfig } from '../src/config.js';
import { ROBERTA } from './helpers.js';
import type { TSchema } from '@sinclair/typebox';

/** Every fuzz suite's seed (FUZZ_SEED overrides it to explore further; a failure prints the seed to replay). */
export const SEED = Number(process.env.FUZZ_SEED ?? 20261206);

/** Error-level (and worse) log lines: every one is a request that failed unexpectedly. */
export function capturingLogger(): { log: Logger; errors: string[] } {
  const errors: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '' && (JSON.parse(line) as { level: number }).level >= 50) errors.push(line);
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), errors };
}

/**
 * A real server for fuzzing, logging into `capturingLogger`. Rate limits have their own tests: here they
 * would answer most cases before any handler runs, so they are lifted.
 */
export async function startFuzzServer(env: Record<string, string> = {}): Promise<{ app: ChatPulse; url: string; errors: string[] }> {
  const captured = capturingLogger();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    MODEL_DIR: ROBERTA,
    INFERENCE_THREADS: '1',
    JWT_SECRET: 'fuzz-secret-fuzz-secret-fuzz-secret-0123456789',
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: 'admin-password',
    API_RATE_PER_MIN: '1000000',
    AUTH_RATE_PER_MIN: '1000000',
    WS_FRAME_RATE_PER_10S: '1000000',
    WS_CONNECT_RATE_PER_MIN: '1000000',
    WS_ABUSE_STRIKES: '1000000',
    CHAT_RATE_PER_30S: '1000000',
    ...env,
  });
  const app = await startChatPulse(config, captured.log);
  return { app, url: `http://127.0.0.1:${app.port}`, errors: captured.errors };
}

/** Strings that have broken servers: escapes, prototype names, traversal, control and astral characters. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '%',
    '%%',
    '%zz',
    '%E0%A4%A',
    '%ED%A0%80',
    '%00',
    '%2F',
    '..',
    '../..',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    '__proto__:x',
    'constructor:x',
    'toString:abc',
    'room:__proto__',
    'room:constructor',
    'twitch:__proto__',
    'room:',
    ':',
    'room:lobby',
    'lobby',
    'admin',
    'fuzzer',
    'room:a:b',
    'ROOM:X',
    'twitch:UPPER',
    '\u0000',
    '\uD800',
    '\uFFFF',
    '😀'.repeat(40),
    'null',
    'undefined',
    'NaN',
    '-1',
    '1e308',
    '9007199254740991',
    '99999999999999999999',
    '0x10',
    '2026-13-45T99:99',
    '+275760-09-13T00:00:00.000Z',
  ),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.stringMatching(/^[a-z0-9_]{1,30}$/),
  fc.integer({ min: 1, max: 5000 }).map((n) => 'a'.repeat(n)),
);

/** Numbers at and past every boundary a handler might store or turn into a Date. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    2 ** 31,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    8.64e15,
    8.64e15 + 1,
    1e21,
    1e308,
    -1e308,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: Date.now() - 1e10, max: Date.now() + 1e10 }),
);

/** Any JSON value, up to `maxDepth` deep. */
export const anyJson = (maxDepth = 4): fc.Arbitrary<unknown> =>
  fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth },
      fc.constant(null),
      fc.boolean(),
      hostileNumber,
      hostileString,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(hostileString, tie('value'), { maxKeys: 5 }),
    ),
  })).value;

/** A value for a TypeBox schema: usually of the right shape (bounded as declared), sometimes not. */
export function fromSchema(schema: TSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const wrong = anyJson(2);
  if (schema === undefined || depth > 4) return wrong;
  const s = schema as TSchema & {
    type?: string;
    const?: unknown;
    anyOf?: TSchema[];
    properties?: Record<string, TSchema>;
    required?: string[];
    items?: TSchema;
    maxLength?: number;
    maxItems?: number;
    enum?: unknown[];
  };
  let right: fc.Arbitrary<unknown>;
  if (s.const !== undefined) right = fc.constant(s.const);
  else if (s.enum) right = fc.constantFrom(...s.enum);
  else if (s.anyOf) right = fc.oneof(...s.anyOf.map((x) => fromSchema(x, depth + 1)));
  else if (s.type === 'object' && s.properties) {
    const props = s.properties;
    const keys = Object.keys(props);
    const entries = keys.map((k) =>
      fc.option(fromSchema(props[k], depth + 1), { nil: undefined, freq: s.required?.includes(k) ? 8 : 2 }).map((v) => [k, v] as const),
    );
    right = fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs.filter(([, v]) => v !== undefined)));
  } else if (s.type === 'array') right = fc.array(fromSchema(s.items, depth + 1), { maxLength: Math.min(s.maxItems ?? 4, 6) });
  else if (s.type === 'string')
    right = fc.oneof(
      hostileString,
      fc.string({ maxLength: Math.min(s.maxLength ?? 64, 64) }),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    );
  else if (s.type === 'integer' || s.type === 'number') right = hostileNumber;
  else if (s.type === 'boolean') right = fc.boolean();
  else right = wrong;
  return fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: wrong });
}

/** Deeply nested JSON text: what costs a parser the most per byte. */
export const deepJsonText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 50, max: 5000 }), fc.constantFrom('[', '{"a":'))
  .map(([n, open]) => open.repeat(n) + '1' + (open === '[' ? ']' : '}').repeat(n));

/** Snake-case error codes and a message: the contract's error shape. */
export function isErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && /^[a-z][a-z0-9_]*$/.test(code) && typeof message === 'string';
}
