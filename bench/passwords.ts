// Cost of one password hash (register, login, password change) under the old and the new scrypt
// parameters, alone and with 4 at once (libuv's default pool: the most one process runs in parallel).
// Run: npm run bench:passwords
import { randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { hashPassword, SCRYPT_PARAMS } from '../src/auth/passwords.js';

const SETS: Record<string, { N: number; r: number; p: number }> = {
  'old N=2^14 r=8 p=1': { N: 1 << 14, r: 8, p: 1 },
  'new N=2^14 r=8 p=5': { N: 1 << 14, r: 8, p: 5 },
  'alt N=2^17 r=8 p=1': { N: 1 << 17, r: 8, p: 1 },
};

function once(options: ScryptOptions): Promise<void> {
  return new Promise((resolve, reject) =>
    scrypt('correct horse battery', randomBytes(16), 64, { ...options, maxmem: 256 * 1024 * 1024 }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

async function timeMs(run: () => Promise<unknown>, rounds: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

async function main(): Promise<void> {
  const rounds = 7;
  for (const [name, { N, r, p }] of Object.entries(SETS)) {
    await once({ N, r, p }); // warm-up
    const single = await timeMs(() => once({ N, r, p }), rounds);
    const four = await timeMs(() => Promise.all([0, 1, 2, 3].map(() => once({ N, r, p }))), 3);
    const mib = (128 * N * r) / (1024 * 1024);
    console.log(
      `${name.padEnd(20)} one hash ${single.toFixed(0).padStart(5)} ms   4 at once ${four.toFixed(0).padStart(5)} ms   memory per hash ${mib} MiB`,
    );
  }
  const current = await timeMs(() => hashPassword('correct horse battery'), rounds);
  console.log(`hashPassword (N=${SCRYPT_PARAMS.N} r=${SCRYPT_PARAMS.r} p=${SCRYPT_PARAMS.p}): ${current.toFixed(0)} ms`);
}

void main();
