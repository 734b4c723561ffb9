// ChannelHub with fakes of its narrow dependencies (no server, no model): per-channel publish order whatever
// order classification finishes in, how a bus event becomes frames on the local topics, and the ticks.
// The memory drivers stand in for the ports they implement; the engine, fanout and rooms are fakes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../src/auth/index.js';
import { MemoryChannelBus, messageEvent, type BusEvent, type ChannelBus, type PlainEvent } from '../src/channels/bus.js';
import type { AppendRef, HistoryOptions, NewMessage } from '../src/channels/history.js';
import { ChannelHub, topicOf, type Fanout, type HubDeps, type HubOptions, type Since, type Welcome } from '../src/channels/hub.js';
import { MemoryLikeStore } from '../src/channels/likes.js';
import type { Moment } from '../src/channels/moments.js';
import { MemoryPresenceStore } from '../src/channels/presence.js';
import type { RoomRecord } from '../src/channels/rooms.js';
import { MemoryRateLimiter } from '../src/limits/rate-limiter.js';
import type { SentimentResult } from '../src/sentiment/engine.js';
import type { ModelInfo } from '../src/sentiment/model.js';
import type { StoredMessage } from '../src/vocabulary.js';
import { chatLine } from './chat-line.js';

const LABELS = ['negative', 'neutral', 'positive'] as const;
const POSITIVE: SentimentResult = { label: 'positive', score: 0.9, scores: { negative: 0.05, neutral: 0.05, positive: 0.9 } };
const NEGATIVE: SentimentResult = { label: 'negative', score: 0.8, scores: { negative: 0.8, neutral: 0.1, positive: 0.1 } };

interface Classification {
  text: string;
  resolve(result: SentimentResult): void;
  reject(err: Error): void;
}

type Engine = HubDeps['engine'];

/** An engine whose classifications the test settles, in any order. */
class FakeEngine implements Engine {
  readonly info: ModelInfo = {
    name: 'fake',
    dir: '/nowhere',
    labels: LABELS,
    maxLength: 64,
    onnxFile: 'model.onnx',
    quantized: false,
    modelType: null,
    featurizer: null,
    chat: null,
  };
  readonly calls: Classification[] = [];

  classify(text: string): Promise<SentimentResult> {
    return new Promise((resolve, reject) => this.calls.push({ text, resolve, reject }));
  }

  call(text: string): Classification {
    const c = this.calls.find((x) => x.text === text);
    if (!c) throw new Error(`"${text}" was never classified`);
    return c;
  }
}

/** This process's sockets: what was published where, and how many watch each topic (set by the test). */
class FakeFanout implements Fanout {
  readonly published: Array<{ topic: string; frame: string }> = [];
  readonly watchers = new Map<string, number>();

  publish(topic: string, frame: string): void {
    this.published.push({ topic, frame });
  }

  subscribers(topic: string): number {
    return this.watchers.get(topic) ?? 0;
  }

  /** Parsed frames published on `topic`, optionally of one type. */
  frames(topic: string, type?: string): Array<Record<string, unknown>> {
    return this.published
      .filter((p) => p.topic === topic)
      .map((p) => JSON.parse(p.frame) as Record<string, unknown>)
      .filter((f) => type === undefined || f.type === type);
  }
}

const room = (id: string): RoomRecord => ({
  id,
  title: id,
  ownerId: 'owner',
  moderators: [],
  opensAt: null,
  closesAt: null,
  closedAt: null,
  createdAt: 0,
  timeouts: {},
});

const OPTIONS: HubOptions = {
  replaySize: 10,
  historyRead: 100,
  moodWindowS: 10,
  moodLongWindowS: 60,
  moodTickMs: 1_000,
  batchTickMs: 50,
  controlTickMs: 200,
  presenceRefreshMs: 0,
};

const alice: Principal = { userId: 'u1', username: 'alice', role: 'user', via: 'jwt' };

/**
 * The memory bus delivering, as a cluster bus does, only the channels this process watches, and able to lose
 * chosen offsets on the way (as a subscription that was not yet in effect, or a dropped connection, would).
 */
