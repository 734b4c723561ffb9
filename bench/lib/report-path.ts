// Where `npm run bench` writes its report. bench/results/latest.md (and latest.json) are committed and
// quoted from the docs, so only a complete run replaces them: every area selected (no --only, no --skip)
// and none failed. A partial or failed run writes beside them, into the git-ignored bench/results/quick/
// (where the quick runs' own results already go), as partial-<UTC date and time>.md / .json.
import { join } from 'node:path';

export interface ReportSelection {
  /** --only: the areas asked for (empty: all). */
  only: readonly string[];
  /** --skip: the areas left out (empty: none). */
  skip: readonly string[];
  /** Benches that failed (or timed out, or were missing) in this run. */
  failed: number;
}

export interface ReportPaths {
  md: string;
  json: string;
  /** True when this run replaces the committed latest.md / latest.json. */
  latest: boolean;
}

/** `2026-12-07T01-20-33Z`: sortable and safe in a file name. */
export function reportStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
}

export function reportPaths(repoRoot: string, selection: ReportSelection, date: Date): ReportPaths {
  const results = join(repoRoot, 'bench', 'results');
  if (selection.only.length === 0 && selection.skip.length === 0 && selection.failed === 0) {
    return { md: join(results, 'latest.md'), json: join(results, 'latest.json'), latest: true };
  }
  const base = join(results, 'quick', `partial-${reportStamp(date)}`);
  return { md: `${base}.md`, json: `${base}.json`, latest: false };
}
