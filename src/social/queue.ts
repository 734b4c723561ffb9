// The matching queue: one ticket per user, oldest first. The port and its memory driver (the reference
// semantics); redis-queue.ts shares it across processes. `take` is the only way out of the queue for a pair:
// it removes both tickets only if both are still the ones the caller scored, so whichever process ticks,
// a user is never paired twice (nor with themself).

export interface MatchTicket {
  ticket: string;
  userId: string;
  /** Shown to the partner. */
  name: string;
  interests: string[];
  languages: string[];
  /** The user's recent chat mood when queued (mean polarity in [-1, 1]); null when they said nothing lately. */
  mood: number | null;
  /** Epoch ms. */
  queuedAt: number;
}

export interface QueuedTicket {
  ticket: MatchTicket;
  /** 1-based place in the queue, oldest first. */
  position: number;
}

export interface MatchQueue {
  /** Queues the ticket, replacing the user's previous one (a new place at the back); returns its position. */
  enqueue(ticket: MatchTicket): Promise<number>;
  /** False when the user was not queued. */
  leave(userId: string): Promise<boolean>;
  get(userId: string): Promise<QueuedTicket | null>;
  /** Up to `limit` tickets, oldest first. */
  waiting(limit: number): Promise<MatchTicket[]>;
  /** Removes both tickets, atomically, only if both are still queued with these ticket ids (and differ). */
  take(a: MatchTicket, b: MatchTicket): Promise<boolean>;
  /** Marks users as still connected somewhere (their tickets survive the sweep). */
  touch(userIds: readonly string[], now: number): Promise<void>;
  /** Removes tickets whose user was last seen (or queued) before `before`; returns their user ids. */
  sweep(before: number): Promise<string[]>;
  size(): Promise<number>;
}

export class MemoryMatchQueue implements MatchQueue {
  // Insertion order is queue order: a re-queue deletes, then sets (to the back).
  private readonly tickets = new Map<string, MatchTicket>();
  private readonly seen = new Map<string, number>();

  async enqueue(ticket: MatchTicket): Promise<number> {
    this.tickets.delete(ticket.userId);
    this.tickets.set(ticket.userId, structuredClone(ticket));
    this.seen.set(ticket.userId, ticket.queuedAt);
    return this.tickets.size;
  }

  async leave(userId: string): Promise<boolean> {
    this.seen.delete(userId);
    return this.tickets.delete(userId);
  }

  async get(userId: string): Promise<QueuedTicket | null> {
    let position = 0;
    for (const [id, ticket] of this.tickets) {
      position++;
      if (id === userId) return { ticket: structuredClone(ticket), position };
    }
    return null;
  }

  async waiting(limit: number): Promise<MatchTicket[]> {
    const out: MatchTicket[] = [];
    for (const ticket of this.tickets.values()) {
      if (out.length >= limit) break;
      out.push(structuredClone(ticket));
    }
    return out;
  }

  async take(a: MatchTicket, b: MatchTicket): Promise<boolean> {
    if (a.userId === b.userId) return false;
    if (this.tickets.get(a.userId)?.ticket !== a.ticket || this.tickets.get(b.userId)?.ticket !== b.ticket) return false;
    for (const id of [a.userId, b.userId]) {
      this.tickets.delete(id);
      this.seen.delete(id);
    }
    return true;
  }

  async touch(userIds: readonly string[], now: number): Promise<void> {
    for (const id of userIds) if (this.tickets.has(id)) this.seen.set(id, now);
  }

  async sweep(before: number): Promise<string[]> {
    const gone: string[] = [];
    for (const [id, at] of this.seen) if (at < before) gone.push(id);
    for (const id of gone) {
      this.seen.delete(id);
      this.tickets.delete(id);
    }
    return gone;
  }

  async size(): Promise<number> {
    return this.tickets.size;
  }
}
