// The README's quick start, executed as written: its server command is `npm ci && npm start`, and `npm start`
// is the package's prestart build (`npm run build`, which the test run has done already) followed by its
// start script. The test does not run `npm ci` or the build; it runs the start script exactly as npm would,
// on PORT=0 (the README documents it: any free port), checks /health, /ready, the dashboard and the docs,
// runs the README's "first session" script against it, then stops it with SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** The ```sh blocks of a README section, by its `## ` title. */
function shBlocks(section: string): string[] {
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${section}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Commands of a sh block: comment lines dropped. */
const commands = (block: string): string[] =>
  block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

const blocks = shBlocks('Quick start');
const serverCommand = commands(blocks[0] ?? '').find((c) => /\bnpm start\b/.test(c));

describe('README quick start', () => {
  let server: ChildProcess | undefined;
  let output = '';
  let base = '';
  let exit: Promise<number | null> = Promise.resolve(null);

  beforeAll(async () => {
    // The start script, as `npm start` runs it (its prestart build has run: npm test builds first).
    const [cmd, ...args] = pkg.scripts.start!.split(' ');
    const child = spawn(cmd === 'node' ? process.execPath : cmd!, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? ROOT, PORT: '0', INFERENCE_THREADS: '1' },
    });
    server = child;
    exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "chatpulse listening" in 50 s:\n${output}`)), 50_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        const m = /"port":(\d+)[^\n]*chatpulse listening/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    });
    base = `http://localhost:${port}`;
  }, 60_000);

  afterAll(async () => {
    server?.kill('SIGTERM');
    await exit;
  });

  it('says `npm ci && npm start`, and npm start builds then runs node dist/src/main.js', () => {
    expect(serverCommand).toBe('npm ci && npm start');
    expect(pkg.scripts.prestart).toBe('npm run build');
    expect(pkg.scripts.start).toBe('node dist/src/main.js');
  });

  it('answers /health, then /ready once the model is loaded', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await fetch(`${base}/ready`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toBe(200);
  });

  it('serves the dashboard at / and the API docs at /docs, as the README says', async () => {
    expect(readme).toContain('Then open `http://localhost:8080/` for the dashboard and `http://localhost:8080/docs` for the API');
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<html/i);
    expect((await fetch(`${base}/docs`)).status).toBe(200);
  });

  it('logs the start-up banner once, with both URLs and the in-memory warning, and no secret', () => {
    const banners = output.split('\n').filter((l) => l.includes('ChatPulse is up'));
    expect(banners).toHaveLength(1);
    expect(banners[0]).toContain(`${base}/`);
    expect(banners[0]).toContain(`${base}/docs`);
    expect(output).toMatch(/state is in memory/);
    const secret = readFileSync(join(ROOT, '.chatpulse', 'dev-secret'), 'utf8').trim();
    expect(output).not.toContain(secret);
  });

  it("runs the README's first session script against it", () => {
    const script = blocks.find((b) => b.includes('/api/v1/auth/login'));
    expect(script, 'the first-session script').toBeDefined();
    // The script's only address is BASE=http://localhost:8080: point it at this server's port instead.
    expect(script).toContain('BASE=http://localhost:8080\n');
    const run = spawnSync('bash', ['-c', script!.replace('BASE=http://localhost:8080\n', `BASE=${base}\n`)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/"status":"ok"/);
    expect(run.stdout).toMatch(/register: 201/);
    expect(run.stdout).toMatch(/"label":"(positive|neutral|negative)"/);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    server?.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
