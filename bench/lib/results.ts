// How a bench reports: progress lines while it runs, markdown tables, and the results files it ends with.
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { repoRoot } from './machine.js';

/** A progress line, `[hh:mm:ss] msg`: the shape bench/report.ts streams from each bench it runs. */
export const progress = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

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
function resultsDir(): string {
  const dir = process.env.BENCH_RESULTS_DIR;
  if (dir === undefined || dir.trim() === '') return join(repoRoot, 'bench', 'results');
  return isAbsolute(dir) ? dir : resolve(repoRoot, dir);
}

/**
 * How every bench ends: writes <resultsDir()>/<name>.json and .md (in the source tree, not dist/), prints
 * the markdown and says where the files went.
 */
export function publishResults(name: string, json: unknown, markdown: string): void {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, `${name}.json`), join(dir, `${name}.md`)];
  writeFileSync(files[0] as string, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(files[1] as string, markdown.endsWith('\n') ? markdown : markdown + '\n');
  console.log('\n' + markdown + '\n');
  progress(`wrote ${files.join(', ')}`);
}
