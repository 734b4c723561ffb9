// Profiles in four tiers, with real components: the real TikTok connector fed the library's own wire messages
// (tier 1 through its onUser hook), a local HTTP server standing in for Twitch's token and Helix endpoints
// (tier 2: token, users, a timeout, the breaker), the generated avatars offline (tiers 3 and 4), and a real
// server for the routes, the admin cache endpoint and /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageModel } from 'tiktok-live-connector';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TikTokConnector } from '../src/ingest/tiktok.js';
import {
  CircuitBreaker,
  HelixFetcher,
  identiconSvg,
  MemoryProfileStore,
  ProfileService,
  type ProfileFetcher,
} from '../src/profiles/index.js';
import { OfflineTikTokConnection, chat, member, user } from './fixtures/tiktok.js';
import { call, startServer, type TestServer } from './helpers.js';

const AVATAR = 'https://p16-sign.tiktokcdn.com/avatar/ada~100x100.webp';

/** A Helix stand-in: POST /oauth2/token (client credentials) and GET /helix/users?login=. */
class FakeTwitch {
  server: Server | null = null;
  tokens = 0;
  userCalls = 0;
  /** Milliseconds the users endpoint waits before answering. */
  delayMs = 0;
  /** Status the users endpoint answers with (200: the user, if known). */
  status = 200;
  readonly users = new Map([['ninja', { display_name: 'Ninja', profile_image_url: 'https://static-cdn.jtvnw.net/ninja.png' }]]);

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    let status = 404;
    let body: unknown = {};
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      let form = '';
      for await (const chunk of req) form += String(chunk);
      const f = new URLSearchParams(form);
      if (f.get('grant_type') === 'client_credentials' && f.get('client_secret') === 'secret') {
        this.tokens++;
        status = 200;
        body = { access_token: `app-token-${this.tokens}`, expires_in: 3600, token_type: 'bearer' };
      } else status = 400;
    } else if (req.method === 'GET' && url.pathname === '/helix/users') {
      this.userCalls++;
      if (req.headers.authorization !== `Bearer app-token-${this.tokens}` || req.headers['client-id'] !== 'client') status = 401;
      else {
        if (this.delayMs > 0) await sleep(this.delayMs);
        status = this.status;
        const u = this.users.get(url.searchParams.get('login') ?? '');
        if (status === 200) body = { data: u ? [{ login: url.searchParams.get('login'), ...u }] : [] };
      }
    }
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('tier 1: users seen in ingested TikTok events', () => {
  it('records the nickname and avatar the real wire messages carry, and initials for a user without an avatar', async () => {
    const profiles = new ProfileService({ store: new MemoryProfileStore(), fetchers: {} });
    const conns: OfflineTikTokConnection[] = [];
    const connector = new TikTokConnector({
      reconnectMinMs: 1,
      reconnectMaxMs: 4,
      createConnection: (uniqueId) => {
        const conn = new OfflineTikTokConnection(uniqueId);
        conns.push(conn);
        return conn;
      },
      onUser: (login, name, avatar) => profiles.record('tiktok', login, name, avatar),
    });
    const connection = connector.connect('@streamer', () => undefined);
    await vi.waitFor(() => expect(conns.at(-1)?.isConnected).toBe(true));
    const conn = conns.at(-1) as OfflineTikTokConnection;
    const ada = {
      ...user({ id: '6800000000000000001', nickname: 'Ada Lovelace', uniqueId: 'ada.l' }),
      avatarThumb: { ...ImageModel.decode(new Uint8Array(0)), urlList: [AVATAR] },
    };
    await conn.receive(chat({ msgId: '7301234567890123456', user: ada, text: 'hello' }));
    await conn.receive(member(user({ id: '7', nickname: 'Lin Wei', uniqueId: 'lin' })));

    expect(await profiles.get('tiktok', '@Ada.L')).toMatchObject({
      username: 'ada.l',
      displayName: 'Ada Lovelace',
      avatarUrl: AVATAR,
      tier: 'live',
    });
    expect(await profiles.get('tiktok', 'lin')).toMatchObject({
      displayName: 'Lin Wei',
      avatarUrl: '/api/v1/profiles/tiktok/lin/avatar',
      tier: 'initials',
    });
    await connection.stop();
  });
});

