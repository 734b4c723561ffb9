// ChannelBus contract, run against the memory driver and the Redis driver (real redis-server).
import { describe, expect, it } from 'vitest';
import { MemoryChannelBus, type BusEvent, type ChannelBus } from '../../src/channels/bus.js';
import { RedisChannelBus } from '../../src/channels/redis-bus.js';
import { useRedis, waitFor } from './redis-fixture.js';

const redis = useRedis();

interface BusDriver {
  /** A fresh bus, closed after the test. */
  make(): Promise<ChannelBus>;
  /** Resolves once the bus's watch/unwatch calls so far are in effect. */
  settle(bus: ChannelBus): Promise<void>;
  /** MemoryChannelBus (one process) delivers every event; a cluster bus only watched channels'. */
  deliversUnwatched: boolean;
  /** Whether two instances are two processes sharing one channel space. */
  shared: boolean;
}

const memory: BusDriver = {
  async make() {
    const bus = new MemoryChannelBus();
    redis.defer(() => bus.close());
    return bus;
  },
  async settle() {},
  deliversUnwatched: true,
  shared: false,
};

const redisDriver: BusDriver = {
  async make() {
    const bus = new RedisChannelBus(redis.client, await redis.subscriber());
    redis.defer(() => bus.close());
    return bus;
  },
  settle: (bus) => {
    if (!(bus instanceof RedisChannelBus)) throw new Error('not a RedisChannelBus');
    return bus.synced();
  },
  deliversUnwatched: false,
  shared: true,
};

function collect(bus: ChannelBus): BusEvent[] {
  const got: BusEvent[] = [];
  bus.onEvent((e) => got.push(e));
  return got;
}

const message = (channel: string, i: number): BusEvent => ({
  kind: 'message',
  channel,
  id: `m${i}`,
  frame: JSON.stringify({ type: 'message', text: `hello ${i} ✓` }),
  label: i % 2 ? 'positive' : 'negative',
  polarity: i % 2 ? 0.5 : -0.25,
  ts: 1_700_000_000_000 + i,
});

describe.each([
  ['memory', memory],
  ['redis', redisDriver],
] as const)('ChannelBus contract: %s', (_name, driver) => {
  it('delivers the events of a watched channel to every handler, intact and in publish order', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    const second = collect(bus);
    bus.watch('room:a');
    await driver.settle(bus);

    const sent: BusEvent[] = [];
    for (let i = 0; i < 100; i++) sent.push(message('room:a', i));
    sent.push({ kind: 'delete', channel: 'room:a', messageId: 'm3' });
    sent.push({ kind: 'likes', channel: 'room:a', total: 7, messageId: 'm1', messageLikes: 2 });
    sent.push({ kind: 'presence', channel: 'room:a', viewers: 3 });
    sent.push({ kind: 'closed', channel: 'room:a' });
    for (const e of sent) bus.publish(e);

    await waitFor(() => got.length >= sent.length, 10_000, 'all events');
    expect(got).toEqual(sent);
    expect(second).toEqual(sent);
  });

  it('delivers unwatched channels only where documented (memory: always; cluster: never)', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    bus.watch('room:watched');
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
    bus.watch('room:a');
    bus.watch('room:b');
    await driver.settle(bus);
    bus.unwatch('room:a');
    await driver.settle(bus);

    bus.publish({ kind: 'closed', channel: 'room:a' });
    bus.publish({ kind: 'closed', channel: 'room:b' });
    await waitFor(() => got.some((e) => e.channel === 'room:b'), 10_000, 'room:b');
    expect(got.some((e) => e.channel === 'room:a')).toBe(driver.deliversUnwatched);

    bus.watch('room:a');
    await driver.settle(bus);
    got.length = 0;
    bus.publish({ kind: 'presence', channel: 'room:a', viewers: 5 });
    await waitFor(() => got.length === 1, 10_000, 'room:a again');
    expect(got).toEqual([{ kind: 'presence', channel: 'room:a', viewers: 5 }]);
  });

  it('keeps channels apart and keeps each channel in order when they interleave', async () => {
    const bus = await driver.make();
    const got = collect(bus);
    for (const c of ['room:x', 'room:y']) bus.watch(c);
    await driver.settle(bus);
    for (let i = 0; i < 50; i++) {
      bus.publish(message('room:x', i));
      bus.publish(message('room:y', i));
    }
    await waitFor(() => got.length >= 100, 10_000, '100 events');
    const ids = (channel: string) => got.filter((e) => e.channel === channel).map((e) => (e.kind === 'message' ? e.id : ''));
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    expect(ids('room:x')).toEqual(expected);
    expect(ids('room:y')).toEqual(expected);
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
    b.watch('room:shared');
    await driver.settle(b);

    for (let i = 0; i < 20; i++) a.publish(message('room:shared', i));
    await waitFor(() => gotB.length >= 20, 10_000, 'events on b');
    expect(gotB.map((e) => (e.kind === 'message' ? e.id : ''))).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    // a published but does not watch: nothing comes back to it.
    expect(gotA).toEqual([]);

    // Both watch: both get every event, in the same (Redis's) order, whoever published it.
    a.watch('room:shared');
    await driver.settle(a);
    gotB.length = 0;
    a.publish({ kind: 'presence', channel: 'room:shared', viewers: 1 });
    b.publish({ kind: 'presence', channel: 'room:shared', viewers: 2 });
    await waitFor(() => gotA.length >= 2 && gotB.length >= 2, 10_000, 'events on both');
    expect(gotA).toEqual(gotB);
  });
});
