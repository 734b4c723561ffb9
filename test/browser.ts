// What the browser suites share: headless Chromium (Debian's, through playwright-core), where screenshots
// go, and the check every static file of the dashboard and the overlay passes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { expect } from 'vitest';
import { ROOT } from './helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const hasBrowser = existsSync(CHROMIUM);
/** Screenshots (ignored by git). */
export const OUT = join(ROOT, 'test-output');

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });

/** A static file: 200 with its type, revalidated (no-cache) and answered 304 for its own ETag. */
export async function expectStaticFile(base: string, path: string, type: string): Promise<void> {
  const res = await fetch(base + path);
  expect(res.status, path).toBe(200);
  expect(res.headers.get('content-type'), path).toBe(type);
  expect(res.headers.get('cache-control'), path).toBe('no-cache');
  const etag = res.headers.get('etag') as string;
  expect(etag, path).toMatch(/^".+"$/);
  const again = await fetch(base + path, { headers: { 'if-none-match': etag } });
  expect(again.status, path).toBe(304);
}
