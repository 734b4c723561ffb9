// The WebSocket protocol's client frames: one JSON object per text frame, checked against its type's
// schema before any logic runs (the same discipline as REST bodies). See docs/protocol.md.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../errors.js';
import { MAX_CHANNEL_LENGTH } from '../channels/names.js';

const Channel = Type.String({ minLength: 1, maxLength: MAX_CHANNEL_LENGTH });

/** Every client frame type's schema (the parser's, the fuzz suite's). */
export const frameSchemas = (maxTextLength: number) => ({
  subscribe: Type.Object({ type: Type.Literal('subscribe'), channel: Channel, batch: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  unsubscribe: Type.Object({ type: Type.Literal('unsubscribe'), channel: Channel }, { additionalProperties: false }),
  chat: Type.Object(
    { type: Type.Literal('chat'), channel: Channel, text: Type.String({ minLength: 1, maxLength: maxTextLength, pattern: '\\S' }) },
    { additionalProperties: false },
  ),
  like: Type.Object(
    { type: Type.Literal('like'), channel: Channel, message_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
    { additionalProperties: false },
  ),
  ping: Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false }),
  // A fresh access token for the open socket, before its own expires. JWTs here are ~300 bytes.
  auth: Type.Object({ type: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
});

type Schemas = ReturnType<typeof frameSchemas>;
export type ClientFrame = { [K in keyof Schemas]: Static<Schemas[K]> }[keyof Schemas];
export type FrameType = keyof Schemas;

export const frameError = (code: string, message: string) => new AppError(400, code, message);

export class FrameParser {
  private readonly validators: Record<string, ValidateFunction>;

  constructor(maxTextLength: number) {
    const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false });
    this.validators = Object.fromEntries(Object.entries(frameSchemas(maxTextLength)).map(([type, schema]) => [type, ajv.compile(schema)]));
  }

  /** A client frame, or an AppError whose code names what is wrong with it. */
  parse(data: string): ClientFrame {
    let value: unknown;
    try {
      value = JSON.parse(data) as unknown;
    } catch {
      throw frameError('invalid_json', 'a frame must be one JSON object');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw frameError('invalid_json', 'a frame must be one JSON object');
    const type = (value as { type?: unknown }).type;
    const validate = typeof type === 'string' && Object.hasOwn(this.validators, type) ? this.validators[type] : undefined;
    if (!validate) throw frameError('unknown_type', `"type" must be one of ${Object.keys(this.validators).join(', ')}`);
    if (!validate(value)) throw describe(type as string, validate.errors ?? []);
    return value as ClientFrame;
  }
}

function describe(type: string, errors: ErrorObject[]): AppError {
  const first = errors[0];
  const field = first?.instancePath.replace(/^\//, '') ?? '';
  if (field === 'text' && first?.keyword === 'maxLength') return frameError('text_too_long', `text ${first.message ?? 'is too long'}`);
  if (field === 'text' && (first?.keyword === 'minLength' || first?.keyword === 'pattern')) return frameError('empty_text', 'text must not be empty');
  if (first?.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperty?: string }).additionalProperty ?? '';
    return frameError('invalid_frame', `${type} has an unknown field "${extra}"`);
  }
  return frameError('invalid_frame', `${type}: ${field === '' ? 'frame' : field} ${first?.message ?? 'is invalid'}`);
}

export function errorFrame(err: AppError, channel?: string): string {
  return JSON.stringify({
    type: 'error',
    code: err.code,
    message: err.message,
    ...(channel === undefined ? {} : { channel }),
    ...(err.retryAfterMs === undefined ? {} : { retry_after_ms: err.retryAfterMs }),
  });
}
