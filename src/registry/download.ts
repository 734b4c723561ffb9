// Downloads one hub model into the cache: each file into a `.part` (continued with a Range request
// after an interruption), verified, renamed; the whole folder is renamed into place only when complete.
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { RegistryError, describeNetworkError } from './errors.js';
import { httpError, hubGet, listTree, networkError, resolveUrl, selectModelFiles, type HubFile } from './hub.js';
import { acquireLock } from './lock.js';
import type { ProgressFn } from './progress.js';
import { MARKER_FILE, isCompleteModelDir, modelCacheDir, type HubId, type Marker } from './spec.js';
import { verifyFile } from './verify.js';

export interface DownloadOptions {
  readonly cacheDir: string;
  readonly endpoint: string;
  readonly revision: string;
  readonly token?: string;
  readonly progress: ProgressFn;
  /** A request that sends nothing for this long is abandoned (the `.part` is kept for resuming). */
  readonly stallTimeoutMs: number;
}

interface FileContext {
  readonly hub: HubId;
  readonly options: DownloadOptions;
  readonly staging: string;
  commit: string | null;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw err;
  }
}

/** Fetches `url` into `part` starting at `offset`; returns where the bytes on disk actually start. */
async function fetchInto(ctx: FileContext, file: HubFile, url: string, part: string, offset: number): Promise<number> {
  const { hub, options } = ctx;
  const controller = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, options.stallTimeoutMs);
  };
  let servedBy = url;
  const fail = (err: unknown, received: number) => {
    const why = stalled ? `no data for ${options.stallTimeoutMs} ms` : describeNetworkError(err);
    const via = servedBy !== url ? ` (redirected to ${servedBy})` : '';
    const kept = received > 0 ? `; ${received} of ${file.size} B kept, run again to resume` : '';
    return networkError(hub, url, err, `${why}${via}${kept}`);
  };

  arm();
  try {
    let response: Response;
    try {
      // The CDN a file redirects to gets no token (hubGet).
      response = await hubGet(url, options.endpoint, options.token, {
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        signal: controller.signal,
      });
    } catch (err) {
      throw fail(err, offset);
    }
    servedBy = response.url || url;
    ctx.commit ??= response.headers.get('x-repo-commit');
    let start = offset;
    if (offset > 0 && response.status === 206) {
      const range = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
      if (range?.[1] === undefined || Number(range[1]) !== offset) {
        // A range we did not ask for cannot be appended; start over rather than guess (this attempt's
        // stall timer stopped first: it must not fire during the next one).
        await response.body?.cancel();
        await unlink(part).catch(() => {});
        clearTimeout(timer);
        return await fetchInto(ctx, file, url, part, 0);
      }
    } else if (offset > 0 && response.status === 416) {
      // The server thinks our `.part` already covers the file, yet it did not verify: start over.
      await response.body?.cancel();
      await unlink(part).catch(() => {});
      clearTimeout(timer);
      return await fetchInto(ctx, file, url, part, 0);
    } else if (response.ok) {
      // 200 to a Range request: the server (or a proxy) ignores ranges, so the body is the whole file.
      start = 0;
    } else {
      await response.body?.cancel();
      throw httpError(hub, options.revision, url, response.status, file.path);
    }
    if (response.body === null) throw fail(new Error('empty response body'), start);

    const handle = await open(part, start > 0 ? 'a' : 'w');
    let received = start;
    let failure: unknown;
    try {
      // Typed ReadableStream<any> by undici; a fetch body yields bytes.
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        received += chunk.byteLength;
        if (received > file.size) {
          controller.abort();
          throw new RegistryError(
            'model_verify_failed',
            `model "${hub.id}": GET ${url} sent more than the hub's ${file.size} B for ${file.path}; the download was deleted`,
          );
        }
        await handle.write(chunk);
        arm();
        options.progress({ kind: 'file', id: hub.id, file: file.path, received, total: file.size, resumedFrom: start, done: false });
      }
    } catch (err) {
      failure = err;
    } finally {
      // Closed before any unlink or rethrow so what was received is on disk for the next attempt.
      await handle.close();
    }
    if (failure instanceof RegistryError) {
      await unlink(part).catch(() => {});
      throw failure;
    }
    if (failure !== undefined) throw fail(failure, received);
    return start;
  } finally {
    clearTimeout(timer);
  }
}

