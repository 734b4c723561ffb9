// The key layout changed when the drivers moved to hash tags (keys.ts): `cp:users:id:<id>` became
// `cp:{users}:id:<id>`, `cp:room:<id>` became `cp:{ch:room:<id>}:room`, and so on. A single Redis written by
// an earlier version still holds its accounts, keys, rooms, ingest definitions, like totals and fencing
// counters under the old names, so the first process of this version renames them in place (RENAMENX: a
// key already written under the new name wins) and then records the layout (`cp:layout` = 2); later starts
// only read that key. Ephemeral keys are dropped (presence: every process writes its viewers again within a
// heartbeat). Safe to run by several processes at once (a key another one renamed first is simply gone).
// Processes of the earlier version still running keep writing the old names: upgrade with every process of
// the earlier version stopped (or accept that during a rolling upgrade the two versions do not see each
// other's writes). A Redis Cluster never held the old layout (the earlier version could not run on one).
import { isCluster, KEY_PREFIX, keyPart, type RedisClient, type RedisLog } from './connection.js';
import { channelTag } from './keys.js';

export const LAYOUT_KEY = `${KEY_PREFIX}layout`;
export const LAYOUT_VERSION = '2';

const P = KEY_PREFIX;

/** The new name of an old-layout key; null to drop it; undefined when it is not an old-layout key. */
export function renamedKey(key: string): string | null | undefined {
  if (!key.startsWith(P) || key.includes('{')) return undefined;
  const rest = key.slice(P.length);
  const after = (prefix: string) => (rest.startsWith(prefix) ? rest.slice(prefix.length) : undefined);
  let v: string | undefined;
  if (rest === 'users:roles' || rest === 'users:all') return `${P}{users}:${rest.slice('users:'.length)}`;
  if ((v = after('users:id:')) !== undefined) return `${P}{users}:id:${v}`;
  if ((v = after('users:name:')) !== undefined) return `${P}{users}:name:${v}`;
  if (rest === 'keys:all') return `${P}{keys}:all`;
  for (const kind of ['id', 'hash', 'user']) if ((v = after(`keys:${kind}:`)) !== undefined) return `${P}{keys}:${kind}:${v}`;
  if (rest === 'rooms') return `${P}{rooms}:index`;
  if (rest === 'rooms:seq') return `${P}{rooms}:seq`;
  // Owner ids were encoded (keyPart) in the old name too.
  if ((v = after('rooms:owner:')) !== undefined) return `${P}{u:${v}}:rooms`;
  if ((v = after('room:')) !== undefined) return `${P}${channelTag(`room:${v}`)}:room`;
  if (rest === 'ingest:defs' || rest === 'ingest:keys') return `${P}{ingest}:${rest.slice('ingest:'.length)}`;
  if ((v = after('likes:total:')) !== undefined) return `${P}${channelTag(v)}:likes:total`;
  if ((v = after('likes:msg:')) !== undefined) {
    // `<encoded channel>:<message id>`: the channel was encoded, so the first ':' ends it.
    const colon = v.indexOf(':');
    if (colon < 0) return undefined;
    return `${P}${channelTag(decodeURIComponent(v.slice(0, colon)))}:likes:msg:${keyPart(v.slice(colon + 1))}`;
  }
  if ((v = after('lease:fence:')) !== undefined) return `${P}{lease:${v}}:fence`;
  if ((v = after('lease:name:')) !== undefined) return `${P}{lease:${v}}:holder`;
  if (after('pres:') !== undefined || after('proc:') !== undefined) return null;
  return undefined;
}

/** Renames an earlier version's keys once per Redis (a no-op on a cluster and once done). */
export async function migrateKeyLayout(client: RedisClient, log?: RedisLog): Promise<void> {
  if (isCluster(client)) return;
  if ((await client.get(LAYOUT_KEY)) === LAYOUT_VERSION) return;
  let renamed = 0;
  let dropped = 0;
  let kept = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${P}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const target = renamedKey(key);
      if (target === undefined) continue;
      try {
        if (target === null) dropped += await client.del(key);
        else if ((await client.renamenx(key, target)) === 1) renamed++;
        else kept++;
      } catch (err) {
        // Renamed or dropped by another process meanwhile.
        if (!(err instanceof Error && /no such key/i.test(err.message))) throw err;
      }
    }
  } while (cursor !== '0');
  await client.set(LAYOUT_KEY, LAYOUT_VERSION);
  if (renamed + dropped + kept > 0)
    log?.info({ renamed, dropped, keptBoth: kept }, 'redis keys moved to the hash-tagged layout (an earlier version wrote them)');
}
