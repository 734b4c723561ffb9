// Query-string values the history routes share: bounded integers, times and channel names, each refused
// with a 400 that names the parameter.
import { Type, type TSchema } from '@sinclair/typebox';
import { badRequest } from '../errors.js';
import { parseTime } from './time.js';

/** The OpenAPI side of the parsers below (the router checks these shapes; the parsers check the ranges). */
export const QueryInt = (description: string): TSchema => Type.Optional(Type.String({ pattern: '^[0-9]{0,9}$', description }));
export const QueryCursor = (description: string): TSchema =>
  Type.Optional(Type.String({ pattern: '^([0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26})?$', description }));
export const QueryTime = (description: string): TSchema =>
  Type.Optional(Type.String({ maxLength: 40, description: `${description} (ISO 8601 or epoch ms)` }));

export function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest(`${name} must be an integer from ${min} to ${max}`, 'validation_failed');
  }
  return value;
}

/** The range of a JavaScript Date: past it a time cannot be shown (toISOString throws), so it is refused. */
export const MAX_TIME_MS = 8.64e15;

/** parseTime, bounded to what a Date can hold: a 400, not a 500 further on. */
export function boundedTime(value: string | number, name: string): number {
  const ms = parseTime(value, name);
  if (Math.abs(ms) > MAX_TIME_MS) throw badRequest(`${name} is out of range (at most ${MAX_TIME_MS} ms from 1970)`, 'validation_failed');
  return ms;
}

export function timeParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  return raw === null || raw === '' ? fallback : boundedTime(raw, name);
}

/** A ULID cursor, as handed out in `next`. */
export function cursorParam(query: URLSearchParams, name: string): string | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$/.test(raw))
    throw badRequest(`${name} must be a cursor from a previous page's \`next\``, 'validation_failed');
  return raw.toUpperCase();
}
