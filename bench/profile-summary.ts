// Summarises the V8 CPU profiles a `--profile` bench run wrote (node dist/bench/profile-summary.js <dir>
// [--top 15]): per profile, where the process spent its samples by self time: the top frames, and the same
// time grouped by area (a package under node_modules, a folder of src/, node's internals, GC, idle).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { int } from './lib/flags.js';
import { fmt, markdownTable } from './lib/results.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives, coarse enough to read at a glance. */
export function areaOf(url: string, functionName: string): string {
  // A Piscina worker blocked in Atomics.wait for its next task is idle, though V8 samples it as running.
  if (functionName === 'atomicsWaitLoop' && url.includes('piscina')) return '(idle)';
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  const own = /\/dist\/((?:src|bench)\/[^/]+)/.exec(url);
  if (own) return own[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

/** Self time (µs) per frame and per area. */
export function selfTimes(profile: CpuProfile): { frames: Map<string, number>; areas: Map<string, number>; total: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node || dt <= 0) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules|dist)\//, '$1/');
    const frame = `${functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim();
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const key = area === '(idle)' ? '(idle)' : frame;
    frames.set(key, (frames.get(key) ?? 0) + dt);
    total += dt;
  });
  return { frames, areas, total };
}

/** The n largest entries, with their share of all samples and of the busy ones (idle left out). */
const top = (m: Map<string, number>, n: number, total: number, idle: number): string[][] =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => [
      k,
      fmt(v / 1000, 0),
      `${fmt((100 * v) / total, 1)}%`,
      k === '(idle)' ? '-' : `${fmt((100 * v) / (total - idle), 1)}%`,
    ]);

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const dir = process.argv[2];
  if (dir === undefined || dir.startsWith('--')) throw new Error('usage: node dist/bench/profile-summary.js <profile dir> [--top N]');
  const topIndex = process.argv.indexOf('--top');
  const n = int('top', topIndex > 0 ? process.argv[topIndex + 1] : undefined, 15);
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  for (const file of files) {
    const { frames, areas, total } = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    const idle = areas.get('(idle)') ?? 0;
    console.log(`\n## ${file}: ${fmt(total / 1e6, 1)} s sampled, ${fmt((100 * (total - idle)) / total, 1)}% busy\n`);
    console.log(markdownTable(['area', 'self ms', 'share', 'of busy'], top(areas, n, total, idle)));
    console.log('');
    console.log(markdownTable(['frame', 'self ms', 'share', 'of busy'], top(frames, n, total, idle)));
  }
}
