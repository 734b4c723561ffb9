// A bare HTTP/1.1 client on one TCP connection (node:net), for tests that must see what fetch and
// node:http hide: which connection a request went on, a half-sent body, the interim 100 Continue, the
// Connection header, and whether the server closed the connection cleanly (FIN) or reset it.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

export type CloseKind = 'end' | 'reset';

export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended: CloseKind | null = null;
  private readonly closedPromise: Promise<CloseKind>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => {
      let reset = false;
      socket.on('error', (err: NodeJS.ErrnoException) => {
        reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      });
      socket.on('close', () => {
        this.ended = reset ? 'reset' : 'end';
        this.wake();
        resolve(this.ended);
      });
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string): void {
    this.socket.write(data);
  }

  /** How the connection ended: a clean close by the server ('end') or a reset. */
  closed(): Promise<CloseKind> {
    return this.closedPromise;
  }

  /** Waits for the interim `100 Continue`: the server has read the request's head. */
  async continued(timeoutMs = 10_000): Promise<void> {
    const line = 'HTTP/1.1 100 Continue\r\n\r\n';
    await this.until(() => this.buffer.indexOf(line) === 0, timeoutMs);
    this.buffer = this.buffer.subarray(line.length);
  }

  /** The next full response (uWS always sends Content-Length); rejects if the connection ends first. */
  async response(timeoutMs = 20_000): Promise<RawResponse> {
    let parsed: { response: RawResponse; size: number } | null = null;
    await this.until(() => (parsed = parse(this.buffer)) !== null, timeoutMs);
    const { response, size } = parsed as unknown as { response: RawResponse; size: number };
    this.buffer = this.buffer.subarray(size);
    return response;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(ready: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.ended !== null)
        throw new Error(`connection closed (${this.ended}) before the response; had: ${JSON.stringify(this.buffer.toString())}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms; had: ${JSON.stringify(this.buffer.toString())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

function parse(buffer: Buffer): { response: RawResponse; size: number } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine = '', ...lines] = buffer.subarray(0, end).toString().split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? '0');
  if (buffer.length < end + 4 + length) return null;
  return {
    response: { status: Number(statusLine.split(' ')[1]), headers, body: buffer.subarray(end + 4, end + 4 + length).toString() },
    size: end + 4 + length,
  };
}

/** A request's text; `body` is sent with a Content-Length (and JSON type) when given. */
export function rawRequest(method: string, path: string, headers: Record<string, string> = {}, body?: string): string {
  const all: Record<string, string> = { host: '127.0.0.1', ...headers };
  if (body !== undefined) {
    all['content-type'] ??= 'application/json';
    all['content-length'] = String(Buffer.byteLength(body));
  }
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n${body ?? ''}`;
}

/**
 * One request on a connection of its own, bytes as given (fetch would normalize paths and headers), the
 * request asking `Connection: close`: whatever arrived before the server closed, parsed leniently (a HEAD
 * answer has no body; status 0 when nothing came). Written, never ended: uWS treats a client's half-close
 * as an aborted request and would not answer it.
 */
export function exchange(port: number, request: string | Buffer, timeoutMs = 20_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = text.slice(0, split < 0 ? text.length : split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: split < 0 ? '' : text.slice(split + 4) });
    });
    socket.write(request);
  });
}
