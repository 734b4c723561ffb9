// ChannelBus contract, run against the memory driver and the Redis driver (a real redis-server, and a real
// Redis Cluster of 3 masters, where a channel's history and pub/sub channel share one slot): delivery,
// and the channel history the bus keeps (offsets, epochs, deletes, ref dedupe, trimming).
import { describe, expect, it } from 'vitest';
import { MemoryChannelBus, messageEvent, type BusEvent, type ChannelBus, type PlainEvent } from '../../src/channels/bus.js';
import type { HistoryOptions, NewMessage } from '../../src/channels/history.js';
import { RedisChannelBus } from '../../src/channels/redis-bus.js';
import { useRedis, waitFor } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

const SMALL: HistoryOptions = { size: 10, ttlMs: 60_000, refTtlMs: 60_000 };

interface BusDriver {
  /** A fresh bus, closed after the test. */
  make(history?: HistoryOptions): Promise<ChannelBus>;
  /** Resolves once the bus's watch/unwatch calls so far are in effect. */
  settle(bus: ChannelBus): Promise<void>;
  /** MemoryChannelBus (one process) delivers every event; a cluster bus only watched channels'. */
  deliversUnwatched: boolean;
  /** Whether two instances are two processes sharing one channel space. */
  shared: boolean;
}

const memory: BusDriver = {
  async make(history) {
    const bus = new MemoryChannelBus(history);
    redis.defer(() => bus.close());
    return bus;
  },
  async settle() {},
  deliversUnwatched: true,
  shared: false,
};

const redisDriver = (fixture: typeof cluster): BusDriver => ({
  async make(history) {
    const bus = new RedisChannelBus(fixture.client, await fixture.subscriber(), { history });
    fixture.defer(() => bus.close());
    return bus;
  },
  settle: (bus) => {
    if (!(bus instanceof RedisChannelBus)) throw new Error('not a RedisChannelBus');
    return bus.synced();
  },
  deliversUnwatched: false,
  shared: true,
});

function collect(bus: ChannelBus): BusEvent[] {
  const got: BusEvent[] = [];
  bus.onEvent((e) => got.push(e));
  return got;
}

const message = (channel: string, i: number): NewMessage => ({
  channel,
  id: `m${i}`,
  head: JSON.stringify({ type: 'message', text: `hello ${i} ✓ "quoted" \\ ` }).slice(0, -1),
  label: i % 2 ? 'positive' : 'negative',
  polarity: i % 2 ? 0.5 : -0.25,
  ts: 1_700_000_000_000 + i,
});

/** Sends an event the way the hub does: messages are appended to history, the rest published. */
const send = (bus: ChannelBus, e: NewMessage | PlainEvent) => ('kind' in e ? bus.publish(e) : void bus.append(e));
const ids = (got: BusEvent[], channel: string) => got.filter((e) => e.channel === channel).map((e) => (e.kind === 'message' ? e.id : ''));

