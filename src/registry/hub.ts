// The two hub endpoints the registry uses (the tree listing and file resolution), and the choice of
// which listed files make up a loadable sequence-classification folder.
import { RegistryError, describeNetworkError } from './errors.js';
import type { HubId } from './spec.js';

/** One entry of `GET /api/models/{id}/tree/{revision}?recursive=true`. */
export interface TreeEntry {
  /** 'file' or 'directory'; any other kind the hub may add is kept as it is, and ignored. */
  type: string;
  path: string;
  /** For LFS files the hub reports the real content size here too. */
  size: number;
  /** Git blob sha1; for LFS files the blob is the pointer, so it says nothing about the content. */
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

/** A file to download and what its bytes must hash to. */
export interface HubFile {
  readonly path: string;
  readonly size: number;
  /** Content sha256 (LFS files). */
  readonly sha256?: string;
  /** Git blob sha1 of the content (non-LFS files). */
  readonly oid?: string;
}

export interface HubRequestOptions {
  readonly endpoint: string;
  readonly token?: string;
  readonly timeoutMs: number;
}

function base(endpoint: string): string {
  return endpoint.replace(/\/+$/, '');
}

export function treeUrl(endpoint: string, hub: HubId, revision: string): string {
  return `${base(endpoint)}/api/models/${hub.id}/tree/${encodeURIComponent(revision)}?recursive=true`;
}

export function resolveUrl(endpoint: string, hub: HubId, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${base(endpoint)}/${hub.id}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

const MAX_REDIRECTS = 10;

/**
 * GET `url`, following redirects by hand so HF_TOKEN goes to the configured endpoint's origin only: the
 * hub sends LFS files to a CDN (signed URLs, no token wanted) and pages listings with `Link` URLs, and a
 * mirror or a tampered answer could point either anywhere. Not left to fetch's own redirect handling,
 * whose header rules depend on the fetch implementation. The answer's `url` is the last one fetched.
 */
export async function hubGet(
  url: string,
  endpoint: string,
  token: string | undefined,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const home = new URL(endpoint).origin;
  let current = url;
  for (let hop = 0; ; hop++) {
    const headers = { ...init.headers, ...(new URL(current).origin === home ? authHeaders(token) : {}) };
    const response = await fetch(current, { headers, redirect: 'manual', ...(init.signal ? { signal: init.signal } : {}) });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || response.status === 304 || location === null) return response;
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
    current = new URL(location, current).toString();
  }
}

/** Turns a non-2xx hub answer into an error that says what it means for this model. */
export function httpError(hub: HubId, revision: string, url: string, status: number, file?: string): RegistryError {
  const what = `model "${hub.id}" (revision "${revision}")`;
  // The listing named this file, so a 404 here means a broken mirror or a revision that moved, not a typo.
  if (file !== undefined && status === 404) {
    return new RegistryError('model_download_failed', `${what} lists ${file} but GET ${url} answered 404 (did the revision move? retry)`);
  }
  // The hub answers 401 rather than 404 for repos it will not show an anonymous caller.
  if (status === 404 || status === 401) {
    const hint = status === 401 ? ' or is private/gated (set HF_TOKEN)' : '';
    return new RegistryError('model_not_found', `${what} does not exist on the hub${hint}: GET ${url} answered ${status}`);
  }
  if (status === 403) {
    return new RegistryError(
      'model_download_failed',
      `${what} is not accessible with this HF_TOKEN (gated? accept its terms on the hub): GET ${url} answered 403`,
    );
  }
  return new RegistryError('model_download_failed', `downloading ${what} failed: GET ${url} answered ${status}`);
}

/** `detail` replaces the cause's own text when the caller knows better (e.g. how much was kept). */
export function networkError(hub: HubId, url: string, err: unknown, detail?: string): RegistryError {
  return new RegistryError(
    'model_download_failed',
    `cannot download model "${hub.id}": GET ${url} failed: ${detail ?? describeNetworkError(err)} (offline? check HF_ENDPOINT)`,
    { cause: err },
  );
}

/** The `rel="next"` target of a Link header: the hub pages long listings that way. */
function nextPage(link: string | null, current: string): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match?.[1] === undefined ? undefined : new URL(match[1], current).toString();
}

function isTreeEntry(value: unknown): value is TreeEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.type === 'string' && typeof v.path === 'string';
}

export async function listTree(hub: HubId, revision: string, options: HubRequestOptions): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  let url: string | undefined = treeUrl(options.endpoint, hub, revision);
  // Bounded so a misbehaving mirror that always links onward cannot loop forever.
  for (let page = 0; url !== undefined && page < 100; page++) {
    let response: Response;
    try {
      // A next page on another origin is fetched without the token (hubGet).
      response = await hubGet(url, options.endpoint, options.token, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      throw networkError(hub, url, err);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw httpError(hub, revision, url, response.status);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (err) {
      throw new RegistryError(
        'model_download_failed',
        `the hub's file list for "${hub.id}" is not JSON: GET ${url}: ${describeNetworkError(err)}`,
        { cause: err },
      );
    }
    if (!Array.isArray(body) || !body.every(isTreeEntry)) {
      throw new RegistryError('model_download_failed', `the hub's file list for "${hub.id}" has an unexpected shape: GET ${url}`);
    }
    entries.push(...body);
    url = nextPage(response.headers.get('link'), url);
  }
  return entries;
}

const REQUIRED = ['config.json', 'tokenizer.json'] as const;
const OPTIONAL = ['tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'vocab.txt'] as const;
// Quantized first: it is what ONNX exports on the hub ship as the CPU fast path, and what model.ts prefers.
const GRAPHS = ['onnx/model_quantized.onnx', 'onnx/model.onnx'] as const;

function toHubFile(hub: HubId, entry: TreeEntry): HubFile {
  if (entry.lfs) {
    if (!/^[0-9a-f]{64}$/.test(entry.lfs.oid) || !Number.isSafeInteger(entry.lfs.size)) {
      throw new RegistryError('model_download_failed', `the hub lists ${entry.path} of "${hub.id}" without a usable sha256/size`);
    }
    return { path: entry.path, size: entry.lfs.size, sha256: entry.lfs.oid };
  }
  if (!/^[0-9a-f]{40}$/.test(entry.oid) || !Number.isSafeInteger(entry.size)) {
    throw new RegistryError('model_download_failed', `the hub lists ${entry.path} of "${hub.id}" without a usable oid/size`);
  }
  return { path: entry.path, size: entry.size, oid: entry.oid };
}

/** The files a sequence-classification folder needs, out of a repo listing; throws when it cannot load. */
export function selectModelFiles(hub: HubId, entries: readonly TreeEntry[]): HubFile[] {
  const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const missing = REQUIRED.filter((path) => !files.has(path));
  if (missing.length > 0) {
    throw new RegistryError('model_unsupported', `model "${hub.id}" lacks ${missing.join(', ')}: it is not a transformers model folder`);
  }
  const graph = GRAPHS.find((path) => files.has(path));
  if (graph === undefined) {
    throw new RegistryError(
      'model_unsupported',
      `model "${hub.id}" has no ONNX export (${GRAPHS.join(' or ')}): pick an ONNX build such as Xenova/... or onnx-community/...`,
    );
  }
  const wanted = [...REQUIRED, ...OPTIONAL.filter((path) => files.has(path)), graph];
  return wanted.map((path) => toHubFile(hub, files.get(path) as TreeEntry));
}
