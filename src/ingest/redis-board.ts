// The ingest board in Redis: `cp:ingest:state:<id>` JSON with the owner's lease TTL (see board.ts).
import type { Redis } from 'ioredis';
import { KEY_PREFIX } from '../redis/connection.js';
import type { IngestBoard, StreamState } from './board.js';

export class RedisIngestBoard implements IngestBoard {
  private readonly prefix: string;

  constructor(
    private readonly client: Redis,
    options: { prefix?: string } = {},
  ) {
    this.prefix = `${options.prefix ?? KEY_PREFIX}ingest:state:`;
  }

  async put(id: string, state: StreamState, ttlMs: number): Promise<void> {
    await this.client.set(this.prefix + id, JSON.stringify(state), 'PX', ttlMs);
  }

  async get(ids: readonly string[]): Promise<Map<string, StreamState>> {
    const out = new Map<string, StreamState>();
    if (ids.length === 0) return out;
    const rows = await this.client.mget(ids.map((id) => this.prefix + id));
    rows.forEach((row, i) => {
      if (row !== null) out.set(ids[i] as string, JSON.parse(row) as StreamState);
    });
    return out;
  }

  async remove(id: string): Promise<void> {
    await this.client.del(this.prefix + id);
  }
}
