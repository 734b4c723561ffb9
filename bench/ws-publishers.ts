// The publishing side of the WebSocket fan-out client generator (bench:ws, bench:cluster): a few publisher
// connections in the bench process, ChatPulse's cache warm-up, and the open-loop send schedule that latency
// is measured against.
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { sleep } from './lib/phases.js';
import { ServerUnavailable } from './lib/processes.js';
import { channelName, chatTexts, monoMs, poolText, type Schedule, type Wire } from './ws-protocol.js';
import { chatEvent, isPusherError, pusherUrl, subscribeFrame, SUBSCRIBED_EVENT } from './ws-pusher.js';

export interface Publisher {
  readonly index: number;
  readonly channel: string;
  send(text: string): void;
  close(): void;
  /** Called with every chat text this connection receives (its own come back: it is subscribed too). */
  onText: ((text: string) => void) | null;
  /** Error frames received since connecting (a refused post is told to its sender only), a few kept. */
  errors: number;
  errorSamples: string[];
}

/** A frame's text: ws hands a message over as one Buffer (its default binaryType), the other shapes converted alike. */
const frameText = (data: WebSocket.RawData): string =>
  (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');

/** A publisher that could not connect or subscribe: the server is unavailable for the run. */
export class ConnectError extends ServerUnavailable {
  override name = 'ConnectError';
}

/**
 * A publisher on ChatPulse, the bare baseline or soketi. It subscribes to its own channel as well, on every
 * server alike: ChatPulse may require it to post (and a Pusher client event is only relayed from a member of
 * the channel), and its own messages coming back confirm the cache warm-up (a Pusher server does not echo
 * client events to their sender, and soketi has no cache to warm).
 */
function rawPublisher(index: number, channel: string, url: string, wire: Wire, timeoutMs: number): Promise<Publisher> {
  const pusher = wire === 'pusher';
  const subscribedMarker = pusher ? SUBSCRIBED_EVENT : '"type":"subscribed"';
  const isError = (frame: string) => (pusher ? isPusherError(frame) : frame.includes('"type":"error"'));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const pub: Publisher = {
      index,
      channel,
      send: (text) => ws.send(pusher ? chatEvent(channel, text) : JSON.stringify({ type: 'chat', channel, text })),
      close: () => ws.terminate(),
      onText: null,
      errors: 0,
      errorSamples: [],
    };
    let subscribed = false;
    const fail = (reason: string) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new ConnectError(reason));
    };
    const timer = setTimeout(() => fail(`publisher ${index}: not subscribed within ${timeoutMs} ms`), timeoutMs);
    // A Pusher client subscribes once it knows its socket id (subscribeFrame below).
    ws.on('open', () => {
      if (!pusher) ws.send(JSON.stringify({ type: 'subscribe', channel, batch: false }));
    });
    ws.on('error', (err) => {
      if (!subscribed) fail(`publisher ${index}: ${err.message}`);
    });
    ws.on('close', (code) => {
      if (!subscribed) fail(`publisher ${index}: closed with ${code} before subscribed`);
    });
    ws.on('message', (data) => {
      const frame = frameText(data);
      if (!subscribed) {
        if (frame.includes(subscribedMarker)) {
          subscribed = true;
          clearTimeout(timer);
          resolve(pub);
        } else if (isError(frame)) fail(`publisher ${index}: ${frame.slice(0, 300)}`);
        else if (pusher) {
          const subscribe = subscribeFrame(frame, channel);
          if (subscribe !== null) ws.send(subscribe);
        }
        return;
      }
      if (isError(frame)) {
        if (pub.errors++ < 5) pub.errorSamples.push(frame.slice(0, 300));
        return;
      }
      // Parsed only while someone listens (the warm-up): during a measured phase this process stays light.
      if (pub.onText === null) return;
      try {
        for (const text of chatTexts(JSON.parse(frame))) pub.onText(text);
      } catch {
        // not JSON: nothing to confirm
      }
    });
  });
}

function socketIoPublisher(index: number, channel: string, port: number, timeoutMs: number): Promise<Publisher> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
    });
    const pub: Publisher = {
      index,
      channel,
      send: (text) => void socket.emit('chat', { channel, text }),
      close: () => void socket.disconnect(),
      onText: null,
      errors: 0,
      errorSamples: [],
    };
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new ConnectError(`publisher ${index}: not subscribed within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () =>
      socket.emit('subscribe', channel, () => {
        clearTimeout(timer);
        resolve(pub);
      }),
    );
    socket.on('connect_error', (err: Error) => {
      clearTimeout(timer);
      reject(new ConnectError(`publisher ${index}: ${err.message}`));
    });
    const onItems = (items: unknown[]) => {
      if (pub.onText !== null) for (const text of chatTexts(items)) pub.onText(text);
    };
    socket.on('chat', (item: unknown) => onItems([item]));
    socket.on('chats', (items: unknown) => onItems(Array.isArray(items) ? items : []));
  });
}

function connectPublisher(
  wire: Wire,
  port: number,
  index: number,
  channel: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<Publisher> {
  if (wire === 'socketio') return socketIoPublisher(index, channel, port, timeoutMs);
  if (wire === 'pusher') return rawPublisher(index, channel, pusherUrl(port), wire, timeoutMs);
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  return rawPublisher(index, channel, `ws://127.0.0.1:${port}/ws${query}`, wire, timeoutMs);
}

