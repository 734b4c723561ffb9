// A local stand-in for the Hugging Face hub: serves the shared model fixtures in the hub's URL layout
// (tree API + resolve, LFS redirects, Range), with knobs to count traffic and inject failures.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../../shared/models/fixtures/', import.meta.url));
/** The org under which the fixture folders are published: `fixtures/<folder>`. */
export const FIXTURES_ORG = 'fixtures';
export const REVISION = 'main';
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';

export interface ServedRequest {
  readonly method: string;
  readonly url: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
  status: number;
  /** Body bytes actually written. */
  bytes: number;
}

export type Fault =
  /** Send headers for the whole file but close the socket after `afterBytes` body bytes. */
  | { kind: 'cut'; afterBytes: number }
  /** Send `afterBytes` body bytes, then nothing more, keeping the connection open. */
  | { kind: 'hang'; afterBytes: number }
  /** Serve the file with one byte flipped (same length, wrong hash). */
  | { kind: 'corrupt' }
  /** Answer with this status and no file. */
  | { kind: 'status'; status: number };

export interface HubServerOptions {
  /** Answer LFS files (`.onnx`) with a 302 to a CDN path, as the real hub does. Default true. */
  redirectLfs?: boolean;
  /** Honour `Range` requests. Default true; false answers 200 with the whole file, like some proxies. */
  ranges?: boolean;
  /** Redirect LFS files to `<cdnUrl>/cdn/...` (another server) instead of this server's own `/cdn/`. */
  cdnUrl?: string;
  /**
   * Split tree listings in two pages, the first linking (`Link: rel="next"`) to the second at this base URL
   * (any hub server answers `?page=2` with the second half).
   */
  nextPageUrl?: string;
}