class WatchingBus implements ChannelBus {
  readonly inner: MemoryChannelBus;
  private readonly watched = new Set<string>();
  /** Offsets not delivered (they stay in history). */
  readonly lose = new Set<number>();

  constructor(history?: HistoryOptions) {
    this.inner = new MemoryChannelBus(history);
  }

  publish(event: PlainEvent): void {
    this.inner.publish(event);
  }

  append(message: NewMessage, ref?: AppendRef) {
    return this.inner.append(message, ref);
  }

  history(channel: string, after: number | null, limit: number) {
    return this.inner.history(channel, after, limit);
  }

  /** Delivers an event as if it came from the bus (for histories that diverged). */
  inject: (event: BusEvent) => void = () => undefined;

  onEvent(handler: (event: BusEvent) => void): void {
    this.inject = handler;
    this.inner.onEvent((e) => {
      if (!this.watched.has(e.channel)) return;
      if (e.kind === 'message' && this.lose.has(e.offset)) return;
      handler(e);
    });
  }

  watch(channel: string): Promise<void> {
    this.watched.add(channel);
    return Promise.resolve();
  }

  unwatch(channel: string): void {
    this.watched.delete(channel);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function setup(options: { bus?: ChannelBus; hub?: Partial<HubOptions>; deps?: Partial<HubDeps> } = {}) {
  const engine = new FakeEngine();
  const fanout = new FakeFanout();
  const bus = options.bus ?? new MemoryChannelBus();
  const recorded: StoredMessage[] = [];
  const hub = new ChannelHub(
    {
      engine,
      fanout,
      bus,
      presence: new MemoryPresenceStore(),
      likes: new MemoryLikeStore(),
      rooms: { resolve: async (id) => room(id), postRefusal: () => null, badges: () => [] },
      chatLimiter: new MemoryRateLimiter(1_000, 60, 'test-chat'),
      recorder: { record: (m) => void recorded.push(m), remove: () => undefined },
      ...options.deps,
    },
    { ...OPTIONS, ...options.hub },
  );
  return { engine, fanout, bus, hub, recorded };
}

/** What a subscriber attached now would be sent. */
async function welcomeOf(hub: ChannelHub, channel: string, since?: Since, batch = false): Promise<Welcome> {
  let welcome: Welcome | undefined;
  await hub.welcome(channel, batch, since, (w) => (welcome = w));
  if (!welcome) throw new Error('welcome never attached');
  return welcome;
}

const offsetsOf = (frames: readonly string[]) =>
  frames.map((f) => JSON.parse(f) as { type: string; offset?: number }).flatMap((f) => (f.type === 'message' ? [f.offset] : []));

/** Lets every pending promise chain run (real timers only). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits until the engine has been asked `n` classifications (chat() resolves the room and the limiter first). */
async function classified(engine: FakeEngine, n: number): Promise<void> {
  for (let i = 0; i < 50 && engine.calls.length < n; i++) await settle();
  expect(engine.calls.length).toBe(n);
}

describe('ChannelHub ordering', () => {
  it('publishes chat in arrival order when the second classification finishes first', async () => {
    const { engine, fanout, hub, recorded } = setup();
    const first = hub.chat(alice, 'room:lobby', 'one');
    const second = hub.chat(alice, 'room:lobby', 'two');
    await classified(engine, 2);

    engine.call('two').resolve(NEGATIVE);
    await settle();
    // The second is classified but must wait for the first.
    expect(fanout.frames('c:room:lobby', 'message')).toEqual([]);

    engine.call('one').resolve(POSITIVE);
    const [a, b] = await Promise.all([first, second]);
    const frames = fanout.frames('c:room:lobby', 'message');
    expect(frames.map((f) => f.text)).toEqual(['one', 'two']);
    expect(frames.map((f) => f.sentiment)).toEqual([
      { label: 'positive', score: 0.9 },
      { label: 'negative', score: 0.8 },
    ]);
    expect(frames.map((f) => f.id)).toEqual([a.id, b.id]);
    expect(a.id < b.id).toBe(true);
    expect(recorded.map((m) => m.text)).toEqual(['one', 'two']);
  });

  it('publishes ingested lines in arrival order, with increasing ids', async () => {
    const { engine, fanout, hub } = setup();
    const texts = ['l0', 'l1', 'l2', 'l3', 'l4'];
    const done = texts.map((t) => hub.ingest('twitch', 'twitch:streamer', chatLine(t)));
    // Settled last to first.
    for (const t of [...texts].reverse()) {
      engine.call(t).resolve(POSITIVE);
      await settle();
    }
    const events = await Promise.all(done);
    const frames = fanout.frames('c:twitch:streamer', 'message');
    expect(frames.map((f) => f.text)).toEqual(texts);
    expect(frames.map((f) => f.source_id)).toEqual(texts);
    const ids = frames.map((f) => f.id as string);
    expect(ids).toEqual(events.map((e) => e.id));
    // Strictly increasing: sorted already, and no repeats.
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('does not make one channel wait for another', async () => {
    const { engine, fanout, hub } = setup();
    const slow = hub.ingest('twitch', 'twitch:slowone', chatLine('slow'));
    const fast = hub.ingest('twitch', 'twitch:fastone', chatLine('fast'));
    engine.call('fast').resolve(POSITIVE);
    await fast;
    expect(fanout.frames('c:twitch:fastone', 'message').map((f) => f.text)).toEqual(['fast']);
    expect(fanout.frames('c:twitch:slowone')).toEqual([]);
    engine.call('slow').resolve(POSITIVE);
    await slow;
    expect(fanout.frames('c:twitch:slowone', 'message').map((f) => f.text)).toEqual(['slow']);
  });

  it('rejects a message whose classification fails, publishes nothing for it, and goes on with the next', async () => {
    const { engine, fanout, hub, recorded } = setup();
    const first = hub.chat(alice, 'room:lobby', 'broken');
    const second = hub.chat(alice, 'room:lobby', 'fine');
    await classified(engine, 2);
    const failure = new Error('inference failed');
    engine.call('fine').resolve(POSITIVE);
    engine.call('broken').reject(failure);
    // The sender of the failed one gets the engine's error; the next one is not held up by it.
    await expect(first).rejects.toBe(failure);
    await expect(second).resolves.toMatchObject({ offset: 1 }); // the failed one took no offset
    expect(fanout.frames('c:room:lobby', 'message').map((f) => f.text)).toEqual(['fine']);
    expect(recorded.map((m) => m.text)).toEqual(['fine']);
    expect(hub.counters.messages).toBe(1);
  });

  it('refuses, instead of publishing, an ingested line whose owner lost the stream while it waited', async () => {
    const { engine, fanout, hub } = setup();
    let owner = true;
    const line = hub.ingest('twitch', 'twitch:streamer', chatLine('late'), () => owner);
    owner = false; // the lease lapsed during inference
    engine.call('late').resolve(POSITIVE);
    await expect(line).rejects.toMatchObject({ status: 409, code: 'not_owner' });
    expect(fanout.frames('c:twitch:streamer')).toEqual([]);
  });
});

describe('ChannelHub delivery', () => {
  afterEach(() => vi.useRealTimers());

  const message = (channel: string, id: string, text: string): NewMessage => ({
    channel,
    id,
    label: 'positive',
    polarity: 0.85,
    ts: Date.now(),
    head: JSON.stringify({ type: 'message', channel, id, text }).slice(0, -1),
  });

  it('sends a bus message to per-message subscribers at once and to batched ones in one frame per tick', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { bus, fanout } = setup();
    fanout.watchers.set(topicOf('room:lobby', true), 1);
    void bus.append(message('room:lobby', 'A1', 'one'));
    void bus.append(message('room:lobby', 'A2', 'two'));

    expect(fanout.frames('c:room:lobby').map((f) => f.text)).toEqual(['one', 'two']);
    expect(fanout.frames('b:room:lobby')).toEqual([]); // held until the batch tick
    await vi.advanceTimersByTimeAsync(OPTIONS.batchTickMs);
    const batches = fanout.frames('b:room:lobby');
    expect(batches).toEqual([
      {
        type: 'messages',
        channel: 'room:lobby',
        items: [
          { type: 'message', channel: 'room:lobby', id: 'A1', text: 'one', offset: 1 },
          { type: 'message', channel: 'room:lobby', id: 'A2', text: 'two', offset: 2 },
        ],
      },
    ]);
  });

  it('builds no batch for a channel nobody watches batched', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { bus, fanout, hub } = setup();
    void bus.append(message('room:lobby', 'A1', 'one'));
    await vi.advanceTimersByTimeAsync(OPTIONS.batchTickMs * 2);
    expect(fanout.frames('c:room:lobby')).toHaveLength(1);
    expect(fanout.frames('b:room:lobby')).toEqual([]);
    expect(hub.counters.batchFrames).toBe(0);
  });

  it('sends a delete to both kinds of subscriber, after the batch still pending', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { bus, fanout, hub } = setup();
    fanout.watchers.set('b:room:lobby', 1);
    void bus.append(message('room:lobby', 'A1', 'one'));
    hub.remove('room:lobby', ['A1']);
    expect(fanout.frames('b:room:lobby').map((f) => f.type)).toEqual(['messages', 'delete']);
    expect(fanout.frames('c:room:lobby').map((f) => f.type)).toEqual(['message', 'delete']);
    expect(fanout.frames('c:room:lobby', 'delete')).toEqual([{ type: 'delete', channel: 'room:lobby', message_id: 'A1' }]);
    // Gone from what a new subscriber is replayed.
    await hub.join('room:lobby', 'conn-1');
    const welcome = await welcomeOf(hub, 'room:lobby');
    expect(welcome.frames.map((f) => (JSON.parse(f) as { type: string }).type)).not.toContain('message');
    expect(welcome.offset).toBe(1);
  });

  it('announces a moment once, to both topics after the pending batch, and stores it once', async () => {
    const stored: Moment[] = [];
    const { bus, fanout } = setup({ deps: { momentStore: { insert: async (m) => void stored.push(m) } } });
    fanout.watchers.set(topicOf('room:lobby', true), 1);
    for (let i = 1; i <= 12; i++) void bus.append(message('room:lobby', `A${i}`, `pog ${i}`));
    // An empty baseline counts as neutral: the 8th message of 0.85 is a hype moment; the cooldown holds after it.
    const expected = { type: 'moment', channel: 'room:lobby', kind: 'hype', score: 0.85, sample: ['pog 1', 'pog 2', 'pog 3'] };
    expect(fanout.frames('c:room:lobby', 'moment')).toMatchObject([expected]);
    const batched = fanout.frames('b:room:lobby');
    expect(batched.map((f) => f.type)).toEqual(['messages', 'moment']);
    expect((batched[0] as { items: unknown[] }).items).toHaveLength(8);
    expect(stored).toMatchObject([{ id: 'hype:A8', kind: 'hype', channel: 'room:lobby' }]);
  });

  it('does not announce, late or again, a moment that happened before this process watched the channel', async () => {
    const bus = new WatchingBus();
    const { fanout, hub } = setup({ bus });
    for (let i = 1; i <= 8; i++) await bus.append(message('room:lobby', `A${i}`, `pog ${i}`));
    await hub.join('room:lobby', 'conn-1');
    await welcomeOf(hub, 'room:lobby');
    // Rebuilt from history with the moment discarded: its cooldown holds here as on a process that saw it.
    for (let i = 9; i <= 16; i++) await bus.append(message('room:lobby', `A${i}`, `pog ${i}`));
    expect(fanout.frames('c:room:lobby', 'message')).toHaveLength(8);
    expect(fanout.frames('c:room:lobby', 'moment')).toEqual([]);
  });

  it('pushes mood on the tick only to channels someone watches, and stops once a channel has settled', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { bus, fanout, hub } = setup();
    hub.start();
    try {
      void bus.append(message('room:lobby', 'A1', 'one'));
      void bus.append(message('room:other', 'B1', 'two'));
      fanout.watchers.set('c:room:lobby', 1);

      await vi.advanceTimersByTimeAsync(OPTIONS.moodTickMs);
      // Watched (per-message only): the frame still goes to both topics. Unwatched: nothing.
      for (const topic of ['c:room:lobby', 'b:room:lobby']) {
        const moods = fanout.frames(topic, 'mood');
        expect(moods).toHaveLength(1);
        expect(moods[0]).toMatchObject({ channel: 'room:lobby', counts: { negative: 0, neutral: 0, positive: 1 } });
      }
      expect(fanout.frames('c:room:other', 'mood')).toEqual([]);
      expect(fanout.frames('b:room:other', 'mood')).toEqual([]);

      // Once quiet past the short window, one last frame goes out, then none.
      await vi.advanceTimersByTimeAsync(OPTIONS.moodWindowS * 1_000 + 5 * OPTIONS.moodTickMs);
      const count = fanout.frames('c:room:lobby', 'mood').length;
      // That last frame's short window is empty: its score is null (quiet), not 0 (neutral).
      expect(fanout.frames('c:room:lobby', 'mood').at(-1)).toMatchObject({ score: null, rate: 0 });
      await vi.advanceTimersByTimeAsync(5 * OPTIONS.moodTickMs);
      expect(fanout.frames('c:room:lobby', 'mood')).toHaveLength(count);
      expect(hub.counters.moodFrames).toBe(count);
    } finally {
      hub.close();
    }
  });

  it('coalesces presence into one frame per control tick on both topics', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { fanout, hub } = setup();
    hub.start();
    try {
      await hub.join('room:lobby', 'conn-1');
      await hub.join('room:lobby', 'conn-2');
      expect(fanout.frames('c:room:lobby', 'presence')).toEqual([]);
      await vi.advanceTimersByTimeAsync(OPTIONS.controlTickMs);
      for (const topic of ['c:room:lobby', 'b:room:lobby']) {
        expect(fanout.frames(topic, 'presence')).toEqual([{ type: 'presence', channel: 'room:lobby', viewers: 2 }]);
      }
    } finally {
      hub.close();
    }
  });
});

