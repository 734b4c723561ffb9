// Readings from /proc: the CPU time and RSS of the processes a bench started (every thread included), and
// how busy the whole machine was, so a bench charges each process its own CPU and can tell what neighbours took.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface CpuTime {
  user: number;
  sys: number;
}

/** The fields of a stat(5) file after "(comm)", which may itself hold spaces: [0] is field 3, the state. */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * User and system CPU seconds of a process, all its threads included (ChatPulse's inference workers too),
 * or with `tid` of that one thread. utime and stime are fields 14 and 15 of stat(5).
 */
export function cpuTime(pid: number, tid?: number): CpuTime {
  const fields = statFields(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`);
  return { user: Number(fields[11]) / CLOCK_TICKS, sys: Number(fields[12]) / CLOCK_TICKS };
}

export const cpuSum = (t: CpuTime): number => t.user + t.sys;

export const cpuSeconds = (pid: number): number => cpuSum(cpuTime(pid));

/** CPU time summed over processes; a process already gone counts 0. */
export function cpuOf(pids: readonly number[]): CpuTime {
  const total: CpuTime = { user: 0, sys: 0 };
  for (const pid of pids) {
    try {
      const t = cpuTime(pid);
      total.user += t.user;
      total.sys += t.sys;
    } catch {
      // exited: its time is lost to the reading (the run notes a dead process)
    }
  }
  return total;
}

export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) * 1024;
}

/** RSS summed over processes; a process already gone counts 0. */
export function rssOf(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += rssBytes(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/** The soft open-files limit the process actually runs under. */
export function openFilesLimit(pid: number): number {
  const match = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return match === null || match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

export const alive = (pid: number): boolean => existsSync(`/proc/${pid}/stat`);

/** The parent's pid (field 4 of stat(5)), or null once the process is gone. */
export function ppidOf(pid: number): number | null {
  try {
    return Number(statFields(`/proc/${pid}/stat`)[1]);
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine spent busy (every core: user, nice, system, irq, softirq, steal) from
 * /proc/stat. Minus what the bench's own processes used over a window, it is what neighbours took.
 */
export function machineBusyS(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((total, x) => total + (x ?? 0), 0) / CLOCK_TICKS;
}
