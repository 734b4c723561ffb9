// Every server frame a test receives is checked against its schema in src/contract (ws-client.ts and sdk.ts
// pass each one here). A frame off the contract fails the test that received it, in an afterEach this module
// registers on every test file that imports it; `checked` counts the frames of each type that passed.
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, afterEach } from 'vitest';
import { ServerFrameSchemas, type ServerFrameType } from '../src/contract/index.js';

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const validators = new Map<string, ValidateFunction>(
  Object.entries(ServerFrameSchemas).map(([type, schema]) => [type, ajv.compile(schema)]),
);

/** Why `frame` is not a server frame of the contract, or null when it is one. */
export function frameViolation(frame: unknown): string | null {
  const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
  const validate = typeof type === 'string' ? validators.get(type) : undefined;
  if (typeof type !== 'string' || !validate)
    return `unknown server frame type ${JSON.stringify(type)}: ${JSON.stringify(frame).slice(0, 300)}`;
  if (validate(frame)) return null;
  return `${type}: ${ajv.errorsText(validate.errors)}: ${JSON.stringify(frame).slice(0, 300)}`;
}

/** Frames of each type that passed, in this test file. */
export const checked = new Map<ServerFrameType, number>();
const violations: string[] = [];

/** Checks one received frame; a violation is reported at the end of the running test. */
export function auditServerFrame(frame: unknown): void {
  const problem = frameViolation(frame);
  if (problem !== null) violations.push(problem);
  else {
    const type = (frame as { type: ServerFrameType }).type;
    checked.set(type, (checked.get(type) ?? 0) + 1);
  }
}

function report(): void {
  if (violations.length === 0) return;
  const found = violations.splice(0);
  throw new Error(`${found.length} server frame(s) off the contract (src/contract/frames.ts):\n${found.slice(0, 10).join('\n')}`);
}

afterEach(report);
afterAll(report);
