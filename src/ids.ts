// ULIDs for the whole server: ulid's own generator with a pooled random source. ulid's default source
// calls crypto.randomBytes(1) once per random character, 16 calls for each new millisecond: about 80 µs an
// id here against about 1 µs from bytes taken out of a 4 KiB buffer that randomFillSync refills
// (`npm run bench:ids`: one id per millisecond, as a server below 1,000 ids/s sees). Under REST load at half peak those
// calls were the busiest frame of the main thread (`npm run bench:rest -- --profile`). Same CSPRNG bytes,
// same mapping (a byte / 256, 8 values per base-32 character: no bias).
import { randomFillSync } from 'node:crypto';
import { monotonicFactory as factory, ulid as plain, type ULIDFactory } from 'ulid';

const pool = new Uint8Array(4096);
let next = pool.length;

/** A uniform number in [0, 1) in steps of 1/256, from the CSPRNG. */
function random(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return (pool[next++] as number) / 256;
}

/** A ULID (random part from the pooled CSPRNG). */
export const ulid = (seedTime?: number): string => plain(seedTime, random);

/** ULIDs that sort in the order they were made, even within one millisecond. */
export const monotonicFactory = (): ULIDFactory => factory(random);
