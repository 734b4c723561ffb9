// What the WebSocket fan-out bench (bench/ws.ts) and its subscriber processes (bench/ws-clients.ts) share:
// the servers under test, the texts publishers send, how a frame is turned into deliveries, the publish
// schedule that latency is measured against, and the IPC messages between the two processes.
// Kept free of heavy imports: every subscriber process loads it.

/**
 * How a server speaks: ChatPulse's protocol, the bare uWS baseline's subset of it, socket.io events, or the
 * Pusher protocol (soketi; bench/ws-pusher.ts).
 */
export type Wire = 'chatpulse' | 'bare' | 'socketio' | 'pusher';

export type ServerKind = 'uws' | 'uws-batched' | 'socketio' | 'socketio-batched' | 'chatpulse' | 'chatpulse-batched' | 'soketi';

export interface ServerSpec {
  kind: ServerKind;
  label: string;
  wire: Wire;
  /** ChatPulse: the subscriptions ask for batches. Baselines: the server coalesces per channel. */
  batched: boolean;
}

export const SERVERS: readonly ServerSpec[] = [
  { kind: 'uws', label: 'bare uWS', wire: 'bare', batched: false },
  { kind: 'uws-batched', label: 'bare uWS, 10 ms coalescing', wire: 'bare', batched: true },
  { kind: 'socketio', label: 'socket.io', wire: 'socketio', batched: false },
  { kind: 'socketio-batched', label: 'socket.io, 10 ms coalescing', wire: 'socketio', batched: true },
  { kind: 'chatpulse', label: 'ChatPulse', wire: 'chatpulse', batched: false },
  { kind: 'chatpulse-batched', label: 'ChatPulse, batched subscriptions', wire: 'chatpulse', batched: true },
  // A peer, installed apart (bench/peers/soketi): run by default only where it is installed.
  { kind: 'soketi', label: 'soketi (Pusher client events)', wire: 'pusher', batched: false },
];

/** How long the baseline servers' coalescing variants hold a channel's messages before one frame. */
export const BASELINE_COALESCE_MS = 10;

export const channelName = (c: number): string => `room:bench-${c}`;

// A handful of chat-like endings so texts are not all the same length; the model never sees them more than
// once per pool entry because the cache is warmed first.
const PHRASES = [
  'what a play',
  'gg wp',
  'no way that just happened',
  'LUL',
  'this stream is so good',
  'rip',
  'lets gooo',
  'that was rough',
];

/** Text `i` of publisher `p`'s fixed pool: the same texts cycle so ChatPulse serves sentiment from its cache. */
export const poolText = (p: number, i: number): string => `bench p${p} #${i} ${PHRASES[i % PHRASES.length]}`;

const POOL_TEXT = /^bench p(\d+) #(\d+) /;

/** [publisher, pool index] of a pool text, or null for anything else. */
export function parsePoolText(text: string): [number, number] | null {
  const m = POOL_TEXT.exec(text);
  return m === null ? null : [Number(m[1]), Number(m[2])];
}

/**
 * Publisher p sends its n-th message of a phase at t0[p] + n * intervalMs (monotonic ms), text
 * poolText(p, n % pool). Latency is measured from that scheduled time, not the actual send, so a
 * publisher that falls behind is charged for the wait rather than hiding it (no coordinated omission).
 */
export interface Schedule {
  t0: number[];
  intervalMs: number;
  pool: number;
}

/**
 * Milliseconds on CLOCK_MONOTONIC: one clock for every process on the machine, so a send time taken in the
 * bench process and a receive time taken in a subscriber process can be subtracted.
 */
export const monoMs = (): number => performance.now() + monoOffset;

// performance.now() reads the same monotonic clock, counted from this process's start; an offset taken
// once turns it into the machine-wide reading without allocating an hrtime tuple per frame. The offset is
// read between two hrtime readings, keeping the tightest of several tries: on a loaded machine the process
// can be descheduled between two readings for milliseconds, which would skew every latency it measures.
// (The first touch of the `performance` global loads perf_hooks, so that happens before any reading.)
const hrMs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};
const monoOffset = (() => {
  performance.now();
  let best = { gap: Infinity, offset: 0 };
  for (let attempt = 0; attempt < 50; attempt++) {
    const before = hrMs();
    const perf = performance.now();
    const after = hrMs();
    if (after - before < best.gap) best = { gap: after - before, offset: (before + after) / 2 - perf };
  }
  return best.offset;
})();

