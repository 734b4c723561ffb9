// Typed errors with a stable `code`: the gateway turns them into the contract's error body.

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. Retry-After on 429/503. */
    readonly headers: Readonly<Record<string, string>> = {},
    /** For refusals that a client may retry: how long to wait (WebSocket error frames carry it as is). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, code = 'bad_request') => new AppError(400, code, message);
export const unauthorized = (message = 'missing or invalid credentials') => new AppError(401, 'unauthorized', message);
export const forbidden = (message = 'not allowed for this role') => new AppError(403, 'forbidden', message);
export const notFound = (message = 'not found') => new AppError(404, 'not_found', message);
export const conflict = (message: string) => new AppError(409, 'conflict', message);
export const payloadTooLarge = (message: string) => new AppError(413, 'payload_too_large', message);
export const rateLimited = (retryAfterS: number, message = 'too many requests') =>
  new AppError(429, 'rate_limited', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterS))) }, Math.ceil(retryAfterS * 1000));
export const overloaded = (retryAfterS: number) =>
  new AppError(
    503,
    'overloaded',
    'the sentiment engine is at capacity; retry shortly',
    { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterS))) },
    Math.ceil(retryAfterS * 1000),
  );
export const unavailable = (message: string) => new AppError(503, 'unavailable', message);
/** The process is draining (SIGTERM): a retry, on a new connection, reaches another instance. */
export const draining = () =>
  new AppError(503, 'draining', 'this process is shutting down; retry and another instance will answer', { 'Retry-After': '1' }, 1000);

/**
 * A write that will never succeed as it is (a document the database refuses: validation, a bad field
 * name, too large), unlike an outage, which a retry outlasts. Store drivers throw it so that the writer
 * sets such a batch aside (the dead-letter file) instead of retrying it forever in front of the others.
 */
export class PermanentWriteError extends Error {
  readonly code = 'permanent_write_error';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentWriteError';
  }
}
