// `--profile` on any bench: every ChatPulse process it starts runs with V8's CPU profiler (`--cpu-prof`),
// and writes a .cpuprofile when it exits; `node dist/bench/profile-summary.js <dir>` then lists the top
// frames by self time. Profiles go to bench/profiles/<bench>-<time>/ (ignored by git).
import { join } from 'node:path';

let dir: string | null = null;

/** Turns profiling on for this bench run; returns the folder the profiles go to. */
export function enableProfiling(bench: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  dir = join('bench', 'profiles', `${bench}-${stamp}`);
  return dir;
}

/** The node options that profile a child process, when profiling is on. */
export const profileArgs = (): string[] => (dir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]);

export const profileDir = (): string | null => dir;
