// HTTP plumbing over uWS: the request snapshot a handler may keep after the synchronous part, body
// reading with a size cap, and corked JSON responses in the contract's error shape.
import type { ClientAddress } from './client-address.js';
import type { HttpRequest, HttpResponse } from './uws.js';
import { AppError, draining, payloadTooLarge } from '../errors.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/** What a handler may read after the synchronous part of the uWS callback (HttpRequest dies with it). */
export interface RequestSnapshot {
  method: string;
  url: string;
  query: string;
  authorization: string;
  apiKey: string;
  origin: string;
  contentLength: string;
  ip: string;
  params: string[];
  /** The client's X-Request-Id, '' when absent. */
  requestId: string;
  /** The body's declared media type, read by raw-body (upload) routes. */
  contentType?: string;
}

/** The raw query string, '' when there is none (uWS then returns undefined, whatever its typings say). */
export function rawQuery(req: HttpRequest): string {
  const query: unknown = req.getQuery();
  return typeof query === 'string' ? query : '';
}

export function snapshot(res: HttpResponse, req: HttpRequest, paramCount: number, addresses?: ClientAddress): RequestSnapshot {
  const params: string[] = [];
  for (let i = 0; i < paramCount; i++) params.push(decodePathSegment(req.getParameter(i)));
  return {
    method: req.getMethod(),
    url: req.getUrl(),
    query: rawQuery(req),
    authorization: req.getHeader('authorization'),
    apiKey: req.getHeader('x-api-key'),
    origin: req.getHeader('origin'),
    contentLength: req.getHeader('content-length'),
    ip: peerAddress(res, req, addresses),
    params,
    requestId: req.getHeader('x-request-id'),
    contentType: req.getHeader('content-type'),
  };
}

/** A percent-encoded path segment, decoded; a malformed escape (`%`, `%zz`, a lone surrogate) is the client's 400. */
export function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError(400, 'invalid_path', 'the path holds a malformed percent-escape');
  }
}

/**
 * The one guard around every uWS callback: whatever its synchronous part throws becomes that request's
 * answer (an AppError's own status, else a logged 500), so no input can take the process down. Errors
 * after the synchronous part are the handler's promise chain's to answer (see Router.fail).
 */
export function guarded<A extends unknown[]>(
  baseHeaders: Readonly<Record<string, string>>,
  onError: (err: unknown) => void,
  fn: (res: HttpResponse, req: HttpRequest, ...rest: A) => void,
): (res: HttpResponse, req: HttpRequest, ...rest: A) => void {
  return (res, req, ...rest) => {
    try {
      fn(res, req, ...rest);
    } catch (err) {
      const appErr = err instanceof AppError ? err : new AppError(500, 'internal', 'internal server error');
      if (appErr.status === 500) onError(err);
      try {
        writeNow(res, appErr.status, errorBody(appErr), baseHeaders, appErr.headers);
      } catch {
        // Already answered or aborted before it threw: nothing left to tell the client.
      }
    }
  };
}

/** The client's address: the TCP peer, or what a trusted proxy says in X-Forwarded-For. Call in the handler's synchronous part. */
export function peerAddress(res: HttpResponse, req: HttpRequest, addresses?: ClientAddress): string {
  const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
  return addresses?.enabled ? addresses.resolve(peer, req.getHeader('x-forwarded-for')) : peer;
}

/** Tracks whether the client went away, so nothing writes to a dead response. */
export class ResponseState {
  aborted = false;
  done = false;
  /** Told when the client goes away (uWS keeps one abort handler per response: this is it). */
  private readonly abortListeners: Array<() => void> = [];
  /**
   * `closing`, asked when the reply is written (not when the request arrived): whether the connection
   * is to be closed after it, as every reply is once a drain has begun.
   */
  constructor(
    res: HttpResponse,
    private readonly closing: () => boolean = () => false,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      for (const listener of this.abortListeners.splice(0)) listener();
    });
  }
  onAbort(listener: () => void): void {
    if (this.aborted) listener();
    else this.abortListeners.push(listener);
  }
  get open(): boolean {
    return !this.aborted && !this.done;
  }
  /** uWS then sends `Connection: close` itself and closes once the reply is written. */
  get closeAfter(): boolean {
    return this.closing();
  }
}

/**
 * The answer to a request that arrives once a drain has begun (on a connection opened before it):
 * 503 draining with Retry-After, then the connection is closed, so the client's retry opens a new
 * connection, which reaches another instance. Call in the handler's synchronous part.
 */
export function refuseDraining(res: HttpResponse, req: HttpRequest, headers: Readonly<Record<string, string>>): void {
  const err = draining();
  const payload = JSON.stringify(errorBody(err));
  const answer = () => {
    writeHead(res, 503, headers, err.headers);
    res.writeHeader('Content-Type', 'application/json').end(payload, true);
  };
  const length = req.getHeader('content-length');
  if ((length === '' || length === '0') && req.getHeader('transfer-encoding') === '') {
    answer();
    return;
  }
  // The body is read (and dropped) first: closing with unread bytes makes the kernel reset the connection,
  // and a reset can destroy the answer before the client reads it.
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, isLast) => {
    if (isLast && !aborted) res.cork(answer);
  });
}

/**
 * Reads the whole body, refusing with 413 as soon as it passes maxBytes (from Content-Length when the
 * client declares it, else while streaming), so an oversized body is never buffered.
 */
export function readBody(res: HttpResponse, state: ResponseState, declaredLength: string, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength === '' ? NaN : Number(declaredLength);
    if (declared > maxBytes) {
      reject(payloadTooLarge(`request body is larger than ${maxBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    // A client that leaves mid-body gets no more data: settle, so the request (and a drain waiting on it) ends.
    state.onAbort(() => reject(new AppError(400, 'aborted', 'the client went away before its body arrived')));
    res.onData((chunk, isLast) => {
      if (failed || state.aborted) return;
      size += chunk.byteLength;
      if (size > maxBytes) {
        failed = true;
        reject(payloadTooLarge(`request body is larger than ${maxBytes} bytes`));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
  });
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new AppError(400, 'invalid_json', 'request body must be a JSON document');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new AppError(400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function writeJson(
  res: HttpResponse,
  state: ResponseState,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>>,
): void {
  if (!state.open) return;
  state.done = true;
  const payload = status === 204 ? '' : JSON.stringify(body);
  const close = state.closeAfter;
  res.cork(() => {
    writeHead(res, status, headers, undefined);
    if (status !== 204) res.writeHeader('Content-Type', 'application/json');
    res.end(payload, close);
  });
}

/** Status line and headers; the caller then writes its Content-Type and body. */
export function writeHead(
  res: HttpResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> | undefined,
): void {
  res.writeStatus(statusLine(status));
  for (const key in headers) res.writeHeader(key, headers[key] as string);
  if (extra) for (const key in extra) res.writeHeader(key, extra[key] as string);
}

/** Writes a reply from inside the synchronous part of a uWS handler, where uWS has already corked the socket. */
export function writeNow(
  res: HttpResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> | undefined,
): void {
  writeHead(res, status, headers, extra);
  if (status === 204) res.endWithoutBody();
  else res.writeHeader('Content-Type', 'application/json').end(JSON.stringify(body));
}

export function errorBody(err: AppError): { error: { code: string; message: string } } {
  return { error: { code: err.code, message: err.message } };
}
