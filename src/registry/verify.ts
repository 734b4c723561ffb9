// Checks a downloaded file against what the hub says it is: size, then sha256 (LFS) or the git blob
// sha1 (plain files), read from disk so resumed files are checked as a whole.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { HubFile } from './hub.js';

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Git's object id for a blob: sha1 over a `blob <size>\0` header and the content. */
export function gitBlobHasher(size: number) {
  return createHash('sha1').update(`blob ${size}\0`);
}

export async function verifyFile(path: string, expected: HubFile): Promise<VerifyResult> {
  const { size } = await stat(path);
  if (size !== expected.size) return { ok: false, reason: `size ${size} B, expected ${expected.size} B` };
  const hash = expected.sha256 !== undefined ? createHash('sha256') : gitBlobHasher(size);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  const want = expected.sha256 ?? expected.oid;
  if (actual !== want) {
    const kind = expected.sha256 !== undefined ? 'sha256' : 'git blob sha1';
    return { ok: false, reason: `${kind} ${actual}, expected ${want}` };
  }
  return { ok: true };
}
