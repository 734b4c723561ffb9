// IngestStore contract: memory and Redis (a redis-server, and a Redis Cluster of 3 masters) always, MongoDB
// when MONGODB_URL is set (a fresh database per file):
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/store-
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { RedisIngestStore } from '../../src/ingest/redis-store.js';
import { MemoryIngestStore } from '../../src/ingest/store.js';
import type { IngestRecord, IngestStore } from '../../src/ingest/store.js';
import { useRedis } from './redis-fixture.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();
const redis = useRedis();
const cluster = useRedis({ cluster: true });

const ingest = (id: string, source: IngestRecord['source'], channel: string, createdAt = 1_700_000_000_000): IngestRecord => ({
  id,
  source,
  channel,
  createdBy: 'admin-1',
  createdAt,
});

async function errorOf(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function contract(make: () => Promise<IngestStore>): void {
  it('finds definitions by id and by (source, channel), as copies', async () => {
    const store = await make();
    const rec = ingest('i1', 'twitch', 'somechannel');
    await store.create(rec);
    expect(await store.get('i1')).toEqual(rec);
    expect(await store.find('twitch', 'somechannel')).toEqual(rec);
    expect(await store.find('tiktok', 'somechannel')).toBeNull();
    expect(await store.find('twitch', 'other')).toBeNull();
    expect(await store.get('missing')).toBeNull();
    rec.channel = 'mutated';
    expect((await store.get('i1'))?.channel).toBe('somechannel');
  });

  it('refuses a second definition of one (source, channel) with a conflict, also when creates race', async () => {
    const store = await make();
    await store.create(ingest('i1', 'twitch', 'chan'));
    const err = await errorOf(store.create(ingest('i2', 'twitch', 'chan')));
    expect(err.status).toBe(409);
    expect(err.code).toBe('conflict');
    expect(await store.get('i2')).toBeNull();
    // The same channel name on another platform is another channel.
    await store.create(ingest('i3', 'tiktok', 'chan'));
    expect((await errorOf(store.create(ingest('i3', 'twitch', 'third')))).status).toBe(409);

    const raced = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.create(ingest(`r${i}`, 'tiktok', 'raced'))));
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await store.list()).toHaveLength(3);
  });

  it('lists oldest first and deletes, freeing the (source, channel)', async () => {
    const store = await make();
    await store.create(ingest('b', 'twitch', 'two', 200));
    await store.create(ingest('c', 'tiktok', 'three', 300));
    await store.create(ingest('a', 'twitch', 'one', 100));
    await store.create(ingest('a2', 'twitch', 'one-bis', 100));
    expect((await store.list()).map((r) => r.id)).toEqual(['a', 'a2', 'b', 'c']);
    expect(await store.delete('b')).toBe(true);
    expect(await store.delete('b')).toBe(false);
    expect(await store.find('twitch', 'two')).toBeNull();
    await store.create(ingest('b2', 'twitch', 'two', 400));
    expect((await store.list()).map((r) => r.id)).toEqual(['a', 'a2', 'c', 'b2']);
  });
}

describe('IngestStore contract: memory', () => contract(async () => new MemoryIngestStore()));
describe('IngestStore contract: redis', () => contract(async () => new RedisIngestStore(redis.client)));
describe('IngestStore contract: redis-cluster', () => contract(async () => new RedisIngestStore(cluster.client)));
describe.skipIf(!mongoUrl)('IngestStore contract: mongo', () => contract(async () => (await mongo.fresh()).ingest));
