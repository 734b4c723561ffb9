// ProfileStore contract, memory, Redis and Redis Cluster.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MemoryProfileStore, profileKey, RedisProfileStore, type ProfileRecord, type ProfileStore } from '../../src/profiles/index.js';
import { hashSlot } from '../../src/redis/keys.js';
import { useRedis } from './redis-fixture.js';

const redis = useRedis();
const cluster = useRedis({ cluster: true });

const ada: ProfileRecord = {
  source: 'tiktok',
  username: 'ada.l',
  displayName: 'Ada Lovelace',
  avatarUrl: 'https://p16-sign.tiktokcdn.com/avatar/ada.webp',
  tier: 'live',
  fetchedAt: 1_700_000_000_000,
};

describe.each([
  ['memory', async (): Promise<ProfileStore> => new MemoryProfileStore()],
  ['redis', async (): Promise<ProfileStore> => new RedisProfileStore(redis.client)],
  ['redis-cluster', async (): Promise<ProfileStore> => new RedisProfileStore(cluster.client)],
] as const)('ProfileStore contract: %s', (_name, make) => {
  it('keeps a profile per source and username, and replaces it', async () => {
    const store = await make();
    expect(await store.get('tiktok', 'ada.l')).toBeNull();
    await store.put(ada, 60_000);
    expect(await store.get('tiktok', 'ada.l')).toEqual(ada);
    expect(await store.get('twitch', 'ada.l')).toBeNull();
    const fetched = { ...ada, displayName: 'Ada', avatarUrl: null, tier: 'fetched' as const, fetchedAt: ada.fetchedAt + 1 };
    await store.put(fetched, 60_000);
    expect(await store.get('tiktok', 'ada.l')).toEqual(fetched);
  });

  it('forgets a profile after its TTL', async () => {
    const store = await make();
    await store.put({ ...ada, username: 'brief' }, 50);
    expect(await store.get('tiktok', 'brief')).not.toBeNull();
    await sleep(120);
    expect(await store.get('tiktok', 'brief')).toBeNull();
  });
});

describe('RedisProfileStore key layout', () => {
  it('keeps each profile under cp: with its own hash tag, and treats foreign values as absent', async () => {
    expect(profileKey('twitch', 'Ninja{x}')).toBe('cp:{pf:twitch:Ninja%7Bx%7D}:profile');
    expect(hashSlot(profileKey('twitch', 'a'))).not.toBe(hashSlot(profileKey('twitch', 'b')));
    await redis.client.set(profileKey('twitch', 'garbage'), 'not json');
    expect(await new RedisProfileStore(redis.client).get('twitch', 'garbage')).toBeNull();
  });
});
