import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// Parameters are written into every stored hash (`scrypt$N$r$p$salt$digest`), so they can be raised
// without invalidating existing hashes: verify reads them back from the string, and login re-hashes a
// password stored under older parameters (needsRehash).
const SCHEME = 'scrypt';
// OWASP's password storage cheat sheet lists N=2^17,r=8,p=1 and N=2^14,r=8,p=5 as equivalent (same CPU:
// scrypt does N*r*p mixing work, ~5x the former N=2^14,p=1 here). We take p=5 for its memory: scrypt holds
// 128*N*r bytes per hash, 16 MiB here against 128 MiB for N=2^17. A process runs up to 4 hashes at once
// (libuv's default pool), so a login burst costs 64 MiB per process instead of 512 MiB: with WORKERS=2 on a
// 2-core, 24 GiB machine that is 128 MiB against 1 GiB, and in a pod with a 512 MiB limit the N=2^17 choice
// alone would be OOM-killed by four concurrent logins. Node's scrypt runs the p lanes one after another in
// the same thread, so p=5 buys no parallelism an attacker could not also use: its cost per guess is the same.
const COST_N = 16384;
const BLOCK_R = 8;
const PARALLEL_P = 5;
/** The parameters new hashes get. */
export const SCRYPT_PARAMS: Readonly<{ N: number; r: number; p: number }> = { N: COST_N, r: BLOCK_R, p: PARALLEL_P };
const SALT_BYTES = 16;
const KEY_BYTES = 64;

// Bounds for parameters read back from storage: a tampered or corrupt row must not
// be able to make one verify burn unbounded CPU/memory on the libuv pool.
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 256;
// scrypt needs ~128*N*r bytes; Node's default cap (32 MiB) would reject the upper bounds above.
const MAX_MEM = 256 * 1024 * 1024;

// Hand-rolled rather than util.promisify: promisify's typing of scrypt drops the options overload.
function scryptAsync(password: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function format(n: number, r: number, p: number, salt: Buffer, hash: Buffer): string {
  return `${SCHEME}$${n}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, KEY_BYTES, { N: COST_N, r: BLOCK_R, p: PARALLEL_P, maxmem: MAX_MEM });
  return format(COST_N, BLOCK_R, PARALLEL_P, salt, hash);
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseIntStrict(s: string | undefined): number | null {
  if (s === undefined || !/^[1-9][0-9]{0,9}$/.test(s)) return null;
  return Number(s);
}

function parse(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== SCHEME) return null;
  const n = parseIntStrict(parts[1]);
  const r = parseIntStrict(parts[2]);
  const p = parseIntStrict(parts[3]);
  const saltB64 = parts[4] ?? '';
  const hashB64 = parts[5] ?? '';
  if (n === null || r === null || p === null) return null;
  // N must be a power of two > 1 for scrypt.
  if (n < 2 || n > MAX_N || (n & (n - 1)) !== 0 || r > MAX_R || p > MAX_P) return null;
  if (!B64.test(saltB64) || !B64.test(hashB64)) return null;
  const salt = Buffer.from(saltB64, 'base64');
  const hash = Buffer.from(hashB64, 'base64');
  if (salt.length === 0 || hash.length < MIN_KEY_BYTES || hash.length > MAX_KEY_BYTES) return null;
  return { n, r, p, salt, hash };
}

/** Never throws on bad stored data: a corrupt row should read as "wrong password", not a 500. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof stored !== 'string') return false;
  const parsed = parse(stored);
  if (!parsed) return false;
  let candidate: Buffer;
  try {
    candidate = await scryptAsync(password, parsed.salt, parsed.hash.length, {
      N: parsed.n,
      r: parsed.r,
      p: parsed.p,
      maxmem: MAX_MEM,
    });
  } catch {
    return false;
  }
  // Lengths are equal by construction (keyLen = stored length); timingSafeEqual needs that.
  return timingSafeEqual(candidate, parsed.hash);
}

/**
 * True when `stored` was made with other parameters than new hashes get (or is unreadable): after a
 * successful login the service then stores a fresh hash, so old accounts move to the current cost.
 */
export function needsRehash(stored: string): boolean {
  const parsed = typeof stored === 'string' ? parse(stored) : null;
  return parsed === null || parsed.n !== COST_N || parsed.r !== BLOCK_R || parsed.p !== PARALLEL_P || parsed.hash.length !== KEY_BYTES;
}

/**
 * A well-formed hash that no password matches (random salt and digest), built with the
 * current parameters so verifying against it costs the same as verifying a real user.
 * Login runs it for unknown usernames so response time does not reveal which exist.
 */
export const DUMMY_PASSWORD_HASH: string = format(COST_N, BLOCK_R, PARALLEL_P, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES));