export interface HubServer {
  readonly url: string;
  readonly requests: ServedRequest[];
  /** Body bytes served for requests whose URL contains `urlPart` (all when omitted). */
  bytesServed(urlPart?: string): number;
  /** Applies `fault` to the next `times` requests for `file` (a repo path such as `onnx/model.onnx`). */
  fault(file: string, fault: Fault, times?: number): void;
  /** Applies a status to the next `times` tree listings. */
  treeStatus(status: number, times?: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface RepoFile {
  readonly path: string;
  readonly abs: string;
  readonly size: number;
  readonly blobOid: string;
  readonly sha256: string;
  readonly lfs: boolean;
}

const isLfs = (path: string) => path.endsWith('.onnx');

function gitBlobOid(content: Buffer | string): string {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

const repoCache = new Map<string, RepoFile[]>();

function repoFiles(name: string): RepoFile[] | undefined {
  const cached = repoCache.get(name);
  if (cached) return cached;
  const root = join(FIXTURES_DIR, name);
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) return undefined;
  try {
    if (!statSync(root).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const files = readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const abs = join(e.parentPath, e.name);
      const content = readFileSync(abs);
      return {
        path: relative(root, abs).split(sep).join('/'),
        abs,
        size: content.length,
        blobOid: gitBlobOid(content),
        sha256: createHash('sha256').update(content).digest('hex'),
        lfs: isLfs(abs),
      };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
  repoCache.set(name, files);
  return files;
}

/** The hub's tree entries: directories, plain files with blob oids, LFS files with pointer oids + lfs block. */
function treeEntries(files: readonly RepoFile[]): unknown[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const dirEntries = [...dirs].map((path) => ({ type: 'directory', oid: gitBlobOid(`tree ${path}`), size: 0, path }));
  const fileEntries = files.map((f) => {
    if (!f.lfs) return { type: 'file', oid: f.blobOid, size: f.size, path: f.path };
    const pointer = lfsPointer(f.sha256, f.size);
    return {
      type: 'file',
      oid: gitBlobOid(pointer),
      size: f.size,
      path: f.path,
      lfs: { oid: f.sha256, size: f.size, pointerSize: Buffer.byteLength(pointer) },
    };
  });
  return [...dirEntries, ...fileEntries];
}

export async function startHubServer(options: HubServerOptions = {}): Promise<HubServer> {
  const redirectLfs = options.redirectLfs ?? true;
  const ranges = options.ranges ?? true;
  const requests: ServedRequest[] = [];
  const faults = new Map<string, { fault: Fault; times: number }>();
  let treeFault: { status: number; times: number } | undefined;

  const takeFault = (file: string): Fault | undefined => {
    const entry = faults.get(file);
    if (!entry) return undefined;
    if (--entry.times <= 0) faults.delete(file);
    return entry.fault;
  };

  const send = (
    res: ServerResponse,
    record: ServedRequest,
    status: number,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ) => {
    record.status = status;
    record.bytes = Buffer.byteLength(body);
    res.writeHead(status, { 'content-length': String(record.bytes), ...headers });
    res.end(body);
  };

  const notFound = (res: ServerResponse, record: ServedRequest, message: string) =>
    send(res, record, 404, JSON.stringify({ error: message }), { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' });

  const serveFile = (req: IncomingMessage, res: ServerResponse, record: ServedRequest, file: RepoFile) => {
    const fault = takeFault(file.path);
    if (fault?.kind === 'status') {
      send(res, record, fault.status, `injected ${fault.status}`);
      return;
    }
    let content = readFileSync(file.abs);
    if (fault?.kind === 'corrupt') {
      content = Buffer.from(content);
      const middle = Math.floor(content.length / 2);
      content[middle] = (content[middle] ?? 0) ^ 0xff;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': ranges ? 'bytes' : 'none',
      etag: `"${file.lfs ? file.sha256 : file.blobOid}"`,
      'x-repo-commit': COMMIT,
    };
    let status = 200;
    let body = content;
    const range = ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), content.length - 1) : content.length - 1;
      if (start >= content.length || start > end) {
        send(res, record, 416, '', { 'content-range': `bytes */${content.length}` });
        return;
      }
      status = 206;
      body = content.subarray(start, end + 1);
      headers['content-range'] = `bytes ${start}-${end}/${content.length}`;
    }
    record.status = status;
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    if (fault?.kind === 'cut' && fault.afterBytes < body.length) {
      const head = body.subarray(0, fault.afterBytes);
      record.bytes = head.length;
      // Destroy only once the bytes are flushed, so the client really holds a partial file.
      res.write(head, () => res.socket?.destroy());
      return;
    }
    if (fault?.kind === 'hang') {
      record.bytes = Math.min(fault.afterBytes, body.length);
      res.write(body.subarray(0, record.bytes));
      return;
    }
    record.bytes = body.length;
    res.end(body);
  };

  const server = createServer((req, res) => {
    const record: ServedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      range: req.headers.range,
      authorization: req.headers.authorization,
      status: 0,
      bytes: 0,
    };
    requests.push(record);
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);

    // /api/models/<org>/<name>/tree/<rev>
    if (segments[0] === 'api' && segments[1] === 'models' && segments[4] === 'tree') {
      const [, , org, name, , rev] = segments;
      if (treeFault) {
        const { status } = treeFault;
        if (--treeFault.times <= 0) treeFault = undefined;
        send(res, record, status, JSON.stringify({ error: `injected ${status}` }), { 'content-type': 'application/json' });
        return;
      }
      const files = org === FIXTURES_ORG && name !== undefined ? repoFiles(name) : undefined;
      if (!files) {
        notFound(res, record, 'Repository not found');
        return;
      }
      if (rev !== REVISION) {
        notFound(res, record, `Invalid rev id: ${rev}`);
        return;
      }
      const entries = treeEntries(files);
      const half = Math.ceil(entries.length / 2);
      if (url.searchParams.get('page') === '2') {
        send(res, record, 200, JSON.stringify(entries.slice(half)), { 'content-type': 'application/json' });
        return;
      }
      if (options.nextPageUrl !== undefined) {
        const next = `${options.nextPageUrl}${url.pathname}?recursive=true&page=2`;
        send(res, record, 200, JSON.stringify(entries.slice(0, half)), {
          'content-type': 'application/json',
          link: `<${next}>; rel="next"`,
        });
        return;
      }
      send(res, record, 200, JSON.stringify(entries), { 'content-type': 'application/json' });
      return;
    }

    // /<org>/<name>/resolve/<rev>/<path...>, and /cdn/<name>/<path...> where LFS redirects land
    const isCdn = segments[0] === 'cdn';
    if (segments[2] === 'resolve' || isCdn) {
      const [org, name] = isCdn ? [FIXTURES_ORG, segments[1]] : segments;
      const rev = isCdn ? REVISION : segments[3];
      const path = segments.slice(isCdn ? 2 : 4).join('/');
      const files = org === FIXTURES_ORG && name !== undefined ? repoFiles(name) : undefined;
      if (!files) {
        notFound(res, record, 'Repository not found');
        return;
      }
      if (rev !== REVISION) {
        notFound(res, record, `Invalid rev id: ${rev}`);
        return;
      }
      const file = files.find((f) => f.path === path);
      if (!file) {
        send(res, record, 404, 'Entry not found', { 'x-error-code': 'EntryNotFound' });
        return;
      }
      if (file.lfs && redirectLfs && !isCdn) {
        send(res, record, 302, '', { location: `${options.cdnUrl ?? ''}/cdn/${name}/${path}`, 'x-repo-commit': COMMIT });
        return;
      }
      serveFile(req, res, record, file);
      return;
    }
    send(res, record, 404, 'not found');
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    bytesServed: (urlPart) => requests.filter((r) => urlPart === undefined || r.url.includes(urlPart)).reduce((sum, r) => sum + r.bytes, 0),
    fault: (file, fault, times = 1) => faults.set(file, { fault, times }),
    treeStatus: (status, times = 1) => {
      treeFault = { status, times };
    },
    clearFaults: () => {
      faults.clear();
      treeFault = undefined;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens: a port the OS just handed out and took back. */
export async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** The original bytes' sha256 of a fixture file, for checking what was downloaded. */
export function fixtureSha256(name: string, path: string): string {
  return createHash('sha256')
    .update(readFileSync(join(FIXTURES_DIR, name, path)))
    .digest('hex');
}
