// Likes shared by every process: a counter per channel (`cp:{ch:<channel>}:likes:total`) and per liked
// message the set of users who liked it (`cp:{ch:<channel>}:likes:msg:<messageId>`), which expires so memory
// stays bounded (the memory driver keeps the newest N messages instead). A message like is one script, so
// "add the user, and count only if they were new" is atomic across processes: a duplicate never counts.
// Both keys carry the channel's hash tag, so on a Redis Cluster the script touches one slot (the channel's,
// shared with its presence and bus channel: a channel's traffic lands on one master).
//
// While Redis is unreachable the calls reject (the like is refused); there is no sensible local stand-in
// for a shared total. Counters are kept without expiry, like the memory driver's.
import { KEY_PREFIX, keyPart, LuaScript, type RedisClient } from '../redis/connection.js';
import { channelTag } from '../redis/keys.js';
import type { LikeStore, LikeTotals } from './likes.js';

// KEYS[1] channel total, KEYS[2] the message's likers. ARGV[1] user id, ARGV[2] likers ttl in seconds.
// Returns nil for a repeated like, else {new channel total, likes of the message}.
const LIKE_MESSAGE = new LuaScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return false end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return { redis.call('INCR', KEYS[1]), redis.call('SCARD', KEYS[2]) }
`);

export interface RedisLikeStoreOptions {
  /** How long a message's likers are remembered after its last like (a like after that counts again). */
  messageTtlS?: number;
  prefix?: string;
}

export class RedisLikeStore implements LikeStore {
  private readonly prefix: string;
  private readonly messageTtlS: number;

  constructor(
    private readonly client: RedisClient,
    options: RedisLikeStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? KEY_PREFIX;
    this.messageTtlS = options.messageTtlS ?? 24 * 3600;
  }

  private totalKey(channel: string): string {
    return `${this.prefix}${channelTag(channel)}:likes:total`;
  }

  async likeChannel(channel: string): Promise<LikeTotals> {
    return { total: await this.client.incr(this.totalKey(channel)) };
  }

  async likeMessage(channel: string, messageId: string, userId: string): Promise<LikeTotals | null> {
    const likersKey = `${this.prefix}${channelTag(channel)}:likes:msg:${keyPart(messageId)}`;
    const res = (await LIKE_MESSAGE.run(this.client, [this.totalKey(channel), likersKey], [userId, this.messageTtlS])) as
      [unknown, unknown] | null;
    return res === null ? null : { total: Number(res[0]), messageLikes: Number(res[1]) };
  }

  async total(channel: string): Promise<number> {
    return Number((await this.client.get(this.totalKey(channel))) ?? 0);
  }
}