/** The substring that marks one delivered chat message in a raw frame, per wire (socket.io parses its own). */
export function deliveryMarker(wire: Wire): Buffer {
  return Buffer.from(wire === 'chatpulse' ? '"type":"message"' : wire === 'pusher' ? '"event":"client-chat"' : '"type":"chat"');
}
export const SUBSCRIBED_MARKER = Buffer.from('"type":"subscribed"');
export const ERROR_MARKER = Buffer.from('"type":"error"');

/** Occurrences of `marker` in `frame`: counting without JSON.parse keeps the client cheap at 10^5+ frames/s. */
export function countMarker(frame: Buffer, marker: Buffer): number {
  let count = 0;
  for (let at = frame.indexOf(marker); at !== -1; at = frame.indexOf(marker, at + marker.length)) count++;
  return count;
}

const textOf = (item: unknown): string | null => {
  const text = (item as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : null;
};

/**
 * The chat texts a parsed frame carries: ChatPulse `message` or `messages` (batched), the bare baseline's
 * forwarded `chat` frame or its coalesced array of them, a Pusher `client-chat` event's data. Anything else
 * (mood, presence, ...) carries none.
 */
export function chatTexts(frame: unknown): string[] {
  let items: unknown[];
  if (Array.isArray(frame)) items = frame;
  else if (typeof frame !== 'object' || frame === null) return [];
  else {
    const f = frame as { type?: unknown; items?: unknown; event?: unknown; data?: unknown };
    if (f.type === 'messages' && Array.isArray(f.items)) items = f.items;
    else if (f.type === 'message' || f.type === 'chat') items = [f];
    else if (f.event === 'client-chat') items = [f.data];
    else return [];
  }
  const texts: string[] = [];
  for (const item of items) {
    const t = textOf(item);
    if (t !== null) texts.push(t);
  }
  return texts;
}

/** One subscriber connection to open: its channel, whether it asks for batches, whether it measures latency. */
export interface SubPlan {
  channel: string;
  batch: boolean;
  track: boolean;
}

export type ToClient =
  | { cmd: 'connect'; wire: Wire; port: number; subs: SubPlan[]; wave: number; timeoutMs: number }
  /** Reset the counters for a new phase; deliveries up to windowEnd count as in-window. */
  | { cmd: 'phase'; schedule: Schedule; windowEnd: number; record: boolean }
  | { cmd: 'stats'; samples: boolean }
  | { cmd: 'close' };

export interface ClientStats {
  deliveries: number;
  inWindow: number;
  /** Subscriber sockets that closed after being held. */
  closed: number;
  errors: number;
  errorSamples: string[];
  /** Tracked frames where the cheap marker count disagreed with the parsed count. */
  mismatches: number;
  /** Tracked deliveries that could not be paired with a scheduled send. */
  unpaired: number;
  latencies?: number[];
}

export type FromClient =
  | { ev: 'connected'; held: number; failed: number; failures: string[] }
  | { ev: 'phase-ready'; perChannel: Record<string, number> }
  | ({ ev: 'stats' } & ClientStats);

/** Sums what the subscriber processes report (the first five error samples kept). */
export function mergeStats(all: readonly ClientStats[]): ClientStats {
  const merged: ClientStats = {
    deliveries: 0,
    inWindow: 0,
    closed: 0,
    errors: 0,
    errorSamples: [],
    mismatches: 0,
    unpaired: 0,
    latencies: [],
  };
  for (const s of all) {
    merged.deliveries += s.deliveries;
    merged.inWindow += s.inWindow;
    merged.closed += s.closed;
    merged.errors += s.errors;
    merged.mismatches += s.mismatches;
    merged.unpaired += s.unpaired;
    merged.errorSamples.push(...s.errorSamples.slice(0, 5 - merged.errorSamples.length));
    if (s.latencies !== undefined) for (const l of s.latencies) (merged.latencies as number[]).push(l);
  }
  return merged;
}

/** Share of the bare-uWS ceiling (same mode) ChatPulse should reach while classifying every message (issue 21). */
export const CEILING_SHARE = { chatpulse: 0.75, 'chatpulse-batched': 0.8 } as const;
/** ChatPulse's deliveries per CPU-s against soketi's, per-message subscriptions, at the same rate (issue 21). */
export const SOKETI_FACTOR = 1.4;
