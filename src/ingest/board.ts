// The ingest board: each stream's live state (status, owner, counters) as its owner last reported it, so
// any process can answer GET /api/v1/ingest. Entries expire with the owner's lease: a dead owner's report
// disappears instead of claiming "live" forever. Memory driver here (one process), Redis in redis-board.ts.
import type { IngestStatus } from './source.js';

export interface StreamCounters {
  messages: number;
  /** Lines the engine refused (overloaded) or failed on: counted, never silently lost. */
  dropped: number;
  deletes: number;
  members: number;
  gifts: number;
  reconnects: number;
}

export interface StreamState {
  status: IngestStatus;
  /** `<host>:<pid>` of the process that owns the stream. */
  owner: string;
  /** The owner's lease fencing token. */
  token: number;
  /** Epoch ms when this owner took the stream. */
  since: number;
  counters: StreamCounters;
  /** The platform's own figures, when it reports them (TikTok). */
  viewers: number | null;
  likes: number | null;
  lastError: string | null;
  updatedAt: number;
}

export interface IngestBoard {
  put(id: string, state: StreamState, ttlMs: number): Promise<void>;
  get(ids: readonly string[]): Promise<Map<string, StreamState>>;
  remove(id: string): Promise<void>;
}

export class MemoryIngestBoard implements IngestBoard {
  private readonly entries = new Map<string, { state: StreamState; expiresAt: number }>();

  async put(id: string, state: StreamState, ttlMs: number): Promise<void> {
    this.entries.set(id, { state: structuredClone(state), expiresAt: Date.now() + ttlMs });
  }

  async get(ids: readonly string[]): Promise<Map<string, StreamState>> {
    const now = Date.now();
    const out = new Map<string, StreamState>();
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e && e.expiresAt > now) out.set(id, structuredClone(e.state));
      else if (e) this.entries.delete(id);
    }
    return out;
  }

  async remove(id: string): Promise<void> {
    this.entries.delete(id);
  }
}