describe.each([
  ['memory', memory],
  ['redis', redisDriver(redis)],
  ['redis-cluster', redisDriver(cluster)],
] as const)('ChannelBus contract: %s', (name, driver) => {
  it('delivers the events of a watched channel to every handler, intact and in publish order', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    const second = collect(bus);
    void bus.watch('room:a');
    await driver.settle(bus);

    const sent: Array<NewMessage | PlainEvent> = [];
    for (let i = 0; i < 100; i++) sent.push(message('room:a', i));
    sent.push({ kind: 'delete', channel: 'room:a', messageId: 'm3' });
    sent.push({ kind: 'likes', channel: 'room:a', total: 7, messageId: 'm1', messageLikes: 2 });
    sent.push({ kind: 'presence', channel: 'room:a', viewers: 3 });
    sent.push({ kind: 'closed', channel: 'room:a' });
    for (const e of sent) send(bus, e);

    await waitFor(() => got.length >= sent.length, 10_000, 'all events');
    const { epoch } = await bus.history('room:a', null, 1);
    // Messages arrive with their offsets (1, 2, ... in publish order) and frames completed with them.
    const expected = sent.map((e, i) => ('kind' in e ? e : messageEvent(e, i + 1, epoch)));
    expect(got).toEqual(expected);
    expect(second).toEqual(expected);
    const first = got[0];
    expect(first?.kind === 'message' && JSON.parse(first.frame)).toEqual({ type: 'message', text: 'hello 0 ✓ "quoted" \\ ', offset: 1 });
  });

  it('delivers unwatched channels only where documented (memory: always; cluster: never)', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    void bus.watch('room:watched');
    await driver.settle(bus);

    bus.publish({ kind: 'presence', channel: 'room:other', viewers: 1 });
    // Published after the unwatched one by the same publisher: once it is in, the other would be too.
    bus.publish({ kind: 'presence', channel: 'room:watched', viewers: 2 });
    await waitFor(() => got.some((e) => e.channel === 'room:watched'), 10_000, 'the sentinel event');
    expect(got.some((e) => e.channel === 'room:other')).toBe(driver.deliversUnwatched);
  });

  it('stops delivering a channel after unwatch (cluster) and delivers again after watch', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    void bus.watch('room:a');
    void bus.watch('room:b');
    await driver.settle(bus);
    bus.unwatch('room:a');
    await driver.settle(bus);

    bus.publish({ kind: 'closed', channel: 'room:a' });
    bus.publish({ kind: 'closed', channel: 'room:b' });
    await waitFor(() => got.some((e) => e.channel === 'room:b'), 10_000, 'room:b');
    expect(got.some((e) => e.channel === 'room:a')).toBe(driver.deliversUnwatched);

    void bus.watch('room:a');
    await driver.settle(bus);
    got.length = 0;
    bus.publish({ kind: 'presence', channel: 'room:a', viewers: 5 });
    await waitFor(() => got.length === 1, 10_000, 'room:a again');
    expect(got).toEqual([{ kind: 'presence', channel: 'room:a', viewers: 5 }]);
  });

  it('keeps channels apart and keeps each channel in order when they interleave', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    for (const c of ['room:x', 'room:y']) void bus.watch(c);
    await driver.settle(bus);
    for (let i = 0; i < 50; i++) {
      send(bus, message('room:x', i));
      send(bus, message('room:y', i));
    }
    await waitFor(() => got.length >= 100, 10_000, '100 events');
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    expect(ids(got, 'room:x')).toEqual(expected);
    expect(ids(got, 'room:y')).toEqual(expected);
    // Offsets are per channel.
    const offsets = got.flatMap((e) => (e.kind === 'message' && e.channel === 'room:y' ? [e.offset] : []));
    expect(offsets).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('publish never throws, also after close', async () => {
    const bus = await driver.make();
    await bus.close();
    expect(() => bus.publish({ kind: 'closed', channel: 'room:a' })).not.toThrow();
  });

  it.runIf(driver.shared)('carries events between two processes: the watcher gets them, a non-watching publisher does not', async () => {
    const a = await driver.make();
    const b = await driver.make();
    const gotA = collect(a);
    const gotB = collect(b);
    void b.watch('room:shared');
    await driver.settle(b);

    for (let i = 0; i < 20; i++) send(a, message('room:shared', i));
    await waitFor(() => gotB.length >= 20, 10_000, 'events on b');
    expect(ids(gotB, 'room:shared')).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    // a published but does not watch: nothing comes back to it.
    expect(gotA).toEqual([]);

    // Both watch: both get every event, in the same (Redis's) order, whoever published it.
    void a.watch('room:shared');
    await driver.settle(a);
    gotB.length = 0;
    a.publish({ kind: 'presence', channel: 'room:shared', viewers: 1 });
    b.publish({ kind: 'presence', channel: 'room:shared', viewers: 2 });
    await waitFor(() => gotA.length >= 2 && gotB.length >= 2, 10_000, 'events on both');
    expect(gotA).toEqual(gotB);
  });

  it.runIf(driver.shared)('gives two publishers one gapless offset sequence per channel, delivered in offset order', async () => {
    const a = await driver.make();
    const b = await driver.make();
    const got = collect(b);
    await b.watch('room:busy');
    await driver.settle(b);
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).append(message('room:busy', i))));
    await waitFor(() => got.length >= 100, 10_000, '100 messages');
    expect(got.map((e) => (e.kind === 'message' ? e.offset : 0))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('keeps a bounded history: latest entries, entries after an offset, deletes marked', async () => {
    const bus = await driver.make(SMALL);
    const empty = await bus.history('room:h', null, 5);
    expect(empty).toMatchObject({ top: 0, entries: [] });
    for (let i = 1; i <= 30; i++) await bus.append(message('room:h', i));
    bus.publish({ kind: 'delete', channel: 'room:h', messageId: 'm29' });
    await driver.settle(bus);
    await waitFor(async () => (await bus.history('room:h', 28, 1)).entries[0]?.head === null, 5_000, 'the delete in history');

    const latest = await bus.history('room:h', null, 3);
    expect(latest.epoch).toBe(empty.epoch); // reading created the epoch the first append kept
    expect(latest.top).toBe(30);
    expect(latest.entries.map((e) => [e.offset, e.id, e.head === null])).toEqual([
      [28, 'm28', false],
      [29, 'm29', true],
      [30, 'm30', false],
    ]);
    expect(latest.entries[0]).toMatchObject({
      label: 'negative',
      polarity: -0.25,
      ts: 1_700_000_000_028,
      head: message('room:h', 28).head,
    });

    const after = await bus.history('room:h', 25, 100);
    expect(after.entries.map((e) => e.offset)).toEqual([26, 27, 28, 29, 30]);
    // At least `size` are kept; what is older may be trimmed: a reader sees where history starts.
    const all = await bus.history('room:h', 0, 100);
    expect(all.entries.length).toBeGreaterThanOrEqual(SMALL.size);
    const firstKept = all.entries[0]?.offset ?? 0;
    expect(all.entries.map((e) => e.offset)).toEqual(Array.from({ length: 31 - firstKept }, (_, i) => firstKept + i));
  });

  it('publishes a ref once per user and channel, answering a repeat with the first append', async () => {
    const bus = await driver.make(SMALL);
    const got = collect(bus);
    await bus.watch('room:r');
    await driver.settle(bus);
    const first = await bus.append(message('room:r', 1), { user: 'u1', ref: 'r-1' });
    const repeat = await bus.append(message('room:r', 2), { user: 'u1', ref: 'r-1' });
    expect(first).toMatchObject({ offset: 1, id: 'm1', duplicate: false });
    expect(repeat).toEqual({ ...first, duplicate: true });
    // Another user's same ref, and the same user's ref in another channel, are other messages.
    expect(await bus.append(message('room:r', 3), { user: 'u2', ref: 'r-1' })).toMatchObject({ offset: 2, duplicate: false });
    expect(await bus.append(message('room:other', 4), { user: 'u1', ref: 'r-1' })).toMatchObject({ offset: 1, duplicate: false });
    await waitFor(() => got.length >= 2, 5_000, 'two messages');
    expect(ids(got, 'room:r')).toEqual(['m1', 'm3']);
  });

  it.runIf(driver.shared)('starts a new epoch when the history was lost', async () => {
    const bus = await driver.make(SMALL);
    for (let i = 1; i <= 3; i++) await bus.append(message('room:lost', i));
    const before = await bus.history('room:lost', null, 10);
    await (name === 'redis-cluster' ? cluster.cluster.flushAll() : redis.client.flushall());
    const appended = await bus.append(message('room:lost', 4));
    expect(appended.offset).toBe(1);
    expect(appended.epoch).not.toBe(before.epoch);
    expect((await bus.history('room:lost', null, 10)).entries.map((e) => e.id)).toEqual(['m4']);
  });
});
