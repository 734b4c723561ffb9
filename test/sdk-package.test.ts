// The SDK as a package, seen from outside the repo: a project whose node_modules/chatpulse links to this
// checkout imports `chatpulse/client` through package.json's `exports` and type-checks against the emitted
// declarations: docs/sdk.md's Node 20 example (NodeNext resolution, `ws`) and its browser example (bundler
// resolution, DOM types, no Node types). Node loads the same specifier at run time. Needs `npm run build`
// (npm test runs it first).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The examples of docs/sdk.md, as written there: each ```ts block after a `<!-- checked: <name> -->` line. */
function docExamples(): Record<'node' | 'browser', string> {
  const doc = readFileSync(join(ROOT, 'docs/sdk.md'), 'utf8');
  const found = new Map([...doc.matchAll(/<!-- checked: (\w+) -->\n```ts\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]]));
  const node = found.get('node');
  const browser = found.get('browser');
  if (node === undefined || browser === undefined) throw new Error('docs/sdk.md lost its checked Node or browser example');
  return { node, browser };
}

// Real types, not an untyped import that accepts anything: the old flat names must be refused.
const GUARD = `
import { ChatPulseClient } from 'chatpulse/client';
const client = new ChatPulseClient({ baseUrl: 'http://localhost:8080' });
// @ts-expect-error the flat names are gone
void client.predict('x');
export const typed: Promise<{ label: string }> = client.sentiment.predict('x');
`;

const CONFIGS = {
  node: {
    compilerOptions: {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    },
    files: ['node.ts', 'guard.ts'],
  },
  // The declarations themselves are checked here (skipLibCheck off) with no Node types: a browser build
  // must not need @types/node.
  browser: {
    compilerOptions: {
      module: 'ESNext',
      moduleResolution: 'Bundler',
      target: 'ES2022',
      lib: ['ES2023', 'DOM'],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      skipDefaultLibCheck: true,
    },
    files: ['browser.ts', 'guard.ts'],
  },
};

let dir: string;

beforeAll(async () => {
  // The JavaScript, not the declarations: a build that emits no declarations must fail the checks below.
  if (!existsSync(join(ROOT, 'dist/src/client/index.js')))
    throw new Error('dist/src/client/index.js is missing: run `npm run build` first');
  dir = await mkdtemp(join(tmpdir(), 'chatpulse-consumer-'));
  await mkdir(join(dir, 'node_modules/@types'), { recursive: true });
  await symlink(ROOT, join(dir, 'node_modules/chatpulse'), 'dir');
  await symlink(join(ROOT, 'node_modules/ws'), join(dir, 'node_modules/ws'), 'dir');
  for (const t of ['node', 'ws']) await symlink(join(ROOT, 'node_modules/@types', t), join(dir, 'node_modules/@types', t), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const examples = docExamples();
  await writeFile(join(dir, 'node.ts'), examples.node);
  await writeFile(join(dir, 'browser.ts'), examples.browser);
  await writeFile(join(dir, 'guard.ts'), GUARD);
  for (const [name, config] of Object.entries(CONFIGS))
    await writeFile(join(dir, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
});

afterAll(async () => {
  // Unset when beforeAll failed before mkdtemp.
  if ((dir as string | undefined) !== undefined) await rm(dir, { recursive: true, force: true });
});

/** `tsc -p <dir>/tsconfig.<name>.json`, in process: every diagnostic, formatted. */
function typeCheck(name: keyof typeof CONFIGS): { errors: string; resolved: string | undefined } {
  const host: ts.ParseConfigFileHost = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  };
  const parsed = ts.getParsedCommandLineOfConfigFile(join(dir, `tsconfig.${name}.json`), undefined, host);
  if (parsed === undefined) throw new Error(`tsconfig.${name}.json could not be read`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
  const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)];
  const errors = ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => dir,
    getNewLine: () => '\n',
  });
  const resolved = ts.resolveModuleName(
    'chatpulse/client',
    join(dir, `${name}.ts`),
    parsed.options,
    ts.sys,
    undefined,
    undefined,
    ts.ModuleKind.ESNext,
  );
  return { errors, resolved: resolved.resolvedModule?.resolvedFileName };
}

describe('chatpulse/client as a package', () => {
  it('type-checks a Node 20 consumer (NodeNext, ws) against the declarations named in exports', () => {
    const { errors, resolved } = typeCheck('node');
    expect(errors).toBe('');
    expect(resolved).toBe(join(ROOT, 'dist/src/client/index.d.ts'));
  });

  it('type-checks a browser consumer (bundler resolution, DOM, no Node types), declarations included', () => {
    const { errors, resolved } = typeCheck('browser');
    expect(errors).toBe('');
    expect(resolved).toBe(join(ROOT, 'dist/src/client/index.d.ts'));
  });

  it('loads at run time through the same specifier, with the namespaced methods', async () => {
    const script = `
      const { ChatPulseClient } = await import('chatpulse/client');
      const c = new ChatPulseClient({ baseUrl: 'http://127.0.0.1:1' });
      const names = Object.fromEntries(['auth', 'account', 'apiKeys', 'sentiment', 'model', 'channels', 'reports', 'ingest', 'rooms', 'match', 'files'].map((n) => [n, Object.keys(c[n])]));
      process.stdout.write(JSON.stringify(names));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual({
      auth: ['register', 'login', 'refresh', 'logout', 'me'],
      account: ['delete'],
      apiKeys: ['create', 'list', 'delete'],
      sentiment: ['predict', 'batch'],
      model: ['get'],
      channels: ['list', 'messages', 'timeline', 'moments'],
      reports: ['create', 'list', 'get', 'delete'],
      ingest: ['create', 'list', 'get', 'delete'],
      rooms: ['create', 'countdown', 'decide', 'list', 'get', 'upload'],
      match: ['join', 'get', 'leave'],
      files: ['get'],
    });
  });
});