describe('tier 2: Helix through a local stand-in', () => {
  const twitch = new FakeTwitch();
  let base = '';
  beforeAll(async () => {
    base = await twitch.start();
  });
  afterAll(() => twitch.stop());

  const helix = (timeoutMs = 500) =>
    new HelixFetcher({ clientId: 'client', clientSecret: 'secret', helixUrl: `${base}/helix`, authUrl: `${base}/oauth2`, timeoutMs });

  it('fetches with an app token (one token for many lookups), and generates an identicon for an unknown login', async () => {
    const profiles = new ProfileService({ store: new MemoryProfileStore(), fetchers: { twitch: helix() } });
    expect(await profiles.get('twitch', 'Ninja')).toMatchObject({
      username: 'ninja',
      displayName: 'Ninja',
      avatarUrl: 'https://static-cdn.jtvnw.net/ninja.png',
      tier: 'fetched',
    });
    expect(await profiles.get('twitch', 'nobody_here')).toMatchObject({
      tier: 'generated',
      avatarUrl: '/api/v1/profiles/twitch/nobody_here/avatar',
    });
    expect(twitch.tokens).toBe(1);
    // Served from this process's cache: no second request.
    const before = twitch.userCalls;
    await profiles.get('twitch', 'ninja');
    expect(twitch.userCalls).toBe(before);
    expect(profiles.stats().by_tier.fetched).toMatchObject({ hits: 1, misses: 1 });
  });

  it('gives up on a slow platform at the timeout, and opens the breaker after repeated failures', async () => {
    twitch.delayMs = 300;
    const errors: string[] = [];
    const profiles = new ProfileService(
      { store: new MemoryProfileStore(), fetchers: { twitch: helix(50) }, onError: (_err, what) => errors.push(what) },
      { ttlMs: { live: 60_000, fetched: 60_000, generated: 1, initials: 1 }, max: 100, breakerFailures: 2, breakerOpenMs: 60_000 },
    );
    const started = performance.now();
    expect(await profiles.get('twitch', 'ninja')).toMatchObject({ tier: 'generated' });
    expect(performance.now() - started).toBeLessThan(250);
    await profiles.get('twitch', 'slow_two');
    expect(profiles.stats().breakers.twitch).toEqual({ state: 'open', opened: 1 });
    const calls = twitch.userCalls;
    await profiles.get('twitch', 'slow_three');
    expect(twitch.userCalls).toBe(calls); // open: not asked
    expect(errors).toEqual(['twitch profile lookup', 'twitch profile lookup']);
    twitch.delayMs = 0;
  });

  it('closes again after a successful try once the open period is over', async () => {
    let now = 1_000_000;
    const breaker = new CircuitBreaker(1, 1000, () => now);
    await expect(breaker.run('twitch', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    await expect(breaker.run('twitch', () => Promise.resolve(1))).rejects.toThrow('paused');
    now += 1000;
    expect(breaker.state).toBe('half-open');
    expect(await breaker.run('twitch', () => Promise.resolve(2))).toBe(2);
    expect(breaker.state).toBe('closed');
  });
});

describe('tiers 3 and 4, offline', () => {
  it('draws the same identicon for the same user, another for another, with nothing but shapes', () => {
    const a = identiconSvg('twitch', 'ninja');
    expect(identiconSvg('twitch', 'ninja')).toBe(a);
    expect(identiconSvg('tiktok', 'ninja')).not.toBe(a);
    expect(a).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(a).not.toMatch(/<script|href|<text|url\(/i);
  });

  it('serves stale entries at once and refreshes them in the background; revalidate refreshes on demand', async () => {
    let name = 'First';
    let calls = 0;
    const fetcher: ProfileFetcher = {
      fetch: async () => {
        calls++;
        return { displayName: name, avatarUrl: null };
      },
    };
    const store = new MemoryProfileStore();
    const profiles = new ProfileService(
      { store, fetchers: { tiktok: fetcher } },
      { ttlMs: { live: 60_000, fetched: 60_000, generated: 60_000, initials: 20 }, max: 100, breakerFailures: 3, breakerOpenMs: 1000 },
    );
    expect(await profiles.get('tiktok', 'someone')).toMatchObject({ displayName: 'First', tier: 'initials' });
    name = 'Second';
    profiles.revalidate('tiktok', ['someone']);
    await vi.waitFor(async () => expect((await store.get('tiktok', 'someone'))?.displayName).toBe('Second'));
    expect(calls).toBe(2);
    await vi.waitFor(async () => expect((await profiles.get('tiktok', 'someone')).displayName).toBe('Second'));
    expect(profiles.stats().revalidations).toBe(1);
    await sleep(30);
    expect(profiles.clearExpired()).toBe(1);
  });
});

describe('profiles over HTTP', () => {
  const twitch = new FakeTwitch();
  let s: TestServer;
  let admin = '';
  let user = '';
  beforeAll(async () => {
    const base = await twitch.start();
    s = await startServer({
      TWITCH_CLIENT_ID: 'client',
      TWITCH_CLIENT_SECRET: 'secret',
      TWITCH_HELIX_URL: `${base}/helix`,
      TWITCH_AUTH_URL: `${base}/oauth2`,
    });
    const login = async (username: string, password: string) =>
      ((await call(s.url, 'POST', '/api/v1/auth/login', { body: { username, password } })).body as { access_token: string }).access_token;
    admin = await login('admin', 'admin-password');
    expect((await call(s.url, 'POST', '/api/v1/auth/register', { body: { username: 'viewer', password: 'viewer-password' } })).status).toBe(
      201,
    );
    user = await login('viewer', 'viewer-password');
  }, 60_000);
  afterAll(async () => {
    await s.app.stop();
    await twitch.stop();
  });

  it('answers each tier, serves the generated avatars safely, and counts hits per tier in /admin/cache and /metrics', async () => {
    const fetched = await call(s.url, 'GET', '/api/v1/profiles/twitch/Ninja', { token: user });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({ source: 'twitch', username: 'ninja', display_name: 'Ninja', tier: 'fetched' });
    expect(Date.parse((fetched.body as { fetched_at: string }).fetched_at)).not.toBeNaN();
    await call(s.url, 'GET', '/api/v1/profiles/twitch/ninja', { token: user });

    const generated = await call(s.url, 'GET', '/api/v1/profiles/twitch/unknown_one', { token: user });
    expect(generated.body).toMatchObject({ tier: 'generated', avatar_url: '/api/v1/profiles/twitch/unknown_one/avatar' });
    const svg = await fetch(`${s.url}/api/v1/profiles/twitch/unknown_one/avatar`);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.headers.get('x-content-type-options')).toBe('nosniff');
    expect(svg.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await svg.text()).toBe(identiconSvg('twitch', 'unknown_one'));

    expect((await call(s.url, 'GET', '/api/v1/profiles/myspace/tom', { token: user })).status).toBe(400);
    expect((await call(s.url, 'GET', '/api/v1/profiles/twitch/ninja')).status).toBe(401);

    const revalidate = await call(s.url, 'POST', '/api/v1/profiles/revalidate', {
      token: user,
      body: { source: 'twitch', usernames: ['ninja'] },
    });
    expect(revalidate).toMatchObject({ status: 202, body: { accepted: 1 } });

    expect((await call(s.url, 'GET', '/api/v1/admin/cache', { token: user })).status).toBe(403);
    const cache = await call(s.url, 'GET', '/api/v1/admin/cache', { token: admin });
    expect(cache.status).toBe(200);
    const profiles = (cache.body as { profiles: { by_tier: Record<string, { hits: number; misses: number; hit_ratio: number }> } })
      .profiles;
    expect(profiles.by_tier.fetched).toMatchObject({ hits: 1, misses: 1, hit_ratio: 0.5 });
    expect(cache.body).toHaveProperty('identities.hit_ratio');
    const cleared = await call(s.url, 'POST', '/api/v1/admin/cache/clear-expired', { token: admin });
    expect(cleared).toMatchObject({ status: 200, body: { cleared: { profiles: 0 } } });

    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/chatpulse_profile_cache_hits_total\{[^}]*tier="fetched"[^}]*\} 1/);
    expect(metrics).toMatch(/chatpulse_profile_cache_hit_ratio\{[^}]*tier="fetched"[^}]*\} 0.5/);
  });
});
