// The dashboard in a real browser (headless Chromium through playwright-core) against a real server:
// static files, sign-in, a live room with sentiment-tinted messages, the mood chart, posting from the
// page, and a clear message where a history endpoint is missing; two people matched into a private room (avatars,
// an image). Saves test-output/dashboard.png.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatPulseClient, type LiveConnection, type MessageFrame } from '../src/client/index.js';
import { CHROMIUM, expectStaticFile, hasBrowser, launchChromium, OUT } from './browser.js';
import { ROOT, startServer, type TestServer } from './helpers.js';
import { IMAGES } from './images.js';

const builtDashboard = existsSync(join(ROOT, 'dist', 'src', 'dashboard', 'app.js'));

interface PageState {
  connection: string;
  channel: string | null;
  messages: number;
  moodFrames: number;
  chartPoints: number;
  lastLabel: string | null;
}

if (!hasBrowser) console.warn(`dashboard.test.ts: skipping the browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);

describe('static files', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (s as TestServer | undefined)?.app.stop();
  });

  it('serves the dashboard, its scripts and uPlot with types, caching headers and X-Instance', async () => {
    expect(builtDashboard, 'run `npm run build` first: the dashboard is served from dist/src/dashboard').toBe(true);
    const index = await fetch(`${s.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('x-instance')).toMatch(/:\d+$/);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self' 'sha256-/);
    expect(await index.text()).toContain('<script type="module" src="/assets/app/app.js">');

    for (const [path, type] of [
      ['/assets/app/app.js', 'text/javascript; charset=utf-8'],
      ['/assets/app/styles.css', 'text/css; charset=utf-8'],
      ['/assets/client/index.js', 'text/javascript; charset=utf-8'],
      ['/assets/vendor/uPlot.esm.js', 'text/javascript; charset=utf-8'],
      ['/assets/vendor/uPlot.min.css', 'text/css; charset=utf-8'],
    ] as const)
      await expectStaticFile(s.url, path, type); // uPlot too is revalidated: its URL does not change with its version
    // Only the allow-list: anything else falls through to the API's JSON 404.
    for (const path of [
      '/assets/app/../../package.json',
      '/assets/client/%2e%2e/%2e%2e/package.json',
      '/src/app.ts',
      '/assets/app/app.ts',
      '/index.html',
    ]) {
      const res = await fetch(s.url + path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toBe('application/json');
    }
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});

