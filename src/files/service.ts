// The rules of uploaded files: only checked images (images.ts), within the owner's storage quota; a file is
// attached to a chat message only by its uploader, in the room it was uploaded to. Who may read a room's
// file is the gateway's question (it knows rooms); this module knows none.
import { ulid } from '../ids.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { KeyedSerializer } from '../limits/index.js';
import { checkImage, type ImageType } from './images.js';
import type { FileMeta, FileStore, StoredFile } from './store.js';

export interface FileServiceOptions {
  /** Bytes one user may keep stored (files and avatars together). */
  quotaBytes: number;
}

/** A file as a message frame names it. */
export interface FileRef {
  id: string;
  url: string;
  contentType: ImageType;
}

export const fileUrl = (id: string): string => `/api/v1/files/${id}`;

export class FileService {
  private readonly uploads = new KeyedSerializer();

  constructor(
    private readonly store: FileStore,
    private readonly options: FileServiceOptions,
  ) {}

  /**
   * Stores an image for `ownerId` (in `roomId`, or an avatar when null). 400 empty, 415 not an accepted
   * image, 409 `quota_exceeded` past the owner's quota (counted, then stored, one upload per user at a time).
   */
  upload(ownerId: string, roomId: string | null, contentType: string, bytes: Buffer): Promise<FileMeta> {
    const type = checkImage(bytes, contentType);
    return this.uploads.run(ownerId, async () => {
      const used = await this.store.usage(ownerId);
      if (used + bytes.length > this.options.quotaBytes) {
        throw new AppError(409, 'quota_exceeded', `you may store at most ${this.options.quotaBytes} bytes of files (FILE_QUOTA_BYTES)`);
      }
      const meta: FileMeta = { id: ulid().toLowerCase(), ownerId, roomId, contentType: type, size: bytes.length, createdAt: Date.now() };
      await this.store.put(meta, bytes);
      return meta;
    });
  }

  async read(id: string): Promise<StoredFile> {
    const file = await this.store.get(id);
    if (!file) throw notFound(`no file "${id}"`);
    return file;
  }

  meta(id: string): Promise<FileMeta | null> {
    return this.store.meta(id);
  }

  delete(id: string): Promise<boolean> {
    return this.store.delete(id);
  }

  /** The file a chat message of `userId` in room `roomId` may carry: only the uploader's, only from that room. */
  async attachable(userId: string, roomId: string, fileId: string): Promise<FileRef> {
    const meta = await this.store.meta(fileId);
    if (!meta || meta.ownerId !== userId || meta.roomId !== roomId) {
      throw badRequest(`no file "${fileId}" of yours uploaded to this room`, 'invalid_file');
    }
    return { id: meta.id, url: fileUrl(meta.id), contentType: meta.contentType };
  }
}
