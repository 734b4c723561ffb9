// FileStore contract, one suite for every driver: memory, the folder driver (a fresh temporary folder per test),
// and GridFS when MONGODB_URL is set (a fresh database per file; skipped otherwise).
//   MONGODB_URL=mongodb://host:27017 npx vitest run --config test/vitest.config.ts test/contracts/files.test.ts
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { FolderFileStore, GridFsFileStore, MemoryFileStore, type FileMeta, type FileStore } from '../../src/files/index.js';
import { mongoUrl, useMongo } from './store-mongo-fixture.js';

const mongo = useMongo();
const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

const meta = (id: string, over: Partial<FileMeta> = {}): FileMeta => ({
  id,
  ownerId: 'u1',
  roomId: 'lobby',
  contentType: 'image/png',
  size: 3,
  createdAt: 1_700_000_000_000,
  ...over,
});
const ID_A = '01jabcdefghjkmnpqrstvwxyz0';
const ID_B = '01jabcdefghjkmnpqrstvwxyz1';
const ID_C = '01jabcdefghjkmnpqrstvwxyz2';

type Driver = [name: string, make: () => Promise<FileStore>, unavailable?: string];
const drivers: Driver[] = [
  ['memory', async () => new MemoryFileStore()],
  [
    'folder',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'chatpulse-files-'));
      folders.push(dir);
      return new FolderFileStore(join(dir, 'files'));
    },
  ],
  [
    'gridfs',
    async () => {
      const { db } = mongo.handle;
      await db.collection('files.files').deleteMany({});
      await db.collection('files.chunks').deleteMany({});
      return new GridFsFileStore(db);
    },
    mongoUrl ? undefined : 'MONGODB_URL not set',
  ],
];

describe.each(drivers)('FileStore contract: %s', (_name, make, unavailable) => {
  beforeEach((ctx) => {
    if (unavailable) ctx.skip(unavailable);
  });

  it('stores bytes and metadata and returns them whole', async () => {
    const files = await make();
    const bytes = Buffer.from([1, 2, 3]);
    await files.put(meta(ID_A), bytes);
    expect(await files.meta(ID_A)).toEqual(meta(ID_A));
    const got = await files.get(ID_A);
    expect(got?.meta).toEqual(meta(ID_A));
    expect(got?.bytes.equals(bytes)).toBe(true);
    // A big file comes back byte for byte (GridFS splits it into chunks).
    const big = Buffer.alloc(600 * 1024, 7);
    big[12345] = 9;
    await files.put(meta(ID_B, { size: big.length, roomId: null }), big);
    expect((await files.get(ID_B))?.bytes.equals(big)).toBe(true);
    expect((await files.meta(ID_B))?.roomId).toBeNull();
  });

  it('knows nothing of unknown or malformed ids', async () => {
    const files = await make();
    expect(await files.get(ID_C)).toBeNull();
    expect(await files.meta('../../etc/passwd')).toBeNull();
    expect(await files.get('../x')).toBeNull();
    expect(await files.delete(ID_C)).toBe(false);
  });

  it('sums usage per owner and forgets deleted files', async () => {
    const files = await make();
    await files.put(meta(ID_A, { size: 3 }), Buffer.from([1, 2, 3]));
    await files.put(meta(ID_B, { size: 2 }), Buffer.from([1, 2]));
    await files.put(meta(ID_C, { size: 4, ownerId: 'u2' }), Buffer.from([1, 2, 3, 4]));
    expect(await files.usage('u1')).toBe(5);
    expect(await files.usage('u2')).toBe(4);
    expect(await files.usage('nobody')).toBe(0);
    expect(await files.delete(ID_A)).toBe(true);
    expect(await files.get(ID_A)).toBeNull();
    expect(await files.usage('u1')).toBe(2);
  });
});

describe('FolderFileStore', () => {
  it('leaves no temporary files and reads usage back after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chatpulse-files-'));
    folders.push(dir);
    const files = new FolderFileStore(dir);
    await files.put(meta(ID_A, { size: 3 }), Buffer.from([1, 2, 3]));
    expect((await readdir(dir)).sort()).toEqual([`${ID_A}.bin`, `${ID_A}.json`]);
    expect(await new FolderFileStore(dir).usage('u1')).toBe(3);
    await expect(files.put(meta('../escape'), Buffer.from([1]))).rejects.toThrow(/not a file id/);
  });
});
