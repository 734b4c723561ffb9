// Where the repository is, found from this module's own location, so the same code works from src/
// (tests) and from dist/src/ (npm start).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
/** The bundled models: `models/<name>/` in the Hugging Face layout. */
export const BUNDLED_MODELS_DIR = join(REPO_ROOT, 'models');