describe('ChannelHub history: replay, recovery, gaps', () => {
  const line = (channel: string, n: number): NewMessage => ({
    channel,
    id: `M${String(n).padStart(25, '0')}`,
    label: n % 2 ? 'positive' : 'negative',
    polarity: n % 2 ? 0.8 : -0.8,
    ts: Date.now(),
    head: JSON.stringify({ type: 'message', channel, id: `M${n}`, text: `m${n}` }).slice(0, -1),
  });
  const publish = async (bus: ChannelBus, channel: string, from: number, to: number) => {
    for (let n = from; n <= to; n++) await bus.append(line(channel, n));
  };

  it('replays the recent messages, then recovers exactly the ones after a client offset', async () => {
    const { bus, hub } = setup({ hub: { replaySize: 3 } });
    await hub.join('room:lobby', 'conn-1');
    await publish(bus, 'room:lobby', 1, 8);
    const fresh = await welcomeOf(hub, 'room:lobby');
    expect(fresh).toMatchObject({ offset: 8 });
    expect(fresh.recovered).toBeUndefined();
    expect(offsetsOf(fresh.frames)).toEqual([6, 7, 8]);

    // Within the recent messages, and further back than them (read from history).
    for (const from of [6, 2, 0]) {
      const back = await welcomeOf(hub, 'room:lobby', { offset: from, epoch: fresh.epoch });
      expect(back).toMatchObject({ offset: 8, recovered: true });
      expect(offsetsOf(back.frames)).toEqual(range(from + 1, 8));
    }
    const upToDate = await welcomeOf(hub, 'room:lobby', { offset: 8, epoch: fresh.epoch });
    expect(upToDate).toMatchObject({ recovered: true });
    expect(offsetsOf(upToDate.frames)).toEqual([]);
  });

  it('batches a recovery for a batched subscriber', async () => {
    const { bus, hub } = setup({ hub: { replaySize: 2 } });
    await hub.join('room:lobby', 'conn-1');
    await publish(bus, 'room:lobby', 1, 5);
    const epoch = (await welcomeOf(hub, 'room:lobby')).epoch;
    const back = await welcomeOf(hub, 'room:lobby', { offset: 1, epoch }, true);
    const batch = JSON.parse(back.frames[0] as string) as { type: string; items: Array<{ offset: number }> };
    expect(batch.type).toBe('messages');
    expect(batch.items.map((i) => i.offset)).toEqual([2, 3, 4, 5]);
  });

  it('says why it cannot recover: another epoch, or history trimmed', async () => {
    const { bus, hub } = setup({ bus: new MemoryChannelBus({ size: 4, ttlMs: 60_000, refTtlMs: 60_000 }), hub: { replaySize: 2 } });
    await hub.join('room:lobby', 'conn-1');
    await publish(bus, 'room:lobby', 1, 10);
    const other = await welcomeOf(hub, 'room:lobby', { offset: 3, epoch: 'not-this-one' });
    const epochReason: unknown = expect.stringMatching(/epoch/);
    expect(other).toMatchObject({ recovered: false, reason: epochReason });
    expect(offsetsOf(other.frames)).toEqual([9, 10]); // the recent ones, as a new subscriber
    const trimmed = await welcomeOf(hub, 'room:lobby', { offset: 2, epoch: other.epoch });
    const trimmedReason: unknown = expect.stringMatching(/trimmed/);
    expect(trimmed).toMatchObject({ recovered: false, reason: trimmedReason });
    expect(offsetsOf(trimmed.frames)).toEqual([7, 8, 9, 10]); // what history still holds
  });

  it('fills a gap in what it receives from history, so its subscribers see every offset in order', async () => {
    const bus = new WatchingBus();
    const { fanout, hub } = setup({ bus });
    await hub.join('room:lobby', 'conn-1');
    await welcomeOf(hub, 'room:lobby');
    bus.lose.add(2).add(3);
    await publish(bus, 'room:lobby', 1, 5);
    await settle();
    expect(fanout.frames('c:room:lobby', 'message').map((f) => f.offset)).toEqual([1, 2, 3, 4, 5]);
  });

  it('follows a history that diverged (a failover lost the last appends): new messages at reused offsets are delivered', async () => {
    const bus = new WatchingBus();
    const { fanout, hub } = setup({ bus });
    await hub.join('room:lobby', 'conn-1');
    const { epoch } = await welcomeOf(hub, 'room:lobby');
    await publish(bus, 'room:lobby', 1, 4);
    // The promoted replica had only offsets 1 and 2: the next message gets offset 3 again.
    bus.inject(messageEvent({ ...line('room:lobby', 99), id: 'M-after-failover' }, 3, epoch));
    // A repeat of a message already delivered is still dropped.
    bus.inject(messageEvent(line('room:lobby', 2), 2, epoch));
    const got = fanout.frames('c:room:lobby', 'message').map((f) => [f.offset, f.id]);
    expect(got).toEqual([
      [1, 'M1'],
      [2, 'M2'],
      [3, 'M3'],
      [4, 'M4'],
      [3, 'M99'],
    ]);
  });

  it("starts a feed at the channel's history: messages before the subscription are replayed, not lost", async () => {
    const bus = new WatchingBus();
    const { fanout, hub } = setup({ bus });
    await publish(bus, 'room:lobby', 1, 3); // nobody watching here yet
    expect(fanout.frames('c:room:lobby')).toEqual([]);
    await hub.join('room:lobby', 'conn-1');
    const welcome = await welcomeOf(hub, 'room:lobby');
    expect(welcome.offset).toBe(3);
    expect(offsetsOf(welcome.frames)).toEqual([1, 2, 3]);
    // The mood window comes from history too: the first subscriber sees the channel's mood at once.
    const mood = welcome.frames
      .map((f) => JSON.parse(f) as { type: string; counts?: Record<string, number> })
      .find((f) => f.type === 'mood');
    expect(mood?.counts).toMatchObject({ positive: 2, negative: 1 });
  });

  it("publishes a message once per ref, answering a repeat with the first one's id and offset", async () => {
    const { engine, fanout, hub } = setup();
    const first = hub.chat(alice, 'room:lobby', 'hello', 'ref-1');
    await classified(engine, 1);
    engine.call('hello').resolve(POSITIVE);
    const a = await first;
    const again = hub.chat(alice, 'room:lobby', 'hello', 'ref-1');
    await classified(engine, 2);
    (engine.calls[1] as Classification).resolve(POSITIVE);
    const b = await again;
    expect(b).toEqual({ id: a.id, offset: a.offset, epoch: a.epoch, frame: null });
    expect(fanout.frames('c:room:lobby', 'message')).toHaveLength(1);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
