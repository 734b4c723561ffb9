// The model registry against a real local HTTP hub (test/hub-server.ts): downloads, cache hits,
// resume, verification, progress output, failures, and local/bundled resolution.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isCompleteModelDir, resolveModel, RegistryError, type ProgressEvent, type ResolveOptions } from '../src/registry/index.js';
import { runModelFetch } from '../src/cli/model-fetch.js';
import { readModelInfo } from '../src/sentiment/model.js';
import { ModelRuntime } from '../src/sentiment/runtime.js';
import { closedPortUrl, FIXTURES_DIR, fixtureSha256, startHubServer, type HubServer } from './hub-server.js';

const NAME = 'tiny-random-roberta-3class';
const ID = `fixtures/${NAME}`;
const ONNX = 'onnx/model.onnx';
const ONNX_SIZE = statSync(join(FIXTURES_DIR, NAME, ONNX)).size;
const EXPECTED_FILES = [
  '.chatpulse-model.json',
  'config.json',
  'merges.txt',
  'onnx/model.onnx',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
];

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

let hub: HubServer;
let work: string;
let options: ResolveOptions;

beforeAll(async () => {
  hub = await startHubServer();
});
afterAll(async () => {
  await hub.close();
});
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'chatpulse-registry-'));
  mkdirSync(join(work, 'models'));
  mkdirSync(join(work, 'cwd'));
  hub.requests.length = 0;
  hub.clearFaults();
  options = { cacheDir: join(work, 'cache'), endpoint: hub.url, bundledDir: join(work, 'models'), cwd: join(work, 'cwd'), progress: false };
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('hub download', () => {
  it('downloads a model once into <cache>/<org>/<name>/<revision> and the folder loads', async () => {
    const dir = await resolveModel(ID, options);
    expect(dir).toBe(join(options.cacheDir, 'fixtures', NAME, 'main'));
    expect(listFiles(dir)).toEqual(EXPECTED_FILES);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toHaveProperty('id2label');
    expect(sha256(join(dir, ONNX))).toBe(fixtureSha256(NAME, ONNX));
    // The engine's own loader (transformers.js tokenizer + ONNX Runtime) accepts the cache folder as is.
    const runtime = await ModelRuntime.load(readModelInfo(dir, 64), { intraOpNumThreads: 1 });
    try {
      expect(await runtime.classify(['great stream', 'boring'])).toHaveLength(6);
    } finally {
      await runtime.close();
    }
    // Nothing of the download machinery is left beside the model.
    expect(readdirSync(join(options.cacheDir, 'fixtures', NAME))).toEqual(['main']);
    // The LFS file came through the CDN redirect, as on the real hub.
    expect(hub.requests.some((r) => r.url.startsWith(`/cdn/${NAME}/${ONNX}`) && r.status === 200)).toBe(true);
    const marker = JSON.parse(readFileSync(join(dir, '.chatpulse-model.json'), 'utf8')) as { id: string; commit: string };
    expect(marker.id).toBe(ID);
    expect(marker.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('serves a second resolve from the cache without touching the network', async () => {
    const first = await resolveModel(ID, options);
    const served = hub.requests.length;
    const second = await resolveModel(ID, options);
    expect(second).toBe(first);
    expect(hub.requests.length).toBe(served);
  });

  it('shares one download between concurrent resolves in a process', async () => {
    const [a, b] = await Promise.all([resolveModel(ID, options), resolveModel(ID, options)]);
    expect(a).toBe(b);
    expect(hub.requests.filter((r) => r.url.includes('/tree/')).length).toBe(1);
  });

  it('sends the token as a bearer header', async () => {
    await resolveModel(ID, { ...options, token: 'hf_test' });
    expect(hub.requests.every((r) => r.authorization === 'Bearer hf_test')).toBe(true);
  });

  it('never sends the token to another origin: a next-page Link or a file redirect there goes without it', async () => {
    // `other` stands for a CDN or a host a tampered answer names: same fixtures, another port (origin).
    const other = await startHubServer();
    const home = await startHubServer({ cdnUrl: other.url, nextPageUrl: other.url });
    try {
      const dir = await resolveModel(ID, { ...options, endpoint: home.url, token: 'hf_secret' });
      expect(sha256(join(dir, ONNX))).toBe(fixtureSha256(NAME, ONNX));
      // Both hops really went to the other origin (the listing's second page, the LFS file), and without the token.
      expect(other.requests.some((r) => r.url.includes('/tree/') && r.url.includes('page=2'))).toBe(true);
      expect(other.requests.some((r) => r.url.startsWith(`/cdn/${NAME}/${ONNX}`) && r.status === 200)).toBe(true);
      expect(other.requests.map((r) => r.authorization)).toEqual(other.requests.map(() => undefined));
      // The configured endpoint itself still gets it on every request.
      expect(home.requests.length).toBeGreaterThan(0);
      expect(home.requests.every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
    } finally {
      await home.close();
      await other.close();
    }
  });

  it('resumes an interrupted download with a Range request for the remaining bytes only', async () => {
    const cut = 1_000_000;
    hub.fault(ONNX, { kind: 'cut', afterBytes: cut });
    const err = await rejection(resolveModel(ID, options));
    expect(err.code).toBe('model_download_failed');
    expect(err.message).toContain(ID);
    expect(err.message).toContain(`GET ${hub.url}/${ID}/resolve/main/${ONNX} failed`);
    expect(err.message).toContain(`redirected to ${hub.url}/cdn/${NAME}/${ONNX}`);
    // fetch drops chunks still queued in the body stream when the socket dies, so a little less than
    // what the server sent may have reached the disk; whatever did is what must be resumed from.
    const part = join(options.cacheDir, 'fixtures', NAME, 'main.partial', `${ONNX}.part`);
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(cut);
    expect(err.message).toContain(`${kept} of ${ONNX_SIZE} B kept`);
    expect(existsSync(join(options.cacheDir, 'fixtures', NAME, 'main'))).toBe(false);

    hub.requests.length = 0;
    const events: ProgressEvent[] = [];
    const dir = await resolveModel(ID, { ...options, progress: (e) => events.push(e) });
    const onnxRequests = hub.requests.filter((r) => r.url.startsWith(`/cdn/${NAME}/${ONNX}`));
    expect(onnxRequests).toHaveLength(1);
    expect(onnxRequests[0]).toMatchObject({ range: `bytes=${kept}-`, status: 206, bytes: ONNX_SIZE - kept });
    // Files finished before the cut were kept: the second attempt only listed the tree and fetched the rest.
    expect(hub.bytesServed('/resolve/') + hub.bytesServed('/cdn/')).toBe(ONNX_SIZE - kept);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'file', file: ONNX, resumedFrom: kept, done: true }));
    expect(sha256(join(dir, ONNX))).toBe(fixtureSha256(NAME, ONNX));
    expect(existsSync(join(options.cacheDir, 'fixtures', NAME, 'main.partial'))).toBe(false);
  });

  it('starts over when the server answers a Range request with 200', async () => {
    const plain = await startHubServer({ ranges: false, redirectLfs: false });
    try {
      const opts = { ...options, endpoint: plain.url };
      plain.fault(ONNX, { kind: 'cut', afterBytes: 500_000 });
      await rejection(resolveModel(ID, opts));
      plain.requests.length = 0;
      const dir = await resolveModel(ID, opts);
      const onnx = plain.requests.find((r) => r.url.includes(ONNX));
      expect(onnx).toMatchObject({ range: expect.stringMatching(/^bytes=\d+-$/) as unknown, status: 200, bytes: ONNX_SIZE });
      expect(sha256(join(dir, ONNX))).toBe(fixtureSha256(NAME, ONNX));
    } finally {
      await plain.close();
    }
  });

  it('abandons a request that stops sending, keeping what arrived', async () => {
    hub.fault(ONNX, { kind: 'hang', afterBytes: 200_000 });
    const err = await rejection(resolveModel(ID, { ...options, stallTimeoutMs: 300 }));
    expect(err.code).toBe('model_download_failed');
    expect(err.message).toContain('no data for 300 ms');
    expect(err.message).toContain(`${ID}/resolve/main/${ONNX}`);
    const dir = await resolveModel(ID, options);
    expect(sha256(join(dir, ONNX))).toBe(fixtureSha256(NAME, ONNX));
  });

  it.each([
    [ONNX, 'sha256'],
    ['tokenizer.json', 'git blob sha1'],
  ])('rejects a corrupted %s (%s) and keeps nothing a later resolve would use', async (file, kind) => {
    hub.fault(file, { kind: 'corrupt' });
    const err = await rejection(resolveModel(ID, options));
    expect(err.code).toBe('model_verify_failed');
    expect(err.message).toContain(ID);
    expect(err.message).toContain(`${hub.url}/${ID}/resolve/main/${file}`);
    expect(err.message).toContain(kind);
    const modelDir = join(options.cacheDir, 'fixtures', NAME, 'main');
    expect(isCompleteModelDir(modelDir)).toBe(false);
    expect(existsSync(join(`${modelDir}.partial`, file))).toBe(false);
    expect(existsSync(join(`${modelDir}.partial`, `${file}.part`))).toBe(false);

    // With the hub healthy again the next resolve downloads the good bytes instead of reusing bad ones.
    const dir = await resolveModel(ID, options);
    expect(sha256(join(dir, file))).toBe(fixtureSha256(NAME, file));
  });

  it('downloads again when a cached folder was damaged after the fact', async () => {
    const dir = await resolveModel(ID, options);
    unlinkSync(join(dir, 'vocab.json'));
    hub.requests.length = 0;
    await resolveModel(ID, options);
    expect(hub.requests.length).toBeGreaterThan(0);
    expect(sha256(join(dir, 'vocab.json'))).toBe(fixtureSha256(NAME, 'vocab.json'));
  });

  it('takes over a lock left by a process that died', async () => {
    const lock = join(options.cacheDir, 'fixtures', NAME, 'main.lock');
    mkdirSync(join(options.cacheDir, 'fixtures', NAME), { recursive: true });
    writeFileSync(lock, '999999\n');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const dir = await resolveModel(ID, options);
    expect(isCompleteModelDir(dir)).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });
});

describe('progress', () => {
  it('prints a plain line per file when stderr is not a terminal', async () => {
    const out = new Capture(false);
    const dir = await resolveModel(ID, { ...options, progress: out });
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toContain(`downloading ${ID} (revision main): 7 files`);
    for (const file of EXPECTED_FILES.slice(1)) {
      expect(lines.some((l) => l.includes(file) && l.includes('100%'))).toBe(true);
    }
    expect(out.text).toContain(dir);
    expect(out.text).not.toContain('\r');
  });

  it('redraws a bar in place on a terminal', async () => {
    const out = new Capture(true);
    await resolveModel(ID, { ...options, progress: out });
    expect(out.text).toContain('\r\x1b[2K  [########################] 100%');
    expect(out.text).toContain(ONNX);
    expect(out.text).toMatch(/6\.58 MB\/6\.58 MB onnx\/model\.onnx/);
  });
});

describe('hub failures', () => {
  it('names the id and URL for a model the hub does not have', async () => {
    const err = await rejection(resolveModel('fixtures/does-not-exist', options));
    expect(err.code).toBe('model_not_found');
    expect(err.message).toContain('"fixtures/does-not-exist"');
    expect(err.message).toContain(`${hub.url}/api/models/fixtures/does-not-exist/tree/main?recursive=true`);
    expect(err.message).toContain('404');
    expect(existsSync(options.cacheDir)).toBe(false);
  });

  it('names the revision when it does not exist', async () => {
    const err = await rejection(resolveModel(ID, { ...options, revision: 'v9' }));
    expect(err.code).toBe('model_not_found');
    expect(err.message).toContain('revision "v9"');
  });

  it('reports a 500 from the tree API and from a file', async () => {
    hub.treeStatus(500);
    const tree = await rejection(resolveModel(ID, options));
    expect(tree.code).toBe('model_download_failed');
    expect(tree.message).toMatch(/tree\/main\?recursive=true answered 500/);

    hub.fault('config.json', { kind: 'status', status: 503 });
    const file = await rejection(resolveModel(ID, options));
    expect(file.code).toBe('model_download_failed');
    expect(file.message).toContain(`${hub.url}/${ID}/resolve/main/config.json answered 503`);

    hub.fault('vocab.json', { kind: 'status', status: 404 });
    const gone = await rejection(resolveModel(ID, options));
    expect(gone.code).toBe('model_download_failed');
    expect(gone.message).toContain(`lists vocab.json but GET ${hub.url}/${ID}/resolve/main/vocab.json answered 404`);
  });

  it('names the id and URL when the endpoint is unreachable', async () => {
    const endpoint = await closedPortUrl();
    const err = await rejection(resolveModel(ID, { ...options, endpoint }));
    expect(err.code).toBe('model_download_failed');
    expect(err.message).toContain(`"${ID}"`);
    expect(err.message).toContain(`${endpoint}/api/models/${ID}/tree/main`);
    expect(err.message).toContain('ECONNREFUSED');
  });
});

describe('local resolution', () => {
  it('uses an existing folder path, absolute or relative, without the network', async () => {
    const roberta = join(FIXTURES_DIR, NAME);
    expect(await resolveModel(roberta, options)).toBe(roberta);
    mkdirSync(join(work, 'cwd', 'my-model'));
    expect(await resolveModel('./my-model', options)).toBe(join(work, 'cwd', 'my-model'));
    expect(await resolveModel('my-model', options)).toBe(join(work, 'cwd', 'my-model'));
    // A folder shaped like a hub id wins over the hub.
    mkdirSync(join(work, 'cwd', 'fixtures', NAME), { recursive: true });
    expect(await resolveModel(ID, options)).toBe(join(work, 'cwd', 'fixtures', NAME));
    expect(hub.requests).toHaveLength(0);
  });

  it('uses a bundled model by name', async () => {
    mkdirSync(join(work, 'models', 'chatpulse-mini'));
    writeFileSync(join(work, 'models', 'chatpulse-mini', 'config.json'), '{}');
    expect(await resolveModel('chatpulse-mini', options)).toBe(join(work, 'models', 'chatpulse-mini'));
  });

  it('says which bundled models exist when the name is unknown, ignoring folders that are no model', async () => {
    mkdirSync(join(work, 'models', 'other-model'));
    writeFileSync(join(work, 'models', 'other-model', 'config.json'), '{}');
    mkdirSync(join(work, 'models', 'train'));
    const err = await rejection(resolveModel('chatpulse-mini', options));
    expect(err.code).toBe('model_not_found');
    expect(err.message).toContain('"chatpulse-mini"');
    expect(err.message).toContain(join(work, 'models', 'chatpulse-mini'));
    expect(err.message).toContain('bundled: other-model)');
  });

  it('does not fall through to the hub for a missing path', async () => {
    const err = await rejection(resolveModel('./missing/model', options));
    expect(err.code).toBe('model_not_found');
    expect(err.message).toContain(join(work, 'cwd', 'missing', 'model'));
  });

  it.each(['../etc', 'a/b/c', 'org/a..b', 'org/na--me', '-org/name', 'org/name?x=1', 'org', ' '])(
    'refuses %j without touching the network',
    async (spec) => {
      const err = await rejection(resolveModel(spec, options));
      expect(['model_spec_invalid', 'model_not_found']).toContain(err.code);
      if (spec.trim() !== '') expect(err.message).toContain(spec);
      expect(hub.requests).toHaveLength(0);
    },
  );

  it('refuses a revision that could leave the cache folder', async () => {
    const err = await rejection(resolveModel(ID, { ...options, revision: '../../x' }));
    expect(err.code).toBe('model_spec_invalid');
    expect(hub.requests).toHaveLength(0);
  });
});

describe('model:fetch CLI', () => {
  async function cli(argv: string[], env: Record<string, string> = {}) {
    const stdout = new Capture(false);
    const stderr = new Capture(false);
    const code = await runModelFetch(argv, { HF_ENDPOINT: hub.url, ...env }, { stdout, stderr, progress: false });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('downloads into --cache and prints only the folder on stdout', async () => {
    const run = await cli([ID, '--cache', options.cacheDir, '--revision', 'main']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(`${join(options.cacheDir, 'fixtures', NAME, 'main')}\n`);
    expect(isCompleteModelDir(run.stdout.trim())).toBe(true);
  });

  it('uses MODEL_CACHE_DIR and is a no-op when the model is cached', async () => {
    await cli([ID], { MODEL_CACHE_DIR: options.cacheDir });
    hub.requests.length = 0;
    const run = await cli([ID], { MODEL_CACHE_DIR: options.cacheDir });
    expect(run.code).toBe(0);
    expect(hub.requests).toHaveLength(0);
  });

  it('exits non-zero with the error message on failure', async () => {
    const missing = await cli(['fixtures/nope', '--cache', options.cacheDir]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^error: model "fixtures\/nope" \(revision "main"\) does not exist on the hub/);
    expect((await cli(['../etc', '--cache', options.cacheDir])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    expect((await cli([ID, '--bogus'])).code).toBe(2);
  });
});
