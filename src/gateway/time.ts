// Times in query strings and bodies: ISO 8601 or epoch milliseconds, both accepted (the contract).
import { badRequest } from '../errors.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseTime(value: string | number, field: string): number {
  if (typeof value === 'number' || /^\d{1,15}$/.test(value)) {
    const ms = Number(value);
    if (Number.isSafeInteger(ms) && ms >= 0) return ms;
  } else if (ISO_DATE.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw badRequest(`${field} must be an ISO 8601 time or epoch milliseconds`, 'validation_failed');
}
