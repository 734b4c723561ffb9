// A cross-process lock on one cache entry, so server workers or a CLI run started beside the server do
// not write the same `.part` files at once.
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// The holder refreshes the lock's mtime; a lock nobody refreshed for STALE_MS belongs to a process that
// died (a pid check would not do: containers restart with the same pids).
const HEARTBEAT_MS = 2_000;
const STALE_MS = 20_000;
const POLL_MS = 200;

export interface Lock {
  release(): Promise<void>;
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx');
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function isStale(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > STALE_MS;
  } catch (err) {
    // Released between our create attempt and this stat: not stale, just gone; the next try wins.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Waits for as long as the current holder keeps its heartbeat. Two waiters taking over the same stale
 * lock can race; the worst outcome is an interleaved `.part`, which hash verification rejects.
 */
export async function acquireLock(path: string, onWait?: (holder: string) => void): Promise<Lock> {
  let announced = false;
  for (;;) {
    if (await tryCreate(path)) break;
    if (await isStale(path)) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (!announced && onWait) {
      announced = true;
      onWait((await readFile(path, 'utf8').catch(() => '?')).trim());
    }
    await sleep(POLL_MS);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    async release() {
      clearInterval(heartbeat);
      await unlink(path).catch(() => {});
    },
  };
}
