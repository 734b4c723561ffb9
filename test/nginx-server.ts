// Debian's real nginx for tests, with deploy/nginx/nginx.conf rendered into a temp dir: its own
// upstreams.conf, an ephemeral listen port, and the /tmp/nginx- paths (pid, temp files) moved into that
// dir. It runs in the foreground as a child (`daemon off`) under a non-root user: the test's own, or
// `nobody` when the tests run as root.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_CONF = join(ROOT, 'deploy', 'nginx', 'nginx.conf');
const NOBODY = 65534;
const asRoot = () => process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port free right now (nginx cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Writes nginx.conf and upstreams.conf into a new temp dir; returns the dir and the conf's path. */
export function renderNginx(port: number, upstreams: readonly string[]): { dir: string; conf: string } {
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-nginx-'));
  const source = readFileSync(NGINX_CONF, 'utf8');
  if (!source.includes('listen 8080;') || !source.includes('include upstreams.conf;')) throw new Error('nginx.conf: unexpected layout');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, source.replaceAll('listen 8080;', `listen 127.0.0.1:${port};`).replaceAll('/tmp/nginx-', `${dir}/nginx-`));
  writeFileSync(join(dir, 'upstreams.conf'), upstreams.map((u) => `server ${u} max_fails=1 fail_timeout=2s;\n`).join(''));
  if (asRoot()) {
    chmodSync(dir, 0o755);
    chownSync(dir, NOBODY, NOBODY);
  }
  return { dir, conf };
}

const args = (dir: string, conf: string, ...more: string[]) => ['-e', 'stderr', '-p', dir, '-c', conf, ...more];
const ids = () => (asRoot() ? { uid: NOBODY, gid: NOBODY } : {});

/** `nginx -t` on a rendered config: its exit code and what it said. */
export function nginxTest(dir: string, conf: string): { code: number | null; output: string } {
  const r = spawnSync(NGINX, args(dir, conf, '-t'), { encoding: 'utf8', ...ids() });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

export interface NginxProcess {
  url: string;
  child: ChildProcess;
  log: string[];
  stop(): Promise<void>;
}

/** Starts nginx in front of `upstreams` (`host:port`); resolves once /nginx-health answers. */
export async function startNginx(upstreams: readonly string[]): Promise<NginxProcess> {
  const port = await freePort();
  const { dir, conf } = renderNginx(port, upstreams);
  const child = spawn(NGINX, args(dir, conf, '-g', 'daemon off;'), { stdio: ['ignore', 'pipe', 'pipe'], ...ids() });
  const log: string[] = [];
  child.stdout.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => log.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${log.join('')}`);
    const ok = await fetch(`${url}/nginx-health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child, log, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer:\n${log.join('')}`);
    }
    await sleep(50);
  }
}