describe.skipIf(!hasBrowser)('dashboard in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  let poster: LiveConnection;
  const pageErrors: string[] = [];
  const state = () => page.evaluate<PageState>('window.__chatpulse');

  beforeAll(async () => {
    s = await startServer({
      CHAT_RATE_PER_30S: '1000',
      WS_FRAME_RATE_PER_10S: '1000',
      MOOD_TICK_MS: '250',
      MOOD_WINDOW_S: '5',
      MATCH_TICK_MS: '50',
      MATCH_RELAX_S: '0', // any two queued people pair at once
      ROOM_COUNTDOWN_S: '1',
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // A failed request logs a console error too: the API's answers are checked through the UI instead.
    page.on('console', (msg) => msg.type() === 'error' && !msg.text().startsWith('Failed to load resource') && pageErrors.push(msg.text()));
    page.on('response', (res) => {
      if (res.status() >= 400 && !new URL(res.url()).pathname.startsWith('/api/')) pageErrors.push(`${res.status()} ${res.url()}`);
    });
    const sdk = new ChatPulseClient({ baseUrl: s.url, WebSocket });
    await sdk.auth.register('streamer', 'password123');
    await sdk.auth.login('streamer', 'password123');
    await sdk.rooms.create({ id: 'dash' }); // rooms exist only through the API
    poster = sdk.live({ channels: ['room:dash'] });
    await poster.next('subscribed');
    for (const name of ['alice', 'bobby']) await sdk.auth.register(name, 'password123');
  });
  afterAll(async () => {
    (poster as LiveConnection | undefined)?.close();
    await (browser as Browser | undefined)?.close();
    await (s as TestServer | undefined)?.app.stop();
  });

  it('signs in, watches a room, tints messages by sentiment and charts the mood', async () => {
    await page.goto(`${s.url}/`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('#app').waitFor({ state: 'visible' });
    await expect.poll(async () => (await state()).connection).toBe('open');
    expect(await page.locator('#whoami').textContent()).toContain('admin');

    await page.getByRole('combobox', { name: 'Channel' }).fill('room:dash');
    await page.getByRole('button', { name: 'Watch', exact: true }).click();
    await expect.poll(() => page.locator('#channel-status').textContent()).toContain('Watching room:dash');

    // A message sent through the SDK shows up with its label as data-label (and the matching tint).
    const sent = poster.next('message', (m: MessageFrame) => m.text === 'this is the best stream ever, love it');
    void poster.chat('room:dash', 'this is the best stream ever, love it');
    const frame = await sent;
    const item = page.locator(`#chat li[data-id="${frame.id}"]`);
    await item.waitFor();
    expect(await item.getAttribute('data-label')).toBe(frame.sentiment.label);
    expect(await item.textContent()).toContain('this is the best stream ever, love it');
    const tint = await page.evaluate(`(() => {
      const probe = document.createElement('span');
      probe.style.color = 'var(--${frame.sentiment.label})';
      document.body.append(probe);
      const want = getComputedStyle(probe).color;
      probe.remove();
      return { want, got: getComputedStyle(document.querySelector('#chat li[data-id="${frame.id}"]')).borderLeftColor };
    })()`);
    expect((tint as { got: string }).got).toBe((tint as { want: string }).want);

    // The chart gets points from mood frames; more traffic, more points.
    await expect.poll(async () => (await state()).chartPoints, { timeout: 5000 }).toBeGreaterThan(0);
    const before = (await state()).chartPoints;
    void poster.chat('room:dash', 'this is awful, worst game');
    await expect.poll(async () => (await state()).chartPoints, { timeout: 5000 }).toBeGreaterThan(before);
    expect(Number(await page.locator('#mood-chart').getAttribute('data-points'))).toBeGreaterThan(before);
    await page.locator('#mood-chart canvas').waitFor();
    await expect.poll(() => page.locator('#stat-viewers').textContent()).toBe('2');

    // Posting from the page: the message comes back tinted, from admin.
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('hello from the dashboard, great match');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const own = page.locator('#chat li', { hasText: 'hello from the dashboard, great match' });
    await own.waitFor();
    expect(await own.getAttribute('data-label')).toMatch(/^(negative|neutral|positive)$/);
    expect(await own.locator('.user').textContent()).toContain('admin');
    await expect.poll(async () => (await state()).messages).toBeGreaterThanOrEqual(3);

    // History: either a timeline or a clear message (the history API may not be there yet). The tools are
    // collapsed so the mood takes the screen: open them first.
    await page.locator('#history > summary').click();
    await page.getByRole('button', { name: 'Load timeline' }).click();
    await expect
      .poll(() => page.locator('#history-status').textContent(), { timeout: 5000 })
      .toMatch(/messages in \d+ buckets|does not offer this yet \(404\)/);

    // Saving the period as a report; and, where an endpoint answers 404, a clear message in the page.
    await page.getByLabel('Report title').fill('dashboard test');
    await page.getByRole('button', { name: 'Save as report', exact: true }).click();
    await expect
      .poll(() => page.locator('#history-status').textContent(), { timeout: 5000 })
      .toMatch(/Saved report dashboard test|does not offer this yet \(404\)/);
    await page.route('**/api/v1/channels/*/timeline*', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'not_found', message: 'no route for /api/v1/channels/room:dash/timeline' } }),
      }),
    );
    await page.getByRole('button', { name: 'Load timeline' }).click();
    await expect
      .poll(() => page.locator('#history-status').textContent())
      .toBe('Timeline of room:dash: this server does not offer this yet (404).');
    await page.unroute('**/api/v1/channels/*/timeline*');
    await page.getByRole('button', { name: 'Load timeline' }).click();
    await expect.poll(() => page.locator('#history-status').textContent()).toMatch(/messages in \d+ buckets|does not offer this yet/);

    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(OUT, 'dashboard-phone.png'), fullPage: true });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(pageErrors).toEqual([]);
  });

  it('pairs two people who click "Find someone to chat with" into one private room, with avatars and images', async () => {
    const signIn = async (username: string): Promise<Page> => {
      const p = await browser.newPage({ viewport: { width: 1280, height: 900 } }); // a context of its own: its own session
      p.on('pageerror', (err) => pageErrors.push(`${username}: ${err.message}`));
      await p.goto(`${s.url}/`);
      await p.getByLabel('Username').fill(username);
      await p.getByLabel('Password').fill('password123');
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect.poll(() => p.evaluate<string>('window.__chatpulse.connection'), { timeout: 10_000 }).toBe('open'); // two logins (password hashing) at once on a small machine
      return p;
    };
    const [alice, bobby] = await Promise.all([signIn('alice'), signIn('bobby')]);
    const channelOf = (p: Page) => p.evaluate<string | null>('window.__chatpulse.channel');
    try {
      await alice.getByRole('button', { name: 'Find someone to chat with' }).click();
      await expect.poll(() => alice.locator('#match-status').textContent()).toContain('waiting…');
      expect(await alice.getByRole('button', { name: 'Leave', exact: true }).isVisible()).toBe(true);
      await bobby.getByRole('button', { name: 'Find someone to chat with' }).click();

      // Both land in the same new private room, and see its lifecycle state (active, with a countdown).
      await expect.poll(() => channelOf(alice), { timeout: 5000 }).toMatch(/^room:/);
      await expect.poll(() => channelOf(bobby), { timeout: 5000 }).toMatch(/^room:/);
      const room = (await channelOf(alice)) as string;
      expect(await channelOf(bobby)).toBe(room);
      expect(await alice.locator('#match-status').textContent()).toContain('Matched with bobby');
      for (const p of [alice, bobby]) {
        await expect.poll(() => p.locator('#channel-status').textContent()).toContain(`Watching ${room}`);
        await expect.poll(() => p.evaluate<string | null>('window.__chatpulse.roomState')).toBe('active');
        expect(await p.getByRole('button', { name: 'Start countdown' }).isVisible()).toBe(true);
        expect(await p.locator('#room-countdown').textContent()).toMatch(/^\d+:\d\d$/);
      }

      // Alice writes; Bobby sees it, with Alice's avatar (the initials image, loaded).
      await alice.getByRole('textbox', { name: 'Message', exact: true }).fill('hi bobby, nice to meet you');
      await alice.getByRole('button', { name: 'Send', exact: true }).click();
      const line = bobby.locator('#chat li', { hasText: 'hi bobby, nice to meet you' });
      await line.waitFor();
      const avatar = line.getByRole('img', { name: 'Avatar of alice' });
      await expect.poll(() => avatar.evaluate((img: unknown) => (img as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
      expect(await avatar.getAttribute('src')).toMatch(/^\/api\/v1\/users\/[^/]+\/avatar$/);

      // An image: uploaded, attached, shown inline to both from an object URL fetched with the token.
      await alice.getByLabel('Attach image').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: IMAGES['image/png'] });
      await alice.getByRole('textbox', { name: 'Message', exact: true }).fill('look at this');
      await alice.getByRole('button', { name: 'Send', exact: true }).click();
      for (const p of [bobby, alice]) {
        const image = p.locator('#chat li', { hasText: 'look at this' }).getByRole('img', { name: 'Image from alice' });
        await image.waitFor();
        await expect.poll(() => image.evaluate((img: unknown) => (img as { naturalWidth: number }).naturalWidth)).toBe(2);
        expect(await image.getAttribute('src')).toMatch(/^blob:/);
      }
      await bobby.screenshot({ path: join(OUT, 'dashboard-room.png'), fullPage: true });

      // The lifecycle: Alice starts the countdown (1 s here), both are asked to decide, both keep: active again.
      await alice.getByRole('button', { name: 'Start countdown' }).click();
      for (const p of [alice, bobby]) {
        await expect.poll(() => p.evaluate<string | null>('window.__chatpulse.roomState'), { timeout: 5000 }).toBe('decision');
        expect(await p.locator('#room-state-text').textContent()).toContain('Keep this room?');
      }
      for (const p of [alice, bobby]) await p.getByRole('button', { name: 'Keep', exact: true }).click();
      for (const p of [alice, bobby]) {
        await expect.poll(() => p.evaluate<string | null>('window.__chatpulse.roomState')).toBe('active');
        expect(await p.getByRole('button', { name: 'Keep', exact: true }).isVisible()).toBe(false);
      }
      expect(pageErrors).toEqual([]);
    } finally {
      await Promise.all([alice.close(), bobby.close()]);
    }
  });
});
