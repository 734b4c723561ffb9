// The FileStore port (uploaded images and their owner, room and type) and its memory driver, the reference
// semantics. The folder driver (folder-store.ts) is the default; GridFS (mongo-store.ts) with MONGODB_URL.
import type { ImageType } from './images.js';

export interface FileMeta {
  /** A lowercase ULID: safe as a file name and a path segment. */
  id: string;
  ownerId: string;
  /** The room it was uploaded to; null for an avatar. */
  roomId: string | null;
  contentType: ImageType;
  size: number;
  createdAt: number;
}

export interface StoredFile {
  meta: FileMeta;
  bytes: Buffer;
}

export interface FileStore {
  /** Stores a new file; it is readable (whole) only once this resolves. */
  put(meta: FileMeta, bytes: Buffer): Promise<void>;
  get(id: string): Promise<StoredFile | null>;
  meta(id: string): Promise<FileMeta | null>;
  /** True when a file was removed. */
  delete(id: string): Promise<boolean>;
  /** Bytes stored for this owner (the quota). */
  usage(ownerId: string): Promise<number>;
}

/** File ids are lowercase ULIDs; anything else is no file of ours (and never reaches a path or a query). */
export const FILE_ID = /^[0-9a-hjkmnp-tv-z]{26}$/;

export class MemoryFileStore implements FileStore {
  private readonly files = new Map<string, StoredFile>();

  async put(meta: FileMeta, bytes: Buffer): Promise<void> {
    this.files.set(meta.id, { meta: { ...meta }, bytes: Buffer.from(bytes) });
  }

  async get(id: string): Promise<StoredFile | null> {
    const file = this.files.get(id);
    return file ? { meta: { ...file.meta }, bytes: Buffer.from(file.bytes) } : null;
  }

  async meta(id: string): Promise<FileMeta | null> {
    const file = this.files.get(id);
    return file ? { ...file.meta } : null;
  }

  async delete(id: string): Promise<boolean> {
    return this.files.delete(id);
  }

  async usage(ownerId: string): Promise<number> {
    let n = 0;
    for (const { meta } of this.files.values()) if (meta.ownerId === ownerId) n += meta.size;
    return n;
  }
}
