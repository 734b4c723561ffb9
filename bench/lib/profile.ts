// `--profile` on any bench program: the bench's own process (which holds ChatPulse in bench:engine, ingest and
// store) and every server it starts (ChatPulse, its cluster workers, the peers) run under V8's CPU profiler
// (`node --cpu-prof`, inference threads included), each writing a .cpuprofile when it exits, into
// bench/profiles/<bench>-<time>/ (ignored by git). `node dist/bench/profile-summary.js <dir>` summarises them.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/paths.js';

let dir: string | null = null;

/**
 * Turns profiling on: the first time, runs this very bench again under `--cpu-prof` (its children share the
 * folder through BENCH_PROFILE_DIR) and exits with its status; in that run, returns the folder.
 */
export function enableProfiling(bench: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  dir = process.env.BENCH_PROFILE_DIR ?? join(REPO_ROOT, 'bench', 'profiles', `${bench}-${stamp}`);
  if (!process.execArgv.includes('--cpu-prof')) {
    console.error(`profiling: CPU profiles of this bench and of every server it starts go to ${dir}/`);
    const run = spawnSync(process.execPath, [...process.execArgv, ...profileArgs(), ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_PROFILE_DIR: dir },
    });
    process.exit(run.status ?? 1);
  }
  return dir;
}

/** The node options that profile a child process, when profiling is on. */
export const profileArgs = (): string[] => (dir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
