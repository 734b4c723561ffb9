// The Pusher protocol (version 7) as bench/ws.ts speaks it to soketi: one app, private channels signed
// with the app secret the way an auth endpoint would, and chat messages as client events (`client-chat`),
// which a Pusher server relays to the channel's other members as they are. Loaded by the subscriber
// processes too, so kept to node:crypto.
import { createHmac } from 'node:crypto';

/** The one app the bench's soketi serves (bench/ws-soketi.ts writes it into the config). */
export const PUSHER_APP = { id: 'chatpulse-bench', key: 'chatpulse-bench-key', secret: 'chatpulse-bench-secret' } as const;

export const CLIENT_EVENT = 'client-chat';

export const pusherUrl = (port: number): string =>
  `ws://127.0.0.1:${port}/app/${PUSHER_APP.key}?protocol=7&client=chatpulse-bench&version=1`;

/** `room:bench-3` -> `private-room-bench-3`: Pusher channel names allow no colon, and client events need a private channel. */
export const pusherChannel = (channel: string): string => `private-${channel.replace(/[^-\w=@,.;]/g, '-')}`;

/** The reply to a successful pusher:subscribe (the subscriber processes match it as a Buffer). */
export const SUBSCRIBED_EVENT = '"event":"pusher_internal:subscription_succeeded"';
export const SUBSCRIBED_MARKER = Buffer.from(SUBSCRIBED_EVENT);
const ERROR_EVENTS = ['"event":"pusher:error"', '"event":"pusher:subscription_error"'];

/** A pusher:error or pusher:subscription_error frame. */
export const isPusherError = (frame: Buffer | string): boolean => ERROR_EVENTS.some((e) => frame.includes(e));

/**
 * The `pusher:subscribe` frame for `channel`, built from the `pusher:connection_established` frame that
 * carries the socket id (its `data` is a JSON string); null if `frame` is not that. The auth is what a
 * private channel's auth endpoint returns: key:HMAC-SHA256(secret, "<socket_id>:<channel>") in hex.
 */
export function subscribeFrame(frame: string, channel: string): string | null {
  let socketId: unknown;
  try {
    const f = JSON.parse(frame) as { event?: unknown; data?: unknown };
    if (f.event !== 'pusher:connection_established' || typeof f.data !== 'string') return null;
    socketId = (JSON.parse(f.data) as { socket_id?: unknown }).socket_id;
  } catch {
    return null;
  }
  if (typeof socketId !== 'string') return null;
  const name = pusherChannel(channel);
  const signature = createHmac('sha256', PUSHER_APP.secret).update(`${socketId}:${name}`).digest('hex');
  return JSON.stringify({ event: 'pusher:subscribe', data: { channel: name, auth: `${PUSHER_APP.key}:${signature}` } });
}

/** A chat message as a client event: the text is what the latency sampler pairs (poolText, ws-protocol.ts). */
export const chatEvent = (channel: string, text: string): string =>
  JSON.stringify({ event: CLIENT_EVENT, channel: pusherChannel(channel), data: { text } });

/** What pusher-js sends after activity_timeout (30 s) without traffic, so the server does not drop the connection. */
export const PING_FRAME = JSON.stringify({ event: 'pusher:ping', data: {} });
