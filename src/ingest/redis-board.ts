// The ingest board in Redis: `cp:ingest:state:<id>` JSON with the owner's lease TTL (see board.ts). One key
// per stream, no hash tag: on a Redis Cluster the entries spread over the masters, and a read of many is one
// MGET per slot (mgetAny).
import { KEY_PREFIX, type RedisClient } from '../redis/connection.js';
import { mgetAny } from '../redis/keys.js';
import type { IngestBoard, StreamState } from './board.js';

export class RedisIngestBoard implements IngestBoard {
  private readonly prefix: string;

  constructor(
    private readonly client: RedisClient,
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
    const rows = await mgetAny(
      this.client,
      ids.map((id) => this.prefix + id),
    );
    rows.forEach((row, i) => {
      if (row !== null) out.set(ids[i] as string, JSON.parse(row) as StreamState);
    });
    return out;
  }

  async remove(id: string): Promise<void> {
    await this.client.del(this.prefix + id);
  }
}
