// The JWT secret of a development server. Without JWT_SECRET a process used to sign with a random secret of
// its own, so every restart signed everyone out. Outside production (NODE_ENV !== 'production') the secret
// is now generated once and kept in .chatpulse/dev-secret at the repository root (git-ignored, mode 0600
// in a 0700 folder), so tokens survive restarts. JWT_SECRET, when set, always wins and the file is not
// touched; in production nothing is written and the rules stay as they were (a random per-process secret,
// and JWT_SECRET required with Redis: src/config.ts).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../config.js';
import { REPO_ROOT } from '../paths.js';

export const DEV_SECRET_FILE = join(REPO_ROOT, '.chatpulse', 'dev-secret');

export type JwtSecretSource =
  /** JWT_SECRET from the environment. */
  | { kind: 'env'; secret: string }
  /** The development secret kept in `file`; `created` on the first start. */
  | { kind: 'file'; secret: string; file: string; created: boolean }
  /** None: the process signs with a random secret of its own (production without JWT_SECRET, or no file). */
  | { kind: 'process'; reason: string };

const isErrno = (err: unknown, code: string): boolean => err instanceof Error && (err as NodeJS.ErrnoException).code === code;

function readSecret(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  const secret = text.trim();
  if (Buffer.byteLength(secret) < 32) {
    throw new ConfigError(`${file} holds no usable secret (under 32 bytes): delete it and a new one is generated`);
  }
  // Someone loosened it (or copied it in): keep it readable by its owner only.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return secret;
}

/** Reads the development secret from `file`, creating it (mode 0600) the first time. */
export function developmentSecret(file: string = DEV_SECRET_FILE): { secret: string; created: boolean } {
  const existing = readSecret(file);
  if (existing !== null) return { secret: existing, created: false };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64');
  try {
    // 'wx': two processes starting at once agree on the first one's secret instead of overwriting it.
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const raced = readSecret(file);
    if (raced !== null) return { secret: raced, created: false };
    throw err;
  }
  return { secret, created: true };
}

/** Where this process's JWT secret comes from: JWT_SECRET, else (outside production) the development file. */
export function jwtSecretSource(
  jwtSecret: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  file: string = DEV_SECRET_FILE,
): JwtSecretSource {
  if (jwtSecret !== undefined) return { kind: 'env', secret: jwtSecret };
  if (env.NODE_ENV === 'production') return { kind: 'process', reason: 'NODE_ENV=production and JWT_SECRET is not set' };
  try {
    const { secret, created } = developmentSecret(file);
    return { kind: 'file', secret, file, created };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A read-only checkout must still start: as before, with a secret of this process's own.
    return { kind: 'process', reason: `${file} could not be written (${err instanceof Error ? err.message : String(err)})` };
  }
}
