// Likes: session likes on a channel (any number, rate-limited at the edge) and likes on a message (one
// per user per message). Shared state, so it sits behind a port like presence.

export interface LikeTotals {
  total: number;
  /** Set for a like on a message. */
  messageLikes?: number;
}

export interface LikeStore {
  /** A like on the channel; returns the channel's new total. */
  likeChannel(channel: string): Promise<LikeTotals>;
  /** Null when this user already liked this message (nothing counted). */
  likeMessage(channel: string, messageId: string, userId: string): Promise<LikeTotals | null>;
  total(channel: string): Promise<number>;
}

interface ChannelLikes {
  total: number;
  /** messageId -> users who liked it. */
  messages: Map<string, Set<string>>;
}

export class MemoryLikeStore implements LikeStore {
  private readonly channels = new Map<string, ChannelLikes>();

  /** Message likers are kept for the newest `maxMessages` liked messages per channel, so memory stays bounded. */
  constructor(private readonly maxMessages = 10_000) {}

  private of(channel: string): ChannelLikes {
    let c = this.channels.get(channel);
    if (!c) this.channels.set(channel, (c = { total: 0, messages: new Map() }));
    return c;
  }

  async likeChannel(channel: string): Promise<LikeTotals> {
    const c = this.of(channel);
    return { total: ++c.total };
  }

  async likeMessage(channel: string, messageId: string, userId: string): Promise<LikeTotals | null> {
    const c = this.of(channel);
    let users = c.messages.get(messageId);
    if (!users) {
      c.messages.set(messageId, (users = new Set()));
      if (c.messages.size > this.maxMessages) c.messages.delete(c.messages.keys().next().value as string);
    }
    if (users.has(userId)) return null;
    users.add(userId);
    return { total: ++c.total, messageLikes: users.size };
  }

  async total(channel: string): Promise<number> {
    return this.channels.get(channel)?.total ?? 0;
  }
}
