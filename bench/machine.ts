// Shared bench plumbing: where things are, what machine ran it, percentiles, and the results files.
// Benchmarks are programs (npm run bench:*), never tests: their figures depend on the machine.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_MODEL } from '../src/config.js';
import { BUNDLED_MODELS_DIR, REPO_ROOT } from '../src/paths.js';

export const repoRoot = REPO_ROOT;

const BUNDLED_MODEL = join(BUNDLED_MODELS_DIR, DEFAULT_MODEL);
const FIXTURE_MODEL = '../shared/models/fixtures/tiny-random-roberta-3class';

/**
 * `--model DIR`, else MODEL_DIR, else the bundled model (what `npm start` serves), else the tiny random
 * fixture beside the checkout. Relative paths are from the repo root.
 */
export function resolveModelDir(flag: string | undefined): string {
  const dir = flag ?? process.env.MODEL_DIR ?? (existsSync(join(BUNDLED_MODEL, 'config.json')) ? BUNDLED_MODEL : FIXTURE_MODEL);
  return isAbsolute(dir) ? dir : resolve(repoRoot, dir);
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  memoryGiB: number;
  /** 1-minute load average when the run began: above 0 means neighbours shared the cores. */
  loadAvgStart: number;
  date: string;
}

export function machine(): Machine {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAvgStart: Number(loadavg()[0]?.toFixed(2)),
    date: new Date().toISOString(),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cores} cores, ${m.cpu}, Node ${m.node}, ${m.platform}, ${m.memoryGiB} GiB, load avg ${m.loadAvgStart} at start, ${m.date}`;
}

/** Nearest-rank percentile of an ascending-sorted array (0 when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

/** A positive number from a flag, with the flag's name in the error. */
export function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return value;
}

export const fmt = (n: number, digits = 1): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Where results go: BENCH_RESULTS_DIR (absolute, or relative to the repo root) when set, so quick runs
 * (`npm run bench`) leave the committed full results alone; else bench/results in the source tree.
 */
export function resultsDir(): string {
  const dir = process.env.BENCH_RESULTS_DIR;
  if (dir === undefined || dir.trim() === '') return join(repoRoot, 'bench', 'results');
  return isAbsolute(dir) ? dir : resolve(repoRoot, dir);
}

/** Writes <resultsDir()>/<name>.json and .md (in the source tree, not dist/) and returns their paths. */
export function writeResults(name: string, json: unknown, markdown: string): string[] {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, `${name}.json`), join(dir, `${name}.md`)];
  writeFileSync(files[0] as string, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(files[1] as string, markdown.endsWith('\n') ? markdown : markdown + '\n');
  return files;
}

export const progress = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
