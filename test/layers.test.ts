// The layer map of docs/architecture.md, checked from the imports: every relative import in src/ points to a
// lower layer (or stays in its own folder), the SDK reaches the server only through contract/, and no file
// imports itself back through a chain (no cycles).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

/** Lower numbers sit lower. A folder (or a file directly in src/) may import only from strictly lower ranks. */
const RANK: Record<string, number> = {
  // The wire contract sits under everything (it imports only TypeBox): vocabulary.ts takes its words from it.
  contract: -1,
  vocabulary: 0,
  errors: 0,
  config: 0,
  paths: 0,
  ids: 0,
  observability: 1,
  redis: 2,
  mongo: 2,
  limits: 3,
  registry: 3,
  sentiment: 3,
  auth: 4,
  store: 4,
  files: 4,
  channels: 5,
  profiles: 5,
  ingest: 6,
  social: 6,
  gateway: 7,
  app: 8,
  cluster: 9,
  cli: 9,
  main: 10,
};
/** Outside the server's layers: what each may import. */
const ISLANDS: Record<string, readonly string[]> = { client: ['contract'], dashboard: ['client', 'contract'] };

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The unit a file belongs to: its top folder under src/, or its own name for a file directly in src/. */
const unitOf = (file: string): string =>
  relative(SRC, file)
    .split('/')[0]!
    .replace(/\.tsx?$/, '');

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  // Static imports and re-exports (`from '…'`), bare side-effect imports and dynamic `import('…')`.
  for (const m of text.matchAll(/(?:^\s*(?:import|export)\b[^'";]*?\bfrom\s*|^\s*import\s*|\bimport\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts'));
  }
  return out;
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('layers', () => {
  it('knows every folder of src/', () => {
    const units = new Set(files.map(unitOf));
    const unknown = [...units].filter((u) => !(u in RANK) && !(u in ISLANDS));
    expect(unknown, 'add new folders to RANK (and to the map in docs/architecture.md)').toEqual([]);
  });

  it('imports only point down the map', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = unitOf(file);
      for (const target of targets) {
        const to = unitOf(target);
        if (to === from) continue;
        const allowed = from in ISLANDS ? ISLANDS[from]!.includes(to) : to in RANK && RANK[to]! < RANK[from]!;
        if (!allowed) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycles', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