/**
 * `count` publishers on `port`, publisher p on channel p mod `channels`, each pushed onto `pubs` once
 * connected (so after a failure the caller still closes the ones before it).
 */
export async function connectPublishers(
  pubs: Publisher[],
  wire: Wire,
  port: number,
  count: number,
  channels: number,
  tokenOf: (p: number) => Promise<string | undefined>,
  timeoutMs: number,
): Promise<void> {
  for (let p = 0; p < count; p++) pubs.push(await connectPublisher(wire, port, p, channelName(p % channels), await tokenOf(p), timeoutMs));
}

export interface WarmResult {
  /** Pool texts that came back to their publisher, i.e. went through the model and into the cache. */
  confirmed: number;
  total: number;
  seconds: number;
}

/** The warm-up gives up when no text has come back for this long (refused or lost, not slow). */
const WARM_STALL_MS = 10_000;

/**
 * Sends every pool text once per publisher and waits for each to come back, at most `window` outstanding
 * per publisher so the inference queue is never flooded. Done before any subscriber connects, so the
 * warm-up costs one delivery per text, and its memory is in the "before" RSS, not charged to connections.
 */
export async function warmCache(pubs: readonly Publisher[], pool: number, timeoutMs: number, window = 64): Promise<WarmResult> {
  const started = monoMs();
  const deadline = started + timeoutMs;
  let progressAt = started;
  let seenTotal = 0;
  const seen = pubs.map(() => new Set<string>());
  const sent = pubs.map(() => 0);
  pubs.forEach((pub, p) => {
    pub.onText = (text) => void seen[p]?.add(text);
  });
  try {
    while (monoMs() < deadline) {
      let done = true;
      for (const [p, pub] of pubs.entries()) {
        const got = (seen[p] as Set<string>).size;
        if (got < pool) done = false;
        for (let s = sent[p] as number; s < pool && s - got < window; s++) {
          pub.send(poolText(pub.index, s));
          sent[p] = s + 1;
        }
      }
      if (done) break;
      const total = seen.reduce((sum, set) => sum + set.size, 0);
      if (total !== seenTotal) {
        seenTotal = total;
        progressAt = monoMs();
      } else if (monoMs() - progressAt > WARM_STALL_MS) break;
      await sleep(5);
    }
  } finally {
    for (const pub of pubs) pub.onText = null;
  }
  // Only pool texts count: another publisher's traffic on the same channel is seen too.
  const confirmed = pubs.reduce((sum, pub, p) => {
    let own = 0;
    for (let i = 0; i < pool; i++) if ((seen[p] as Set<string>).has(poolText(pub.index, i))) own++;
    return sum + own;
  }, 0);
  return { confirmed, total: pool * pubs.length, seconds: (monoMs() - started) / 1000 };
}

export interface PublishResult {
  sent: number[];
  /** How far behind its schedule the send loop ever got (ms): large values mean the bench process lagged. */
  maxLagMs: number;
}

/**
 * Open loop: each publisher sends `perPublisher` messages on `schedule`, catching up at once if the loop
 * fell behind. Bounded by count and by `deadline` (monotonic ms): whatever is not sent by then is not sent.
 */
export async function publish(
  pubs: readonly Publisher[],
  schedule: Schedule,
  perPublisher: number,
  deadline: number,
): Promise<PublishResult> {
  const sent = pubs.map(() => 0);
  let maxLagMs = 0;
  for (;;) {
    const now = monoMs();
    if (now > deadline) break;
    let remaining = false;
    for (const [p, pub] of pubs.entries()) {
      const start = schedule.t0[p] as number;
      const due = Math.min(perPublisher, Math.floor((now - start) / schedule.intervalMs) + 1);
      for (let n = sent[p] as number; n < due; n++) {
        maxLagMs = Math.max(maxLagMs, now - (start + n * schedule.intervalMs));
        pub.send(poolText(pub.index, n % schedule.pool));
      }
      if (due > (sent[p] as number)) sent[p] = due;
      if ((sent[p] as number) < perPublisher) remaining = true;
    }
    if (!remaining) break;
    await sleep(1);
  }
  return { sent, maxLagMs };
}
