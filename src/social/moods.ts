// Each user's recent chat mood: the mean polarity of their last few messages, fed by the hub as it publishes
// them. Per process and bounded (an LRU of users); the mood is copied into the ticket when the user queues,
// so whichever process scores the pair reads it from the ticket, not from here.

export interface UserMoodsOptions {
  /** Users remembered; the least recently heard from is forgotten first. */
  maxUsers?: number;
  /** Messages per user in the mean. */
  perUser?: number;
  /** Older messages do not count. */
  maxAgeMs?: number;
}

interface Recent {
  polarity: number[];
  ts: number[];
}

export class UserMoods {
  private readonly users = new Map<string, Recent>();
  private readonly maxUsers: number;
  private readonly perUser: number;
  private readonly maxAgeMs: number;

  constructor(options: UserMoodsOptions = {}) {
    this.maxUsers = options.maxUsers ?? 50_000;
    this.perUser = options.perUser ?? 20;
    this.maxAgeMs = options.maxAgeMs ?? 30 * 60_000;
  }

  record(userId: string, polarity: number, ts: number): void {
    if (!Number.isFinite(polarity)) return;
    let recent = this.users.get(userId);
    if (recent)
      this.users.delete(userId); // to the back: most recently heard from
    else recent = { polarity: [], ts: [] };
    recent.polarity.push(Math.max(-1, Math.min(1, polarity)));
    recent.ts.push(ts);
    if (recent.polarity.length > this.perUser) {
      recent.polarity.shift();
      recent.ts.shift();
    }
    this.users.set(userId, recent);
    if (this.users.size > this.maxUsers) this.users.delete(this.users.keys().next().value as string);
  }

  /** Mean polarity of the user's recent messages, or null when none is recent enough. */
  mood(userId: string, now: number): number | null {
    const recent = this.users.get(userId);
    if (!recent) return null;
    let sum = 0;
    let n = 0;
    recent.ts.forEach((ts, i) => {
      if (now - ts <= this.maxAgeMs) {
        sum += recent.polarity[i] as number;
        n++;
      }
    });
    return n === 0 ? null : Math.round((sum / n) * 1000) / 1000;
  }

  get size(): number {
    return this.users.size;
  }
}
