// Files in a folder (FILES_DIR): `<id>.bin` holds the bytes and `<id>.json` the metadata. Both are written to a
// temporary name and renamed into place (bytes first, metadata last), so a reader never sees half a file and a
// file exists once its metadata does. Names come from FILE_ID only, never from a client.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_ID, type FileMeta, type FileStore, type StoredFile } from './store.js';

export class FolderFileStore implements FileStore {
  private ready: Promise<void> | null = null;
  /** Bytes per owner, read from the folder once and kept up to date by this process. */
  private usageByOwner: Map<string, number> | null = null;

  constructor(private readonly dir: string) {}

  private path(id: string, ext: 'bin' | 'json'): string {
    if (!FILE_ID.test(id)) throw new Error(`not a file id: ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.${ext}`);
  }

  private folder(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    return this.ready;
  }

  private async writeAtomic(path: string, data: Buffer | string): Promise<void> {
    const tmp = join(this.dir, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(tmp, data, { flag: 'wx' });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async put(meta: FileMeta, bytes: Buffer): Promise<void> {
    await this.folder();
    const usage = await this.usages();
    await this.writeAtomic(this.path(meta.id, 'bin'), bytes);
    await this.writeAtomic(this.path(meta.id, 'json'), JSON.stringify(meta));
    usage.set(meta.ownerId, (usage.get(meta.ownerId) ?? 0) + meta.size);
  }

  async meta(id: string): Promise<FileMeta | null> {
    if (!FILE_ID.test(id)) return null;
    try {
      return JSON.parse(await readFile(this.path(id, 'json'), 'utf8')) as FileMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async get(id: string): Promise<StoredFile | null> {
    const meta = await this.meta(id);
    if (!meta) return null;
    try {
      return { meta, bytes: await readFile(this.path(id, 'bin')) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // deleted meanwhile
      throw err;
    }
  }

  async delete(id: string): Promise<boolean> {
    const meta = await this.meta(id);
    if (!meta) return false;
    // Metadata first: from then on the file does not exist, even if removing its bytes fails.
    await rm(this.path(id, 'json'), { force: true });
    await rm(this.path(id, 'bin'), { force: true });
    const usage = await this.usages();
    usage.set(meta.ownerId, Math.max(0, (usage.get(meta.ownerId) ?? 0) - meta.size));
    return true;
  }

  async usage(ownerId: string): Promise<number> {
    return (await this.usages()).get(ownerId) ?? 0;
  }

  private async usages(): Promise<Map<string, number>> {
    if (this.usageByOwner) return this.usageByOwner;
    await this.folder();
    const usage = new Map<string, number>();
    for (const name of await readdir(this.dir)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (!FILE_ID.test(id)) continue;
      const meta = await this.meta(id);
      if (meta) usage.set(meta.ownerId, (usage.get(meta.ownerId) ?? 0) + meta.size);
    }
    this.usageByOwner ??= usage;
    return this.usageByOwner;
  }
}
