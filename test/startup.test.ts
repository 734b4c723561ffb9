// The real entry point as an operator runs it: refusals name what to fix, and a good start serves.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROBERTA, ROOT } from './helpers.js';

interface Run {
  code: number | null;
  output: string;
}

function runMain(env: Record<string, string>, untilListening = false): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', INFERENCE_THREADS: '1', ...env },
    });
    let output = '';
    const onData = (d: Buffer) => {
      output += d.toString();
      if (untilListening && output.includes('chatpulse listening')) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('npm start', () => {
  it('refuses a MODEL that names nothing, saying what it tried', async () => {
    const run = await runMain({ MODEL: 'no-such-model' });
    expect(run.code).toBe(1);
    expect(run.output).toContain('no-such-model');
    expect(run.output).toContain('bundled: chatpulse-mini');
  });

  it('serves the bundled model with no MODEL or MODEL_DIR set', async () => {
    const run = await runMain({}, true);
    expect(run.output).toMatch(/"model":"chatpulse-mini".*chatpulse listening/);
    expect(run.code).toBe(0);
  });

  it('refuses the slow JavaScript uWS fallback', async () => {
    const run = await runMain({ MODEL_DIR: ROBERTA, UWS_USE_FALLBACK: '1' });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/native uWebSockets\.js binary did not load/);
  });

  it('refuses WORKERS > 1 without REDIS_URL and a short JWT_SECRET', async () => {
    expect((await runMain({ MODEL_DIR: ROBERTA, WORKERS: '2' })).output).toContain('REDIS_URL');
    expect((await runMain({ MODEL_DIR: ROBERTA, JWT_SECRET: 'short' })).output).toContain('JWT_SECRET must be at least 32 bytes');
  });

  it('starts on a model folder, then drains on SIGTERM and exits 0', async () => {
    const run = await runMain({ MODEL_DIR: ROBERTA }, true);
    expect(run.output).toContain('chatpulse listening');
    expect(run.output).toContain('chatpulse stopped');
    expect(run.code).toBe(0);
  });
});
