// Where the bench runs: the repository, the model it serves, and the machine (recorded with every result,
// since the figures depend on it).
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_MODEL } from '../../src/config.js';
import { BUNDLED_MODELS_DIR, REPO_ROOT } from '../../src/paths.js';

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
    loadAvgStart: loadAvgNow(),
    date: new Date().toISOString(),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cores} cores, ${m.cpu}, Node ${m.node}, ${m.platform}, ${m.memoryGiB} GiB, load avg ${m.loadAvgStart} at start, ${m.date}`;
}

/** The 1-minute load average, 2 decimals (the bench's own processes count too). */
export const loadAvgNow = (): number => Number(loadavg()[0]?.toFixed(2));
