// A first start without friction (issue 20): the development JWT secret kept across restarts, the start-up
// banner, the "use Node 20" advice when uWS's native binary is missing, and where a bench report goes.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reportPaths, reportStamp } from '../bench/lib/report-path.js';
import { browserBase, startupBanner } from '../src/app/banner.js';
import { developmentSecret, jwtSecretSource } from '../src/app/dev-secret.js';
import { loadConfig } from '../src/config.js';
import { nativeUwsAdvice } from '../src/gateway/uws.js';

const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatpulse-dev-secret-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the development JWT secret', () => {
  it('is generated once into a 0600 file and read back by the next start', () => {
    const file = join(scratch(), '.chatpulse', 'dev-secret');
    const first = jwtSecretSource(loadConfig({}).jwtSecret, {}, file);
    const second = jwtSecretSource(loadConfig({}).jwtSecret, {}, file);
    expect(first).toMatchObject({ kind: 'file', file, created: true });
    expect(second).toMatchObject({ kind: 'file', file, created: false });
    if (first.kind !== 'file' || second.kind !== 'file') throw new Error('unreachable');
    expect(second.secret).toBe(first.secret);
    expect(Buffer.byteLength(first.secret)).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
  });

  it('lets an explicit JWT_SECRET win and writes nothing', () => {
    const file = join(scratch(), 'dev-secret');
    const env = { JWT_SECRET: 'x'.repeat(40) };
    expect(jwtSecretSource(loadConfig(env).jwtSecret, env, file)).toEqual({ kind: 'env', secret: 'x'.repeat(40) });
    expect(existsSync(file)).toBe(false);
  });

  it('keeps the production rules: NODE_ENV=production writes no file', () => {
    const file = join(scratch(), 'dev-secret');
    expect(jwtSecretSource(undefined, { NODE_ENV: 'production' }, file).kind).toBe('process');
    expect(existsSync(file)).toBe(false);
  });

  it('tightens a loosened file, refuses a short one, and falls back to a process secret where it cannot write', () => {
    const dir = scratch();
    const file = join(dir, 'dev-secret');
    writeFileSync(file, 'y'.repeat(48) + '\n', { mode: 0o644 });
    expect(developmentSecret(file)).toEqual({ secret: 'y'.repeat(48), created: false });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, 'short');
    expect(() => developmentSecret(file)).toThrow(/under 32 bytes/);
    // A path below a regular file cannot be created.
    expect(jwtSecretSource(undefined, {}, join(file, 'nested', 'dev-secret')).kind).toBe('process');
  });
});

describe('the start-up banner', () => {
  it('names the dashboard and docs URLs and warns when state is in memory', () => {
    const banner = startupBanner(loadConfig({}), 8080, {
      kind: 'file',
      secret: 's'.repeat(64),
      file: '/x/.chatpulse/dev-secret',
      created: false,
    });
    expect(banner.dashboard).toBe('http://localhost:8080/');
    expect(banner.docs).toBe('http://localhost:8080/docs');
    expect(banner.memoryWarning).toMatch(/in memory.*lost when this process restarts/);
    expect(JSON.stringify(banner)).not.toContain('s'.repeat(32));
  });

  it('drops the warning with Redis or MongoDB and never shows their URLs or the secret', () => {
    const secret = 'k'.repeat(40);
    const env = { JWT_SECRET: secret, REDIS_URL: 'redis://:hunter2@redis:6379', MONGODB_URL: 'mongodb://u:pw@mongo/cp', HOST: '127.0.0.1' };
    const banner = startupBanner(loadConfig(env), 9000, { kind: 'env', secret });
    expect(banner.memoryWarning).toBeNull();
    expect(banner.dashboard).toBe('http://127.0.0.1:9000/');
    const text = JSON.stringify(banner);
    for (const hidden of [secret, 'hunter2', 'pw@', 'redis://', 'mongodb://']) expect(text).not.toContain(hidden);
    expect(startupBanner(loadConfig({ MONGODB_URL: 'mongodb://m/cp' }), 1, { kind: 'env', secret }).memoryWarning).toBeNull();
  });

  it('turns listen addresses into ones a browser opens', () => {
    expect(browserBase('0.0.0.0', 1)).toBe('http://localhost:1');
    expect(browserBase('::', 2)).toBe('http://localhost:2');
    expect(browserBase('::1', 3)).toBe('http://[::1]:3');
    expect(browserBase('example.org', 4)).toBe('http://example.org:4');
  });
});

describe('a missing native uWS binary', () => {
  it('says "use Node 20" with the running version on a newer Node', () => {
    for (const v of ['v22.12.0', 'v24.1.0', 'v21.0.0']) {
      const advice = nativeUwsAdvice(v, 'linux');
      expect(advice).toMatch(/^use Node 20: this is Node v2[124]/);
      expect(advice).toContain(v);
    }
  });

  it('points at the platform on Node 20', () => {
    expect(nativeUwsAdvice('v20.19.1', 'linux')).toMatch(/use Node 20 \(this is v20\.19\.1\) on a glibc Linux/);
  });
});

describe('bench report paths', () => {
  const date = new Date('2026-12-07T01:02:03.456Z');

  it('replaces latest.md only on a complete run', () => {
    const out = reportPaths('/repo', { only: [], skip: [], failed: 0 }, date);
    expect(out).toEqual({ md: '/repo/bench/results/latest.md', json: '/repo/bench/results/latest.json', latest: true });
  });

  it('writes a partial or failed run beside it, in the ignored quick/ folder', () => {
    for (const selection of [
      { only: ['store'], skip: [], failed: 0 },
      { only: [], skip: ['ws'], failed: 0 },
      { only: [], skip: [], failed: 1 },
    ]) {
      const out = reportPaths('/repo', selection, date);
      expect(out.latest).toBe(false);
      expect(out.md).toBe('/repo/bench/results/quick/partial-2026-12-07T01-02-03Z.md');
      expect(out.json).toBe('/repo/bench/results/quick/partial-2026-12-07T01-02-03Z.json');
    }
    expect(reportStamp(date)).not.toMatch(/[:.]/);
  });
});
