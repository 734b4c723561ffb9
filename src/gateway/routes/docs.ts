// The API's own description: `GET /openapi.json` (OpenAPI 3.1), `GET /asyncapi.json` (AsyncAPI 3.0, the
// WebSocket protocol) and `GET /docs` (Swagger UI, served from the swagger-ui-dist package: no CDN, with a
// link to the AsyncAPI document). The page loads only same-origin files, its start-up script included, so
// it runs under a strict Content-Security-Policy without inline scripts.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AsyncApiReply, OpenApiReply } from '../../contract/index.js';
import { route, type Reply, type Route } from '../router.js';

export const OPENAPI_PATH = '/openapi.json';
export const ASYNCAPI_PATH = '/asyncapi.json';
export const DOCS_PATH = '/docs';

interface Asset {
  /** File name in swagger-ui-dist, served as `/docs/<file>`. */
  file: string;
  contentType: string;
}

const ASSETS: readonly Asset[] = [
  { file: 'swagger-ui.css', contentType: 'text/css; charset=utf-8' },
  { file: 'index.css', contentType: 'text/css; charset=utf-8' },
  { file: 'swagger-ui-bundle.js', contentType: 'text/javascript; charset=utf-8' },
  { file: 'swagger-ui-standalone-preset.js', contentType: 'text/javascript; charset=utf-8' },
  { file: 'favicon-32x32.png', contentType: 'image/png' },
  { file: 'favicon-16x16.png', contentType: 'image/png' },
];

/** Our start-up script for the page (the package's own one points at the Petstore). */
const INIT_FILE = 'swagger-initializer.js';
const INIT_SCRIPT = `// Starts Swagger UI on this server's OpenAPI document.
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(OPENAPI_PATH)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
  });
});
`;

/**
 * Only same-origin scripts and styles; Swagger UI sets inline style attributes and draws some icons from
 * data: URIs, hence those two allowances. `connect-src 'self'` still lets "Try it out" call this API.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The swagger-ui-dist folder and version, found through Node's resolution (the package is CommonJS). */
function swaggerUiDist(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('swagger-ui-dist/package.json');
  const { version } = require(manifest) as { version: string };
  return { dir: dirname(manifest), version };
}

function page(version: string): string {
  const v = `?v=${encodeURIComponent(version)}`;
  const at = (file: string) => `${DOCS_PATH}/${file}${v}`;
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>ChatPulse API</title>
    <link rel="stylesheet" type="text/css" href="${at('swagger-ui.css')}">
    <link rel="stylesheet" type="text/css" href="${at('index.css')}">
    <link rel="icon" type="image/png" href="${at('favicon-32x32.png')}" sizes="32x32">
    <link rel="icon" type="image/png" href="${at('favicon-16x16.png')}" sizes="16x16">
  </head>
  <body>
    <p class="info" style="margin: 1em 20px 0; font-family: sans-serif">
      The WebSocket protocol (<code>/ws</code>) is described by an
      <a href="${ASYNCAPI_PATH}">AsyncAPI 3.0 document</a>.
    </p>
    <div id="swagger-ui"></div>
    <script src="${at('swagger-ui-bundle.js')}" charset="utf-8"></script>
    <script src="${at('swagger-ui-standalone-preset.js')}" charset="utf-8"></script>
    <script src="${at(INIT_FILE)}" charset="utf-8"></script>
  </body>
</html>
`;
}

const NO_CACHE = 'no-cache';
/** Package files: their URLs carry the package version, so a day's caching never serves a stale mix. */
const ASSET_CACHE = 'public, max-age=86400';

/**
 * `GET /openapi.json`, `GET /asyncapi.json` and `GET /docs` (plus Swagger UI's files under `/docs/`, left
 * out of the document). Each `get…` runs once, on the first request for its document.
 */
export function docsRoutes(getDocument: () => object, getAsyncApi: () => object): Route[] {
  let json: string | null = null;
  let asyncJson: string | null = null;
  let dist: { dir: string; version: string } | null = null;
  let html: string | null = null;
  const files = new Map<string, Promise<Buffer>>();
  const distInfo = () => (dist ??= swaggerUiDist());
  const load = (file: string): Promise<Buffer> => {
    let loading = files.get(file);
    if (!loading) {
      loading = readFile(join(distInfo().dir, file));
      // A failed read is retried on the next request rather than remembered.
      loading.catch(() => files.delete(file));
      files.set(file, loading);
    }
    return loading;
  };
  const headers = (cache: string): Record<string, string> => ({ 'Cache-Control': cache, 'X-Content-Type-Options': 'nosniff' });

  const servePage = (): Reply => ({
    raw: { contentType: 'text/html; charset=utf-8', body: (html ??= page(distInfo().version)) },
    headers: { ...headers(NO_CACHE), 'Content-Security-Policy': DOCS_CSP, 'Referrer-Policy': 'no-referrer' },
  });

  return [
    route({
      method: 'get',
      path: OPENAPI_PATH,
      auth: 'public',
      tag: 'docs',
      summary: 'This API as an OpenAPI 3.1 document',
      response: OpenApiReply,
      handler: () => ({
        raw: { contentType: 'application/json', body: (json ??= JSON.stringify(getDocument())) },
        headers: headers(NO_CACHE),
      }),
    }),
    route({
      method: 'get',
      path: ASYNCAPI_PATH,
      auth: 'public',
      tag: 'docs',
      summary: 'The WebSocket protocol (`/ws`) as an AsyncAPI 3.0 document',
      description: 'Every client and server frame, generated from the same schemas the server validates and builds frames with.',
      response: AsyncApiReply,
      handler: () => ({
        raw: { contentType: 'application/json', body: (asyncJson ??= JSON.stringify(getAsyncApi())) },
        headers: headers(NO_CACHE),
      }),
    }),
    route({
      method: 'get',
      path: DOCS_PATH,
      auth: 'public',
      tag: 'docs',
      summary: 'Swagger UI for this API',
      description: 'An HTML page; its scripts and styles are served from this server under `/docs/`.',
      responses: { 200: 'Swagger UI (text/html)' },
      handler: servePage,
    }),
    route({ method: 'get', path: `${DOCS_PATH}/`, auth: 'public', tag: 'docs', summary: 'Swagger UI', hidden: true, handler: servePage }),
    route({
      method: 'get',
      path: `${DOCS_PATH}/${INIT_FILE}`,
      auth: 'public',
      tag: 'docs',
      summary: 'Swagger UI start-up script',
      hidden: true,
      handler: () => ({ raw: { contentType: 'text/javascript; charset=utf-8', body: INIT_SCRIPT }, headers: headers(NO_CACHE) }),
    }),
    ...ASSETS.map((asset) =>
      route({
        method: 'get',
        path: `${DOCS_PATH}/${asset.file}`,
        auth: 'public',
        tag: 'docs',
        summary: `Swagger UI asset ${asset.file}`,
        hidden: true,
        handler: async () => ({ raw: { contentType: asset.contentType, body: await load(asset.file) }, headers: headers(ASSET_CACHE) }),
      }),
    ),
  ];
}
