// Files in MongoDB GridFS (bucket `files`): the bytes in chunks, our id as the GridFS filename (GridFS indexes
// it), owner, room and type in the file's metadata. A file exists once its upload stream finished: GridFS
// writes the files document last, so a reader never sees a partial one.
import { GridFSBucket, type Db, type GridFSFile } from 'mongodb';
import { FILE_ID, type FileMeta, type FileStore, type StoredFile } from './store.js';
import type { ImageType } from './images.js';

interface Metadata {
  ownerId: string;
  roomId: string | null;
  contentType: ImageType;
  createdAt: number;
}

export class GridFsFileStore implements FileStore {
  private readonly bucket: GridFSBucket;
  private indexed: Promise<unknown> | null = null;

  constructor(private readonly db: Db) {
    this.bucket = new GridFSBucket(db, { bucketName: 'files' });
  }

  private async file(id: string): Promise<GridFSFile | null> {
    if (!FILE_ID.test(id)) return null;
    return this.bucket.find({ filename: id }, { limit: 1 }).next();
  }

  private static meta(file: GridFSFile): FileMeta {
    const m = file.metadata as unknown as Metadata;
    return {
      id: file.filename,
      ownerId: m.ownerId,
      roomId: m.roomId,
      contentType: m.contentType,
      size: file.length,
      createdAt: m.createdAt,
    };
  }

  async put(meta: FileMeta, bytes: Buffer): Promise<void> {
    // The quota sums by owner: index it once per process (idempotent).
    this.indexed ??= this.db.collection('files.files').createIndex({ 'metadata.ownerId': 1 });
    await this.indexed;
    const metadata: Metadata = { ownerId: meta.ownerId, roomId: meta.roomId, contentType: meta.contentType, createdAt: meta.createdAt };
    const upload = this.bucket.openUploadStream(meta.id, { metadata });
    await new Promise<void>((resolve, reject) => {
      upload.once('finish', () => resolve());
      upload.once('error', reject);
      upload.end(bytes);
    });
  }

  async meta(id: string): Promise<FileMeta | null> {
    const file = await this.file(id);
    return file ? GridFsFileStore.meta(file) : null;
  }

  async get(id: string): Promise<StoredFile | null> {
    const file = await this.file(id);
    if (!file) return null;
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of this.bucket.openDownloadStream(file._id)) chunks.push(chunk as Buffer);
    } catch (err) {
      if (err instanceof Error && /FileNotFound|file not found/i.test(err.message)) return null; // deleted meanwhile
      throw err;
    }
    return { meta: GridFsFileStore.meta(file), bytes: Buffer.concat(chunks) };
  }

  async delete(id: string): Promise<boolean> {
    const file = await this.file(id);
    if (!file) return false;
    try {
      await this.bucket.delete(file._id);
    } catch (err) {
      if (err instanceof Error && /file not found/i.test(err.message)) return false; // deleted meanwhile
      throw err;
    }
    return true;
  }

  async usage(ownerId: string): Promise<number> {
    const [row] = await this.db
      .collection('files.files')
      .aggregate<{ total: number }>([{ $match: { 'metadata.ownerId': ownerId } }, { $group: { _id: null, total: { $sum: '$length' } } }])
      .toArray();
    return row?.total ?? 0;
  }
}
