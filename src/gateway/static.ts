// The dashboard's static files, served by uWS itself. The set of files is an allow-list built once at
// startup (each file gets its own exact route), so no request path ever reaches the file system: path
// traversal is impossible by construction. Files are read into memory, gzipped when that pays, and
// answered with an ETag (304 on If-None-Match).
//
//   /                         src/dashboard/index.html
//   /overlay                  src/dashboard/overlay.html      (the OBS overlay: ?channel=…&style=bar|meter&moments=1)
//   /assets/app/styles.css    src/dashboard/styles.css
//   /assets/app/overlay.css   src/dashboard/overlay.css
//   /assets/app/<name>.js     dist/src/dashboard/<name>.js   (npm run build)
//   /assets/client/<name>.js  dist/src/client/<name>.js      (the SDK, imported by the dashboard as ../client/)
//   /assets/vendor/uPlot.*    node_modules/uplot/dist/uPlot.esm.js and uPlot.min.css
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from '../paths.js';
import type { ClientAddress } from './client-address.js';
import { guarded, peerAddress, refuseDraining } from './http.js';
import { requestIdOf, type RequestEvent } from './router.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

export interface StaticOptions {
  /** Headers every response carries (X-Instance). */
  baseHeaders: Readonly<Record<string, string>>;
  /** The repository root; default: the one this module lives in. */
  root?: string;
  /** Told of every answered request, as the router's routes are (metrics, the request log). */
  observe?: (e: RequestEvent) => void;
  addresses?: ClientAddress;
  /** Told of an unexpected failure (a bug): the request gets a 500, the process stays up. */
  onError?: (err: unknown) => void;
  /** True once a drain has begun: requests are then refused with 503 draining, as the router's are. */
  draining?: () => boolean;
}

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  etag: string;
  headers: Record<string, string>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** Files keep their names across builds and upgrades (uPlot's too): revalidate every time (cheap: a 304). */
const REVALIDATE = 'no-cache';
const SAFE_NAME = /^[A-Za-z0-9_-]+\.js$/;

/** Registers a GET route per allowed file; returns the URL paths served (a missing build is skipped). */
export function mountStatic(app: TemplatedApp, options: StaticOptions): string[] {
  const root = options.root ?? REPO_ROOT;
  const files = new Map<string, { file: string; cache: string }>();
  const dashboardSrc = join(root, 'src', 'dashboard');
  files.set('/', { file: join(dashboardSrc, 'index.html'), cache: REVALIDATE });
  files.set('/overlay', { file: join(dashboardSrc, 'overlay.html'), cache: REVALIDATE });
  files.set('/assets/app/styles.css', { file: join(dashboardSrc, 'styles.css'), cache: REVALIDATE });
  files.set('/assets/app/overlay.css', { file: join(dashboardSrc, 'overlay.css'), cache: REVALIDATE });
  for (const [prefix, dir] of [
    ['/assets/app/', join(root, 'dist', 'src', 'dashboard')],
    ['/assets/client/', join(root, 'dist', 'src', 'client')],
  ] as const) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (SAFE_NAME.test(name)) files.set(prefix + name, { file: join(dir, name), cache: REVALIDATE });
  }
  const uplot = uplotDir(root);
  if (uplot) {
    files.set('/assets/vendor/uPlot.esm.js', { file: join(uplot, 'uPlot.esm.js'), cache: REVALIDATE });
    files.set('/assets/vendor/uPlot.min.css', { file: join(uplot, 'uPlot.min.css'), cache: REVALIDATE });
  }

  const mounted: string[] = [];
  for (const [path, { file, cache }] of files) {
    if (!existsSync(file)) continue;
    const asset = load(file, cache, options.baseHeaders);
    app.get(
      path,
      guarded(
        options.baseHeaders,
        (err) => options.onError?.(err),
        (res, req) => {
          const started = performance.now();
          const requestId = requestIdOf(req);
          const ip = peerAddress(res, req, options.addresses); // before the reply: a finished response must not be touched
          const refused = options.draining?.() === true;
          if (refused) refuseDraining(res, req, { ...options.baseHeaders, 'X-Request-Id': requestId });
          const status = refused ? 503 : serve(asset, res, req, requestId);
          options.observe?.({ method: 'GET', route: path, path, status, ms: performance.now() - started, requestId, ip });
        },
      ),
    );
    mounted.push(path);
  }
  return mounted;
}

function uplotDir(root: string): string | null {
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('uplot/package.json');
    return join(dirname(pkg), 'dist');
  } catch {
    return null;
  }
}

function load(file: string, cache: string, baseHeaders: Readonly<Record<string, string>>): Asset {
  const ext = file.slice(file.lastIndexOf('.'));
  const body = readFileSync(file);
  const zipped = body.length > 1024 ? gzipSync(body, { level: 9 }) : null;
  const gzip = zipped && zipped.length < body.length * 0.9 ? zipped : null;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const headers: Record<string, string> = {
    ...baseHeaders,
    'Content-Type': TYPES[ext] ?? 'application/octet-stream',
    'Cache-Control': cache,
    'X-Content-Type-Options': 'nosniff',
  };
  if (gzip) headers.Vary = 'Accept-Encoding';
  if (ext === '.html') {
    headers['Content-Security-Policy'] = contentSecurityPolicy(body.toString('utf8'));
    headers['Referrer-Policy'] = 'no-referrer';
    headers['X-Frame-Options'] = 'DENY';
  }
  return { body, gzip, etag, headers };
}

/** Scripts only from this origin, plus the page's inline import map, allowed by its hash. */
function contentSecurityPolicy(html: string): string {
  const hashes = [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map(
    (m) =>
      `'sha256-${createHash('sha256')
        .update(m[1] as string)
        .digest('base64')}'`,
  );
  return [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:", // blob: room images, fetched with the token and shown from an object URL
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function acceptsGzip(header: string): boolean {
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Answers from memory; returns the status. */
function serve(asset: Asset, res: HttpResponse, req: HttpRequest, requestId: string): number {
  const gzip = asset.gzip !== null && acceptsGzip(req.getHeader('accept-encoding'));
  const etag = gzip ? `${asset.etag.slice(0, -1)}-gz"` : asset.etag;
  const match = req.getHeader('if-none-match');
  // Synchronous handler: uWS has corked the socket already.
  if (match !== '' && match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    res.writeStatus('304 Not Modified');
    for (const key in asset.headers) if (key !== 'Content-Type') res.writeHeader(key, asset.headers[key] as string);
    res.writeHeader('ETag', etag).writeHeader('X-Request-Id', requestId).endWithoutBody();
    return 304;
  }
  res.writeStatus('200 OK');
  for (const key in asset.headers) res.writeHeader(key, asset.headers[key] as string);
  res.writeHeader('ETag', etag).writeHeader('X-Request-Id', requestId);
  if (gzip) res.writeHeader('Content-Encoding', 'gzip');
  res.end(gzip ? (asset.gzip as Buffer) : asset.body);
  return 200;
}
