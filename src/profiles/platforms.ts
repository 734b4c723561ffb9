// Tier 2: asking the platform. Twitch through Helix `GET /helix/users?login=` with an app token (client
// credentials); TikTok through its web profile endpoint (`/api/user/detail/?uniqueId=`), the same call the
// web client of tiktok-live-connector makes for a user's details. Every call has a timeout, and each platform
// sits behind a circuit breaker: after `failures` failures in a row it is not asked for `openMs`.
import type { SourceKind } from '../vocabulary.js';

export interface PlatformProfile {
  displayName: string;
  avatarUrl: string | null;
}

export interface ProfileFetcher {
  /** The user's profile; null when the platform says there is no such user. Rejects when it cannot tell. */
  fetch(username: string): Promise<PlatformProfile | null>;
}

export class BreakerOpenError extends Error {
  constructor(source: SourceKind) {
    super(`${source} profile lookups paused after repeated failures`);
  }
}

/** Closed → open after `failures` failures in a row → half-open (one try) after `openMs`. */
export class CircuitBreaker {
  #failures = 0;
  #openUntil = 0;
  opened = 0;

  constructor(
    private readonly failures: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.#failures < this.failures) return 'closed';
    return this.now() < this.#openUntil ? 'open' : 'half-open';
  }

  async run<T>(source: SourceKind, call: () => Promise<T>): Promise<T> {
    if (this.state === 'open') throw new BreakerOpenError(source);
    try {
      const out = await call();
      this.#failures = 0;
      return out;
    } catch (err) {
      if (++this.#failures >= this.failures) {
        this.#openUntil = this.now() + this.openMs;
        this.opened++;
      }
      throw err;
    }
  }
}

const httpsUrl = (u: unknown): string | null => (typeof u === 'string' && /^https:\/\/[^\s"'<>]+$/.test(u) && u.length <= 1024 ? u : null);

async function getJson(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  try {
    return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
  } catch {
    return { status: res.status, body: null };
  }
}

export interface HelixOptions {
  clientId: string;
  clientSecret: string;
  /** `https://api.twitch.tv/helix` */
  helixUrl: string;
  /** `https://id.twitch.tv/oauth2` */
  authUrl: string;
  timeoutMs: number;
}

export class HelixFetcher implements ProfileFetcher {
  #token: { value: string; expiresAt: number } | null = null;

  constructor(private readonly o: HelixOptions) {}

  private async token(): Promise<string> {
    if (this.#token && this.#token.expiresAt > Date.now()) return this.#token.value;
    const form = new URLSearchParams({ client_id: this.o.clientId, client_secret: this.o.clientSecret, grant_type: 'client_credentials' });
    const { status, body } = await getJson(
      `${this.o.authUrl}/token`,
      { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() },
      this.o.timeoutMs,
    );
    const b = body as { access_token?: unknown; expires_in?: unknown } | null;
    if (status !== 200 || typeof b?.access_token !== 'string') throw new Error(`twitch token request failed (${status})`);
    const ttlS = typeof b.expires_in === 'number' ? b.expires_in : 3600;
    this.#token = { value: b.access_token, expiresAt: Date.now() + Math.max(0, ttlS - 60) * 1000 };
    return b.access_token;
  }

  async fetch(username: string): Promise<PlatformProfile | null> {
    const call = async () =>
      getJson(
        `${this.o.helixUrl}/users?login=${encodeURIComponent(username)}`,
        { headers: { 'Client-Id': this.o.clientId, Authorization: `Bearer ${await this.token()}` } },
        this.o.timeoutMs,
      );
    let res = await call();
    if (res.status === 401) {
      this.#token = null; // revoked or expired early: one new token
      res = await call();
    }
    if (res.status !== 200) throw new Error(`twitch users request failed (${res.status})`);
    const user = (res.body as { data?: Array<{ display_name?: unknown; profile_image_url?: unknown }> } | null)?.data?.[0];
    if (!user) return null;
    return {
      displayName: typeof user.display_name === 'string' && user.display_name !== '' ? user.display_name : username,
      avatarUrl: httpsUrl(user.profile_image_url),
    };
  }
}

export interface TikTokProfileOptions {
  /** `https://www.tiktok.com` */
  webUrl: string;
  timeoutMs: number;
}

export class TikTokFetcher implements ProfileFetcher {
  constructor(private readonly o: TikTokProfileOptions) {}

  async fetch(username: string): Promise<PlatformProfile | null> {
    const { status, body } = await getJson(
      `${this.o.webUrl}/api/user/detail/?uniqueId=${encodeURIComponent(username)}`,
      { headers: { Accept: 'application/json' } },
      this.o.timeoutMs,
    );
    if (status === 404) return null;
    if (status !== 200) throw new Error(`tiktok user request failed (${status})`);
    const user = (body as { userInfo?: { user?: { nickname?: unknown; avatarThumb?: unknown; avatarMedium?: unknown } } } | null)?.userInfo
      ?.user;
    if (!user) return null;
    return {
      displayName: typeof user.nickname === 'string' && user.nickname !== '' ? user.nickname : username,
      avatarUrl: httpsUrl(user.avatarMedium) ?? httpsUrl(user.avatarThumb),
    };
  }
}
