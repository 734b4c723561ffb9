// Presence: how many sockets watch a channel. The count is what `viewers` reports; the memory driver
// counts this process's sockets, a Redis driver counts the cluster's.

export interface PresenceStore {
  /** Records one more viewer of the channel; returns the new count. */
  join(channel: string, connectionId: string): Promise<number>;
  /** Returns the new count. */
  leave(channel: string, connectionId: string): Promise<number>;
  count(channel: string): Promise<number>;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly viewers = new Map<string, Set<string>>();

  async join(channel: string, connectionId: string): Promise<number> {
    let set = this.viewers.get(channel);
    if (!set) this.viewers.set(channel, (set = new Set()));
    set.add(connectionId);
    return set.size;
  }

  async leave(channel: string, connectionId: string): Promise<number> {
    const set = this.viewers.get(channel);
    if (!set) return 0;
    set.delete(connectionId);
    if (set.size === 0) this.viewers.delete(channel);
    return set.size;
  }

  async count(channel: string): Promise<number> {
    return this.viewers.get(channel)?.size ?? 0;
  }
}
