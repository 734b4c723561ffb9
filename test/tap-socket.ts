// `ws` as the SDK's WebSocket, with handles for recovery tests: every socket a LiveConnection opened, a way to
// cut one the way a dead network or a crashed host does (terminate: no closing handshake), and a filter on
// the frames handed to the SDK (to lose an `ack` on the way, say), and a switch that keeps it from
// reconnecting (to publish while it is away).
import WebSocket from 'ws';
import type { ServerFrame, WebSocketConstructor, WebSocketLike } from '../src/client/index.js';

export interface Tap {
  /** Pass as the `WebSocket` option (of `live()` or `new LiveConnection`). */
  readonly WebSocket: WebSocketConstructor;
  /** Every socket made, oldest first. */
  readonly sockets: TappedSocket[];
  /** Frames for which it returns true are dropped before the SDK sees them (every socket, from now on). */
  drop: ((frame: ServerFrame) => boolean) | null;
  /** While true, new sockets fail to connect (a refused port), as with the network down. */
  offline: boolean;
  /** Cuts the newest socket without a closing handshake; the SDK sees a 1006 close and reconnects. */
  cut(): void;
}

export interface TappedSocket extends WebSocketLike {
  readonly ws: WebSocket;
}

export function tap(): Tap {
  const sockets: TappedSocket[] = [];
  const t: Tap = {
    sockets,
    drop: null,
    offline: false,
    cut: () => sockets.at(-1)?.ws.terminate(),
    WebSocket: class implements TappedSocket {
      readonly ws: WebSocket;
      onopen: ((event: unknown) => void) | null = null;
      onmessage: ((event: { data: unknown }) => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      onerror: ((event: unknown) => void) | null = null;

      constructor(url: string) {
        this.ws = new WebSocket(t.offline ? 'ws://127.0.0.1:1/ws' : url);
        sockets.push(this);
        this.ws.onopen = (e) => this.onopen?.(e);
        this.ws.onmessage = (e) => {
          const text = typeof e.data === 'string' ? e.data : Buffer.from(e.data as Buffer).toString('utf8');
          if (t.drop?.(JSON.parse(text) as ServerFrame) === true) return;
          this.onmessage?.({ data: text });
        };
        this.ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
        this.ws.onerror = (e) => this.onerror?.(e);
      }

      get readyState(): number {
        return this.ws.readyState;
      }

      send(data: string): void {
        this.ws.send(data);
      }

      close(code?: number, reason?: string): void {
        this.ws.close(code, reason);
      }

      terminate(): void {
        this.ws.terminate();
      }
    },
  };
  return t;
}
