// The ceiling for bench/ws.ts: a bare uWebSockets.js pub/sub server. No auth, no sentiment, no envelope:
// a `subscribe` frame subscribes the socket to its channel's topic, a `chat` frame is published to that
// topic byte for byte. With BATCH_MS > 0 it coalesces each topic's frames for that long into one JSON array
// frame (the "batched" ceiling that ChatPulse's batched subscriptions are compared with).
// Run as a child process like ChatPulse; prints {"port":N} once listening.
import { nativeUws } from '../src/gateway/uws.js';
import { listenOnFreePort } from './lib/uws-listen.js';

// The same native binary ChatPulse runs on, so the ceiling is not the slow JS fallback.
const uws = nativeUws();
const batchMs = Number(process.env.BATCH_MS ?? '0');
const decoder = new TextDecoder();
const pending = new Map<string, string[]>();

interface Frame {
  type?: unknown;
  channel?: unknown;
}

function flush(topic: string): void {
  const frames = pending.get(topic);
  pending.delete(topic);
  // Concatenation, not JSON.stringify: the frames are JSON already.
  if (frames !== undefined && frames.length > 0) app.publish(topic, `[${frames.join(',')}]`, false);
}

const app = uws.App().ws<Record<string, never>>('/ws', {
  compression: uws.DISABLED,
  // 1 MiB instead of the 64 KiB default: a client generator that falls behind for a moment should delay
  // deliveries, not have uWS skip them, or the ceiling would look cheaper by doing less.
  maxBackpressure: 1 << 20,
  message: (ws, message) => {
    // JSON.parse only to learn the topic: one small parse per published message, none per delivery.
    let frame: Frame;
    try {
      frame = JSON.parse(decoder.decode(message)) as Frame;
    } catch {
      return;
    }
    if (typeof frame.channel !== 'string') return;
    if (frame.type === 'subscribe') {
      ws.subscribe(frame.channel);
      ws.send(JSON.stringify({ type: 'subscribed', channel: frame.channel }), false);
    } else if (frame.type === 'chat') {
      if (batchMs <= 0) {
        app.publish(frame.channel, message, false);
        return;
      }
      const frames = pending.get(frame.channel);
      if (frames !== undefined) frames.push(decoder.decode(message));
      else {
        pending.set(frame.channel, [decoder.decode(message)]);
        const topic = frame.channel;
        setTimeout(() => flush(topic), batchMs);
      }
    }
  },
});
listenOnFreePort(app, 'bare uWS (ws)');
