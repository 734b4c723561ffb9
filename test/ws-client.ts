// A real WebSocket client for tests: records every frame (each checked against the contract: frame-contract.ts)
// and waits for the ones a test expects.
import WebSocket from 'ws';
import { auditServerFrame } from './frame-contract.js';
import { call } from './helpers.js';

export interface Frame {
  type: string;
  [key: string]: unknown;
}

/** A frame's text: ws hands a message over as one Buffer (its default binaryType), the other shapes converted alike. */
const frameText = (data: WebSocket.RawData): string =>
  (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');

export class WsClient {
  readonly frames: Frame[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(frameText(data)) as Frame;
      auditServerFrame(frame);
      this.frames.push(frame);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
  }

  /** Opens `/ws` with `query` (e.g. `token=...`); rejects with the HTTP status (headers, body) when the upgrade is refused. */
  static open(baseUrl: string, query = '', headers: Record<string, string> = {}): Promise<WsClient> {
    const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws${query === '' ? '' : `?${query}`}`, { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new WsClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, res.headers, body)));
        res.on('error', () => reject(new UpgradeRefused(res.statusCode ?? 0, res.headers, body)));
      });
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Frames of a type (optionally for a channel), in arrival order. */
  of(type: string, channel?: string): Frame[] {
    return this.frames.filter((f) => f.type === type && (channel === undefined || f.channel === channel));
  }

  /** Resolves once `predicate` holds over the frames received so far. */
  async until<T>(predicate: (frames: Frame[]) => T | undefined | false, timeoutMs = 5000, what = 'frames'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate(this.frames);
      if (value !== undefined && value !== false) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame of `type` after the first `skip` of them. */
  nth(type: string, n: number, timeoutMs = 5000, channel?: string): Promise<Frame> {
    return this.until(
      (fs) => fs.filter((f) => f.type === type && (channel === undefined || f.channel === channel))[n],
      timeoutMs,
      `${type} #${n + 1}`,
    );
  }

  async subscribe(channel: string, batch = false, since?: { offset: number; epoch: string }): Promise<Frame> {
    const before = this.of('subscribed', channel).length;
    this.send({ type: 'subscribe', channel, batch, since });
    return this.until(
      (fs) =>
        fs.filter((f) => f.type === 'subscribed' && f.channel === channel)[before] ??
        fs.find((f) => f.type === 'error' && f.channel === channel),
      5000,
      `subscribed ${channel}`,
    );
  }

  closed(timeoutMs = 5000): Promise<number> {
    return this.until(() => this.closeCode ?? undefined, timeoutMs, 'close');
  }

  close(): void {
    this.socket.close();
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined> = {},
    readonly body = '',
  ) {
    super(`upgrade refused with ${status}`);
  }
}

export interface Account {
  id: string;
  name: string;
  token: string;
}

export async function account(url: string, username: string, password = 'password123'): Promise<Account> {
  const reg = await call(url, 'POST', '/api/v1/auth/register', { body: { username, password } });
  const login = await call(url, 'POST', '/api/v1/auth/login', { body: { username, password } });
  const token = (login.body as { access_token: string }).access_token;
  const id =
    reg.status === 201
      ? (reg.body as { id: string }).id
      : ((await call(url, 'GET', '/api/v1/auth/me', { token })).body as { id: string }).id;
  return { id, name: username, token };
}
