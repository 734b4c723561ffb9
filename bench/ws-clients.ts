// A subscriber process for bench/ws.ts: opens its share of the subscriber connections in paced waves,
// counts deliveries and, on a sample of "tracked" connections, measures end-to-end latency. Driven over IPC
// (ToClient/FromClient in ws-protocol.ts). The bench forks one or more of these so that receiving 10^5+
// frames a second does not share an event loop with the publishers' send schedule.
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import {
  chatTexts,
  countMarker,
  deliveryMarker,
  ERROR_MARKER,
  monoMs,
  parsePoolText,
  SUBSCRIBED_MARKER,
  type ClientStats,
  type FromClient,
  type Schedule,
  type SubPlan,
  type ToClient,
  type Wire,
} from './ws-protocol.js';
import { isPusherError, PING_FRAME, pusherUrl, subscribeFrame, SUBSCRIBED_MARKER as PUSHER_SUBSCRIBED } from './ws-pusher.js';

/** Bounded memory however long the phase: beyond this many samples latency is no longer recorded. */
const MAX_SAMPLES = 1_000_000;
const MAX_FAILURE_SAMPLES = 5;
/** Pusher's activity_timeout: a connection this long without a frame pings, as pusher-js does. */
const PUSHER_ACTIVITY_MS = 30_000;

interface Sub {
  channel: string;
  /** Subscribed and not closed since. */
  alive: boolean;
  track: boolean;
  /** Per publisher, the sequence number of the last message paired (tracked subscribers only). */
  last: Map<number, number>;
  /** When the last frame arrived (monotonic ms; Pusher connections only, for their pings). */
  lastFrame: number;
  ping: (() => void) | null;
  close(): void;
}

const subs: Sub[] = [];
const tracked: Sub[] = [];
let schedule: Schedule | null = null;
let windowEnd = Infinity;
let record = false;
let stats: ClientStats = freshStats();
let closing = false;

function freshStats(): ClientStats {
  return { deliveries: 0, inWindow: 0, closed: 0, errors: 0, errorSamples: [], mismatches: 0, unpaired: 0, latencies: [] };
}

const send = (msg: FromClient): void => void process.send?.(msg);

function deliver(count: number, now: number): void {
  stats.deliveries += count;
  if (now <= windowEnd) stats.inWindow += count;
}

/**
 * Pairs each received text with the scheduled send it came from. Texts cycle through a pool, so text i of
 * publisher p is message n = i, i + pool, i + 2 pool, ...; one publisher's messages reach a subscriber in
 * order, so it is the first such n after the last one paired. Dropped messages skip ahead correctly; a
 * candidate scheduled after now cannot have been sent yet, so it is a late (reordered) one from a cycle back.
 */
function trackTexts(sub: Sub, texts: readonly string[], now: number): void {
  if (!record || schedule === null) return;
  const { t0, intervalMs, pool } = schedule;
  for (const text of texts) {
    const parsed = parsePoolText(text);
    const start = parsed === null ? undefined : t0[parsed[0]];
    if (parsed === null || start === undefined) {
      stats.unpaired++;
      continue;
    }
    const [p, i] = parsed;
    const next = (sub.last.get(p) ?? -1) + 1;
    let n = next + ((((i - next) % pool) + pool) % pool);
    let scheduled = start + n * intervalMs;
    if (scheduled > now) {
      n -= pool;
      scheduled -= pool * intervalMs;
      if (n < 0) {
        stats.unpaired++;
        continue;
      }
    } else {
      sub.last.set(p, n);
    }
    if ((stats.latencies as number[]).length < MAX_SAMPLES) (stats.latencies as number[]).push(now - scheduled);
  }
}

function recordError(frame: string): void {
  stats.errors++;
  if (stats.errorSamples.length < MAX_FAILURE_SAMPLES) stats.errorSamples.push(frame.slice(0, 300));
}

const asBuffer = (data: WebSocket.RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);

/**
 * The one-shot outcome of opening a subscriber: resolves once, true when subscribed; a failure (or the
 * timeout) records a sample reason and tears the connection down.
 */
function settler(
  resolve: (ok: boolean) => void,
  teardown: () => void,
  timeoutMs: number,
  failures: string[],
): (ok: boolean, reason?: string) => void {
  let settled = false;
  const settle = (ok: boolean, reason?: string) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (!ok) {
      if (reason !== undefined && failures.length < MAX_FAILURE_SAMPLES) failures.push(reason);
      teardown();
    }
    resolve(ok);
  };
  const timer = setTimeout(() => settle(false, `not subscribed within ${timeoutMs} ms`), timeoutMs);
  return settle;
}

/** A subscriber's state before it is held: not alive, nothing seen yet. */
function newSub(plan: SubPlan, ping: Sub['ping'], close: Sub['close']): Sub {
  return { channel: plan.channel, alive: false, track: plan.track, last: new Map(), lastFrame: 0, ping, close };
}

/**
 * A raw WebSocket subscriber (ChatPulse, the bare uWS baseline or soketi over the Pusher protocol). Resolves
 * true once subscribed.
 */
