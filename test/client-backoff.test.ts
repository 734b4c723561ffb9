// The SDK's default reconnect backoff: jittered, capped at a few seconds (a restarted host is back within
// seconds, and every second spent waiting is publications missed), and back to the first delay once a socket
// opens. A scripted WebSocket and fake timers: many attempts in no time.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveConnection, type WebSocketLike } from '../src/client/index.js';

/** Every socket fails before it opens, unless `opens` says this attempt should succeed. */
class ScriptedSocket implements WebSocketLike {
  static opens: (attempt: number) => boolean = () => false;
  static made = 0;
  readyState = 0;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;

  constructor() {
    const attempt = ++ScriptedSocket.made;
    queueMicrotask(() => {
      if (ScriptedSocket.opens(attempt)) {
        this.readyState = 1;
        this.onopen?.({});
        // Then the host goes away again.
        queueMicrotask(() => {
          this.readyState = 3;
          this.onclose?.({ code: 1001, reason: 'going away' });
        });
      } else {
        this.readyState = 3;
        this.onclose?.({ code: 1006, reason: '' });
      }
    });
  }

  send(): void {}
  close(): void {
    this.readyState = 3;
  }
}

afterEach(() => {
  vi.useRealTimers();
  ScriptedSocket.made = 0;
  ScriptedSocket.opens = () => false;
});

async function delays(count: number): Promise<number[]> {
  vi.useFakeTimers();
  const live = new LiveConnection({ url: 'http://127.0.0.1:9', WebSocket: ScriptedSocket, heartbeat: false, connectTimeoutMs: false });
  const seen: number[] = [];
  live.on('reconnecting', (e) => seen.push(e.delayMs));
  while (seen.length < count) {
    await vi.advanceTimersByTimeAsync(1000);
  }
  live.close();
  return seen;
}

describe('SDK reconnect backoff (defaults)', () => {
  it('grows from 500 ms, never waits more than 5 s, and stays jittered at the cap', async () => {
    const seen = await delays(12);
    expect(Math.max(...seen)).toBeLessThanOrEqual(5000);
    expect(seen[0]).toBeLessThanOrEqual(500);
    expect(seen[0]).toBeGreaterThanOrEqual(250); // jitter takes at most half
    const capped = seen.slice(5);
    for (const d of capped) expect(d).toBeGreaterThanOrEqual(2500);
    expect(new Set(capped).size).toBeGreaterThan(1);
  });

  it('starts again from the first delay once a socket opens', async () => {
    ScriptedSocket.opens = (attempt) => attempt === 6;
    const seen = await delays(8);
    // Attempts 1-5 failed (growing to the cap), the 6th opened and then dropped: the next wait is a first one again.
    expect(seen[4]).toBeGreaterThanOrEqual(2500);
    expect(seen[5]).toBeLessThanOrEqual(500);
    expect(seen[6]).toBeLessThanOrEqual(1000);
  });
});