async function downloadFile(ctx: FileContext, file: HubFile, retried = false): Promise<void> {
  const { hub, options, staging } = ctx;
  const target = join(staging, file.path);
  const part = `${target}.part`;
  const url = resolveUrl(options.endpoint, hub, options.revision, file.path);
  const done = (resumedFrom: number) =>
    options.progress({ kind: 'file', id: hub.id, file: file.path, received: file.size, total: file.size, resumedFrom, done: true });
  await mkdir(dirname(target), { recursive: true });

  // Finished by an earlier attempt; re-checked because the revision (a branch) may have moved since.
  if (existsSync(target)) {
    if ((await verifyFile(target, file)).ok) {
      done(file.size);
      return;
    }
    await unlink(target);
  }

  let offset = Math.max(0, await sizeOf(part));
  if (offset > file.size) {
    await unlink(part);
    offset = 0;
  }
  const start = offset === file.size ? offset : await fetchInto(ctx, file, url, part, offset);

  const result = await verifyFile(part, file);
  if (!result.ok) {
    await unlink(part).catch(() => {});
    // Bytes kept from an earlier attempt may belong to an older version of the file: one clean retry.
    if (start > 0 && !retried) return downloadFile(ctx, file, true);
    throw new RegistryError(
      'model_verify_failed',
      `model "${hub.id}": ${file.path} from GET ${url} failed verification (${result.reason}); the download was deleted`,
    );
  }
  await rename(part, target);
  done(start);
}

/** Deletes whatever an earlier attempt left in staging that the current file list does not name. */
async function prune(staging: string, keep: ReadonlySet<string>): Promise<void> {
  const entries = await readdir(staging, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (!keep.has(relative(staging, path).split(sep).join('/'))) await unlink(path);
  }
}

/**
 * Downloads `hub` at `options.revision` unless a complete copy is cached; returns the model folder.
 * Staging lives beside the final folder (same filesystem) so the final rename is atomic.
 */
export async function downloadModel(hub: HubId, options: DownloadOptions): Promise<string> {
  const finalDir = modelCacheDir(options.cacheDir, hub, options.revision);
  if (isCompleteModelDir(finalDir)) return finalDir;
  // Listed before anything is created, so a typo'd id or an offline hub leaves no empty folders behind.
  const files = selectModelFiles(hub, await listTree(hub, options.revision, { ...options, timeoutMs: options.stallTimeoutMs }));
  await mkdir(dirname(finalDir), { recursive: true });
  const lock = await acquireLock(`${finalDir}.lock`, (holder) => options.progress({ kind: 'wait', id: hub.id, holder }));
  try {
    // Another process may have finished it while we waited for the lock.
    if (isCompleteModelDir(finalDir)) return finalDir;
    const staging = `${finalDir}.partial`;
    await mkdir(staging, { recursive: true });
    options.progress({
      kind: 'start',
      id: hub.id,
      revision: options.revision,
      files: files.length,
      bytes: files.reduce((sum, f) => sum + f.size, 0),
    });
    const ctx: FileContext = { hub, options, staging, commit: null };
    for (const file of files) await downloadFile(ctx, file);
    await prune(staging, new Set(files.map((f) => f.path)));

    const marker: Marker = {
      id: hub.id,
      revision: options.revision,
      endpoint: options.endpoint,
      commit: ctx.commit,
      downloadedAt: new Date().toISOString(),
      files: files.map(({ path, size, sha256, oid }) => ({ path, size, ...(sha256 ? { sha256 } : { oid }) })),
    };
    await writeFile(join(staging, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
    // A folder left without a valid marker (damaged after download) is replaced, never merged into.
    await rm(finalDir, { recursive: true, force: true });
    await rename(staging, finalDir);
    options.progress({ kind: 'ready', id: hub.id, dir: finalDir });
    return finalDir;
  } finally {
    await lock.release();
  }
}
