// The WebSocket protocol's edge: each client frame is parsed and checked against its type's schema in the
// contract before any logic runs (the same discipline as REST bodies). See docs/protocol.md.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { clientFrameSchemas, frames, type ClientFrame } from '../contract/index.js';
import { AppError } from '../errors.js';

export type { ClientFrame };

export const frameError = (code: string, message: string) => new AppError(400, code, message);

export class FrameParser {
  private readonly validators: Record<string, ValidateFunction>;

  constructor(maxTextLength: number) {
    const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false });
    this.validators = Object.fromEntries(
      Object.entries(clientFrameSchemas(maxTextLength)).map(([type, schema]) => [type, ajv.compile(schema)]),
    );
  }

  /** A client frame, or an AppError whose code names what is wrong with it. */
  parse(data: string): ClientFrame {
    let value: unknown;
    try {
      value = JSON.parse(data) as unknown;
    } catch {
      throw frameError('invalid_json', 'a frame must be one JSON object');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw frameError('invalid_json', 'a frame must be one JSON object');
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
  if (field === 'text' && (first?.keyword === 'minLength' || first?.keyword === 'pattern'))
    return frameError('empty_text', 'text must not be empty');
  if (first?.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperty?: string }).additionalProperty ?? '';
    return frameError('invalid_frame', `${type} has an unknown field "${extra}"`);
  }
  return frameError('invalid_frame', `${type}: ${field === '' ? 'frame' : field} ${first?.message ?? 'is invalid'}`);
}

export function errorFrame(err: AppError, channel?: string, ref?: string): string {
  return frames.error({ code: err.code, message: err.message, channel, retry_after_ms: err.retryAfterMs, ref });
}
