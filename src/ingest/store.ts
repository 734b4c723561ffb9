// Ingest definitions (what should be ingested; ownership and live status live in the lease and the board):
// the port and its memory driver. Redis: redis-store.ts; MongoDB: mongo-store.ts.
import { conflict } from '../errors.js';
import type { SourceKind } from '../vocabulary.js';

export interface IngestRecord {
  id: string;
  source: SourceKind;
  /** Normalized platform channel name. */
  channel: string;
  createdBy: string;
  createdAt: number;
}

/** Ingest definitions: what should be ingested (ownership and live status are not stored here). */
export interface IngestStore {
  /** Throws conflict when (source, channel) is defined already. */
  create(rec: IngestRecord): Promise<void>;
  get(id: string): Promise<IngestRecord | null>;
  find(source: SourceKind, channel: string): Promise<IngestRecord | null>;
  /** Oldest first. */
  list(): Promise<IngestRecord[]>;
  delete(id: string): Promise<boolean>;
}

export const ingestConflict = (source: SourceKind, channel: string) => conflict(`${source} channel "${channel}" is already ingested`);

export class MemoryIngestStore implements IngestStore {
  readonly #byId = new Map<string, IngestRecord>();
  readonly #idByKey = new Map<string, string>();

  async create(rec: IngestRecord): Promise<void> {
    const key = `${rec.source}|${rec.channel}`;
    if (this.#idByKey.has(key)) throw ingestConflict(rec.source, rec.channel);
    if (this.#byId.has(rec.id)) throw conflict(`ingest "${rec.id}" already exists`);
    this.#byId.set(rec.id, structuredClone(rec));
    this.#idByKey.set(key, rec.id);
  }

  async get(id: string): Promise<IngestRecord | null> {
    const rec = this.#byId.get(id);
    return rec ? structuredClone(rec) : null;
  }

  async find(source: SourceKind, channel: string): Promise<IngestRecord | null> {
    const id = this.#idByKey.get(`${source}|${channel}`);
    return id === undefined ? null : this.get(id);
  }

  async list(): Promise<IngestRecord[]> {
    return [...this.#byId.values()]
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => structuredClone(r));
  }

  async delete(id: string): Promise<boolean> {
    const rec = this.#byId.get(id);
    if (!rec) return false;
    this.#byId.delete(id);
    this.#idByKey.delete(`${rec.source}|${rec.channel}`);
    return true;
  }
}