function openRaw(plan: SubPlan, url: string, wire: Wire, timeoutMs: number, failures: string[]): Promise<boolean> {
  const marker = deliveryMarker(wire);
  const pusher = wire === 'pusher';
  return new Promise((resolve) => {
    let held = false;
    // Untracked connections only count markers: UTF-8 validation of every frame would be client CPU spent
    // on nothing the bench reads.
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, skipUTF8Validation: !plan.track });
    const sub = newSub(plan, pusher ? () => ws.send(PING_FRAME) : null, () => ws.terminate());
    const settle = settler(resolve, () => ws.terminate(), timeoutMs, failures);
    // A Pusher client subscribes once the server has told it its socket id, which the channel auth signs.
    ws.on('open', () => {
      if (!pusher) ws.send(JSON.stringify({ type: 'subscribe', channel: plan.channel, batch: plan.batch }));
    });
    ws.on('error', (err) => settle(false, err.message));
    ws.on('close', (code) => {
      sub.alive = false;
      if (held && !closing) stats.closed++;
      settle(false, `closed with ${code} before subscribed`);
    });
    ws.on('message', (data) => {
      const frame = asBuffer(data);
      const now = monoMs();
      sub.lastFrame = now;
      const count = countMarker(frame, marker);
      if (count > 0) deliver(count, now);
      if (sub.track) {
        // Tracked connections parse every frame: their latency, and a check that the marker count is right.
        let texts: string[] = [];
        try {
          texts = chatTexts(JSON.parse(frame.toString('utf8')));
        } catch {
          // not JSON: no chat texts
        }
        if (texts.length !== count) stats.mismatches++;
        trackTexts(sub, texts, now);
      }
      if (count > 0) return;
      if (!held && frame.includes(pusher ? PUSHER_SUBSCRIBED : SUBSCRIBED_MARKER)) {
        held = true;
        sub.alive = true;
        subs.push(sub);
        if (sub.track) tracked.push(sub);
        settle(true);
      } else if (pusher ? isPusherError(frame) : frame.includes(ERROR_MARKER)) {
        recordError(frame.toString('utf8'));
        if (!held) settle(false, `error frame before subscribed: ${frame.toString('utf8').slice(0, 200)}`);
      } else if (pusher && !held) {
        const subscribe = subscribeFrame(frame.toString('utf8'), plan.channel);
        if (subscribe !== null) ws.send(subscribe);
      }
    });
  });
}

/** A socket.io subscriber: joins its channel's room with an acknowledged `subscribe` event. */
function openSocketIo(plan: SubPlan, port: number, timeoutMs: number, failures: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    let held = false;
    // forceNew: one connection each (io() would otherwise multiplex every client over one Manager);
    // websocket only, as the raw clients use, and no reconnection so a failure is counted, not retried.
    const socket: Socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
    });
    const sub = newSub(plan, null, () => socket.disconnect());
    const settle = settler(resolve, () => socket.disconnect(), timeoutMs, failures);
    const onItems = (items: unknown[]) => {
      const now = monoMs();
      deliver(items.length, now);
      if (sub.track) trackTexts(sub, chatTexts(items), now);
    };
    socket.on('connect', () => {
      socket.emit('subscribe', plan.channel, () => {
        held = true;
        sub.alive = true;
        subs.push(sub);
        if (sub.track) tracked.push(sub);
        settle(true);
      });
    });
    socket.on('connect_error', (err: Error) => settle(false, err.message));
    socket.on('disconnect', (reason: string) => {
      sub.alive = false;
      if (held && !closing) stats.closed++;
      settle(false, `disconnected (${reason}) before subscribed`);
    });
    socket.on('chat', (item: unknown) => onItems([item]));
    socket.on('chats', (items: unknown) => onItems(Array.isArray(items) ? items : []));
  });
}

async function connectAll(msg: Extract<ToClient, { cmd: 'connect' }>): Promise<void> {
  const failures: string[] = [];
  let held = 0;
  let failed = 0;
  const url = msg.wire === 'pusher' ? pusherUrl(msg.port) : `ws://127.0.0.1:${msg.port}/ws`;
  // Paced waves: a wave finishes (each connection subscribed, failed or timed out) before the next opens,
  // so the server's accept backlog never sees more than `wave` handshakes at once.
  for (let at = 0; at < msg.subs.length; at += msg.wave) {
    const wave = msg.subs.slice(at, at + msg.wave);
    const results = await Promise.all(
      wave.map((plan) =>
        msg.wire === 'socketio'
          ? openSocketIo(plan, msg.port, msg.timeoutMs, failures)
          : openRaw(plan, url, msg.wire, msg.timeoutMs, failures),
      ),
    );
    for (const ok of results) {
      if (ok) held++;
      else failed++;
    }
  }
  send({ ev: 'connected', held, failed, failures });
}

// soketi ends a connection that has seen no traffic for 120 s; a long connect phase (10^4 subscribers in
// waves) can leave the first ones that idle before any message flows.
setInterval(() => {
  const now = monoMs();
  for (const sub of subs) if (sub.ping !== null && sub.alive && now - sub.lastFrame > PUSHER_ACTIVITY_MS) sub.ping();
}, PUSHER_ACTIVITY_MS / 3).unref();

process.on('message', (raw) => {
  const msg = raw as ToClient;
  switch (msg.cmd) {
    case 'connect':
      void connectAll(msg);
      break;
    case 'phase': {
      stats = freshStats();
      schedule = msg.schedule;
      windowEnd = msg.windowEnd;
      record = msg.record;
      for (const sub of tracked) sub.last.clear();
      // What each channel holds now: the phase's expected deliveries, after any closes since connecting.
      const perChannel: Record<string, number> = {};
      for (const sub of subs) if (sub.alive) perChannel[sub.channel] = (perChannel[sub.channel] ?? 0) + 1;
      send({ ev: 'phase-ready', perChannel });
      break;
    }
    case 'stats': {
      const { latencies, ...counters } = stats;
      send({ ev: 'stats', ...counters, ...(msg.samples ? { latencies } : {}) });
      break;
    }
    case 'close':
      closing = true;
      for (const sub of subs) sub.close();
      // The kernel closes whatever is left; exiting promptly keeps the next server's run clean.
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
// The bench went away: never outlive it with thousands of open sockets.
process.on('disconnect', () => process.exit(0));
