// MODEL → local folder: an existing folder path, else a bundled model name, else a Hugging Face id
// (downloaded into the cache on first use). Each miss is remembered so the final error says what was tried.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { downloadModel } from './download.js';
import { RegistryError } from './errors.js';
import { createProgress, type ProgressSink } from './progress.js';
import { isCompleteModelDir, modelCacheDir, parseHubId, parseRevision } from './spec.js';

export interface ResolveOptions {
  /** Where hub downloads live (`<cacheDir>/<org>/<name>/<revision>/`). */
  cacheDir: string;
  /** HF_ENDPOINT: the hub or a mirror, e.g. https://huggingface.co. */
  endpoint: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** The repo's `models/` folder, holding bundled models by name. */
  bundledDir: string;
  /** Progress output; default process.stderr, `false` for none. */
  progress?: ProgressSink;
  /** HF_TOKEN, for private or gated models. */
  token?: string;
  /** Base for relative folder paths; default process.cwd(). */
  cwd?: string;
  /** Abandon a request that sends nothing for this long; default 30 s. */
  stallTimeoutMs?: number;
}

export const DEFAULT_STALL_MS = 30_000;

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

/** `~/.cache/chatpulse/models`: outside the repo, so `git clean` and redeploys keep downloads. */
export function defaultCacheDir(): string {
  return join(homedir(), '.cache', 'chatpulse', 'models');
}

// Concurrent resolves of one model in this process share one download instead of queueing on the lock.
const inFlight = new Map<string, Promise<string>>();

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Specs the user clearly meant as paths: they never fall through to the bundled or hub lookups. */
function looksLikePath(spec: string): boolean {
  return isAbsolute(spec) || /^(\.\.?|~)([/\\]|$)/.test(spec);
}

const BUNDLED_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** models/ also holds the training recipe: only folders with a config.json are models. */
const isModelDir = (dir: string) => isDir(dir) && existsSync(join(dir, 'config.json'));

function bundledNames(bundledDir: string): string[] {
  try {
    return readdirSync(bundledDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && isModelDir(join(bundledDir, e.name)))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

export async function resolveModel(spec: string, options: ResolveOptions): Promise<string> {
  const trimmed = spec.trim();
  if (trimmed === '')
    throw new RegistryError(
      'model_spec_invalid',
      'MODEL is empty: give a model folder, a bundled model name or a Hugging Face id (org/name)',
    );
  const tried: string[] = [];

  // `~` is expanded here because a value from a .env file or a compose file never went through a shell.
  const expanded = /^~([/\\]|$)/.test(trimmed) ? join(homedir(), trimmed.slice(1)) : trimmed;
  const folder = resolve(options.cwd ?? process.cwd(), expanded);
  if (isDir(folder)) return folder;
  tried.push(`no folder ${folder}`);
  if (looksLikePath(trimmed)) {
    throw new RegistryError('model_not_found', `MODEL "${spec}": model folder ${folder} does not exist`);
  }

  if (BUNDLED_NAME.test(trimmed)) {
    const bundled = join(options.bundledDir, trimmed);
    if (isModelDir(bundled)) return resolve(bundled);
    const names = bundledNames(options.bundledDir);
    tried.push(`no bundled model ${bundled} (bundled: ${names.length > 0 ? names.join(', ') : 'none'})`);
  }

  const hub = parseHubId(trimmed);
  if (hub === undefined) {
    tried.push('not a Hugging Face id (org/name, letters, digits, "_", "-", "."; no "..", "--")');
    const code = BUNDLED_NAME.test(trimmed) ? 'model_not_found' : 'model_spec_invalid';
    throw new RegistryError(code, `MODEL "${spec}" is not a model: ${tried.join('; ')}`);
  }

  const revisionIn = options.revision ?? 'main';
  const revision = parseRevision(revisionIn);
  if (revision === undefined) {
    throw new RegistryError(
      'model_spec_invalid',
      `revision "${revisionIn}" for model "${hub.id}" is not a valid branch, tag or commit name`,
    );
  }

  // The cached copy is used without asking the hub, so a restart works offline.
  const cached = modelCacheDir(options.cacheDir, hub, revision);
  if (isCompleteModelDir(cached)) return cached;

  const pending = inFlight.get(cached);
  if (pending) return pending;
  const download = downloadModel(hub, {
    cacheDir: options.cacheDir,
    endpoint: options.endpoint,
    revision,
    token: options.token,
    progress: createProgress(options.progress),
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_MS,
  }).finally(() => inFlight.delete(cached));
  inFlight.set(cached, download);
  return download;
}
