// A subscriber process for bench:cluster's rolling-restart part: its share of the SDK subscribers
// (LiveConnection, as an application would use it), each on one channel, each counting what the SDK hands
// it: offsets received, out of order, repeated, and the latency of a sample. Driven over IPC
// (RollingToClient / RollingFromClient below); the bench forks one or more of these.
import WebSocket from 'ws';
import { LiveConnection } from '../src/client/index.js';

export type RollingToClient =
  { cmd: 'start'; urls: string[]; channels: string[]; count: number; first: number } | { cmd: 'report' } | { cmd: 'close' };

/** One subscriber's account of its channel. */
export interface SubscriberTally {
  channel: string;
  /** The channel's offset when this subscriber was first attached: every later message is owed to it. */
  startOffset: number;
  /** Offsets received (distinct), and every receipt beyond the first of an offset. */
  distinct: number;
  repeated: number;
  /** Receipts whose offset was not the previous one + 1 (a gap, or a step back). */
  outOfOrder: number;
  lastOffset: number;
  recovered: number;
  gaps: number;
  reconnects: number;
}

export type RollingFromClient =
  | { ev: 'ready'; subscribed: number; failed: number }
  | {
      ev: 'report';
      tallies: SubscriberTally[];
      /** Sampled deliveries: the server's publish time and the latency to this process, in ms. */
      publishTs: number[];
      latencyMs: number[];
    }
  | { ev: 'closed' };

/** Every SAMPLE_EVERY-th delivery of each subscriber is timed (bounded memory, still thousands of samples). */
const SAMPLE_EVERY = 10;
const MAX_SAMPLES = 2_000_000;

interface Sub {
  live: LiveConnection;
  tally: SubscriberTally;
  /** Offsets seen, one bit each: a repeat is told from a first receipt whatever the order. */
  seen: Uint8Array;
  n: number;
}

const subs: Sub[] = [];
const publishTs: number[] = [];
const latencyMs: number[] = [];

const send = (m: RollingFromClient) => process.send?.(m);

function markSeen(sub: Sub, offset: number): boolean {
  const byte = offset >> 3;
  if (byte >= sub.seen.length) {
    const grown = new Uint8Array(Math.max(byte + 1, sub.seen.length * 2));
    grown.set(sub.seen);
    sub.seen = grown;
  }
  const bit = 1 << (offset & 7);
  const had = ((sub.seen[byte] as number) & bit) !== 0;
  sub.seen[byte] = (sub.seen[byte] as number) | bit;
  return !had;
}

function receive(sub: Sub, offset: number, ts: number): void {
  const t = sub.tally;
  // A first subscribe is welcomed with the channel's recent messages (offsets up to its `subscribed` offset):
  // they were not published while this subscriber was there, so they are neither owed nor out of order.
  if (offset <= t.startOffset) return;
  if (markSeen(sub, offset)) t.distinct++;
  else t.repeated++;
  if (t.lastOffset !== 0 && offset !== t.lastOffset + 1) t.outOfOrder++;
  t.lastOffset = offset;
  if (++sub.n % SAMPLE_EVERY === 0 && latencyMs.length < MAX_SAMPLES) {
    publishTs.push(ts);
    latencyMs.push(Date.now() - ts);
  }
}

async function start(urls: string[], channels: string[], count: number, first: number): Promise<void> {
  let failed = 0;
  const opened = Array.from({ length: count }, async (_, k) => {
    const i = first + k;
    const channel = channels[i % channels.length] as string;
    const live = new LiveConnection({ url: urls[i % urls.length] as string, WebSocket, heartbeat: { intervalMs: 5000, timeoutMs: 5000 } });
    const tally: SubscriberTally = {
      channel,
      startOffset: -1,
      distinct: 0,
      repeated: 0,
      outOfOrder: 0,
      lastOffset: 0,
      recovered: 0,
      gaps: 0,
      reconnects: 0,
    };
    const sub: Sub = { live, tally, seen: new Uint8Array(1024), n: 0 };
    subs.push(sub);
    live.on('subscribed', (f) => {
      if (tally.startOffset < 0) {
        tally.startOffset = f.offset;
        tally.lastOffset = f.offset;
      }
    });
    live.on('message', (f) => receive(sub, f.offset, f.ts));
    live.on('messages', (f) => {
      for (const item of f.items) receive(sub, item.offset, item.ts);
    });
    live.on('recovered', () => {
      tally.recovered++;
    });
    live.on('gap', () => {
      tally.gaps++;
    });
    live.on('open', (e) => {
      if (e.reconnected) tally.reconnects++;
    });
    try {
      await live.subscribe(channel);
    } catch {
      failed++;
    }
  });
  await Promise.all(opened);
  send({ ev: 'ready', subscribed: count - failed, failed });
}

process.on('message', (m: RollingToClient) => {
  switch (m.cmd) {
    case 'start':
      void start(m.urls, m.channels, m.count, m.first);
      return;
    case 'report':
      send({ ev: 'report', tallies: subs.map((s) => s.tally), publishTs, latencyMs });
      return;
    case 'close':
      for (const s of subs) s.live.close();
      send({ ev: 'closed' });
      setTimeout(() => process.exit(0), 200);
      return;
  }
});
