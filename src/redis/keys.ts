// Key layout for Redis Cluster. A Redis Cluster splits the keyspace into 16384 hash slots spread over its
// masters, and a script or a multi-key command may only touch keys of one slot. A key's slot is the CRC16 of
// its hash tag (the part between the first `{` and the next `}`, when not empty), else of the whole key, so
// keys that must change together share a tag:
//
//   {ch:<channel>}   everything of one chat channel: presence, likes, the room record of `room:<id>` (and, in
//                    the bus and history drivers, its sharded pub/sub channel and its history stream)
//   {u:<user id>}    what belongs to one user: the set of rooms they own
//   {lease:<name>}   a lease and its fencing counter
//   {users} {keys} {rooms} {ingest}
//                    global indexes that must stay consistent with each other in one script (unique
//                    usernames, role counts, the room order): each is one slot on purpose, see the drivers
//
// Everything stays under KEY_PREFIX (`cp:`), before the tag: `cp:{ch:room:lobby}:pres`. On a single Redis the
// braces are just characters. Multi-key reads that may span slots go through `mgetAny`; whole-keyspace work
// through `scanKeys`, which visits every master of a cluster.
import { isCluster, keyPart, type RedisClient } from './connection.js';

/** The tag of a channel's keys. Channel names are validated (src/channels/names.ts): no braces. */
export const channelTag = (channel: string): string => `{ch:${channel}}`;

/** The tag of a user's keys; ids are encoded so that no id can close the tag early. */
export const userTag = (userId: string): string => `{u:${keyPart(userId)}}`;

// CRC16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with.
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The hash slot (0..16383) Redis Cluster puts `key` in, as `CLUSTER KEYSLOT` computes it. */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % 16384;
  }
  return crc16(bytes) % 16384;
}

/**
 * GET of many keys: one MGET on a single Redis, one MGET per slot on a cluster (run in parallel; a cluster
 * refuses an MGET across slots). Values in the order of `keys`.
 */
export async function mgetAny(client: RedisClient, keys: readonly string[]): Promise<Array<string | null>> {
  if (keys.length === 0) return [];
  if (!isCluster(client)) return client.mget(...keys);
  const bySlot = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = hashSlot(key);
    const at = bySlot.get(slot);
    if (at) at.push(i);
    else bySlot.set(slot, [i]);
  });
  const out = new Array<string | null>(keys.length).fill(null);
  await Promise.all(
    [...bySlot.values()].map(async (indexes) => {
      const rows = await client.mget(...indexes.map((i) => keys[i] as string));
      indexes.forEach((at, j) => (out[at] = rows[j] ?? null));
    }),
  );
  return out;
}

/**
 * The masters of a cluster as the client's slot map has them (each holds its own part of the keyspace; right
 * after a failover the map may still name the old one until it is refreshed); the client itself on a single Redis.
 */
export const masters = (client: RedisClient): RedisClient[] => (isCluster(client) ? client.nodes('master') : [client]);

/**
 * Every key matching `pattern` (SCAN, never KEYS: it does not block Redis), on every master of a cluster.
 * For tests and operators' tools: the drivers never scan the keyspace.
 */
export async function scanKeys(client: RedisClient, pattern: string, count = 1000): Promise<string[]> {
  const found = new Set<string>();
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      for (const key of keys) found.add(key);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...found].sort();
}
