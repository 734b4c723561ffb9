// The client SDK as the end-to-end tests use it: clients (signed in or not) and live connections that
// record every frame, for assertions on what arrived.
import WebSocket from 'ws';
import {
  ChatPulseClient,
  type ClientOptions,
  type LiveConnection,
  type LiveOptions,
  type MessageFrame,
  type ServerFrame,
} from '../src/client/index.js';
import { auditServerFrame } from './frame-contract.js';

/** A client of the server at `url`; its live() connections use `ws` (Node 20 has no global WebSocket). */
export const clientOf = (url: string, options: Omit<ClientOptions, 'baseUrl'> = {}): ChatPulseClient =>
  new ChatPulseClient({ baseUrl: url, WebSocket, ...options });

/** A new account, signed in: the client holds its token pair. */
export async function signUp(url: string, username: string, password = 'password123'): Promise<ChatPulseClient> {
  const client = clientOf(url);
  await client.auth.register(username, password);
  await client.auth.login(username, password);
  return client;
}

/** What a refused call rejects with: `await expect(call).rejects.toMatchObject(refused(404, 'not_found'))`. */
export const refused = (status: number, code?: string) => ({ name: 'ChatPulseError', status, ...(code === undefined ? {} : { code }) });

/** Every frame a live connection received, in arrival order, and a way to wait for the ones a test expects. */
export class FrameLog {
  readonly frames: ServerFrame[] = [];

  constructor(readonly live: LiveConnection) {
    live.on('frame', (frame) => {
      auditServerFrame(frame);
      this.frames.push(frame);
    });
  }

  /** The `message` frames of a channel, in arrival order. */
  messages(channel: string): MessageFrame[] {
    return this.frames.filter((f): f is MessageFrame => f.type === 'message' && f.channel === channel);
  }

  /** Resolves with the first truthy value of `predicate`, checked now and after every frame. */
  until<T>(predicate: (frames: ServerFrame[]) => T | undefined | false, timeoutMs = 5000, what = 'frames'): Promise<T> {
    const now = predicate(this.frames);
    if (now !== undefined && now !== false) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      // Registered after the constructor's listener, so it sees each frame already logged.
      const off = this.live.on('frame', () => {
        const value = predicate(this.frames);
        if (value === undefined || value === false) return;
        clearTimeout(timer);
        off();
        resolve(value);
      });
    });
  }

  close(): void {
    this.live.close();
  }
}

/**
 * A live connection of `client` (signed in or anonymous) that logs what the server sends, as it sends it:
 * no dropping of repeated messages (a test of "each line once" must see a duplicate), no silent reconnect,
 * no heartbeat pings.
 */
export const watch = (client: ChatPulseClient, options: Omit<LiveOptions, 'url' | 'credentials'> = {}): FrameLog =>
  new FrameLog(client.live({ dedupe: 0, reconnect: false, heartbeat: false, ...options }));
