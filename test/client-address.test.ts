// Client addresses behind trusted proxies: the resolution rules, and per-address limits on a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { ClientAddress } from '../src/gateway/client-address.js';
import { call, startServer, type TestServer } from './helpers.js';

describe('ClientAddress', () => {
  const proxies = new ClientAddress(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('uses the right-most untrusted hop from a trusted peer, and the peer otherwise', () => {
    expect(proxies.resolve('127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.resolve('127.0.0.1', '198.51.100.1, 203.0.113.7, 10.1.2.3')).toBe('203.0.113.7');
    expect(proxies.resolve('::ffff:10.0.0.9', '203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.resolve('fd00::1', '2001:db8::5')).toBe('2001:db8::5');
    expect(proxies.resolve('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9'); // an untrusted peer cannot claim another address
    expect(proxies.resolve('127.0.0.1', '')).toBe('127.0.0.1');
    expect(proxies.resolve('127.0.0.1', 'not-an-ip, 203.0.113.7')).toBe('203.0.113.7');
    expect(proxies.resolve('127.0.0.1', '203.0.113.7, garbage')).toBe('127.0.0.1');
    expect(proxies.resolve('127.0.0.1', '10.0.0.1, 10.0.0.2')).toBe('10.0.0.1');
    expect(new ClientAddress([]).resolve('127.0.0.1', '203.0.113.7')).toBe('127.0.0.1');
  });

  it('refuses entries that are not addresses or ranges', () => {
    expect(() => new ClientAddress(['10.0.0.0/33'])).toThrow(ConfigError);
    expect(() => new ClientAddress(['proxy.local'])).toThrow(ConfigError);
  });
});

describe('per-address limits behind a proxy', () => {
  let trusting: TestServer;
  let direct: TestServer;
  const login = (url: string, forwardedFor: string) =>
    call(url, 'POST', '/api/v1/auth/login', {
      body: { username: 'nobody', password: 'wrong-password' },
      headers: { 'x-forwarded-for': forwardedFor },
    });

  beforeAll(async () => {
    trusting = await startServer({ TRUSTED_PROXIES: '127.0.0.1', AUTH_RATE_PER_MIN: '2' });
    direct = await startServer({ AUTH_RATE_PER_MIN: '2' });
  });

  afterAll(async () => {
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (trusting as TestServer | undefined)?.app.stop();
    await (direct as TestServer | undefined)?.app.stop();
  });

  it('gives each forwarded client its own budget only when the proxy is trusted', async () => {
    for (const ip of ['198.51.100.1', '198.51.100.2']) {
      expect((await login(trusting.url, ip)).status).toBe(401);
      expect((await login(trusting.url, ip)).status).toBe(401);
      expect((await login(trusting.url, ip)).status).toBe(429);
    }
    // Untrusted: the header is ignored, so a client cannot dodge its limit by inventing addresses.
    expect((await login(direct.url, '198.51.100.1')).status).toBe(401);
    expect((await login(direct.url, '198.51.100.2')).status).toBe(401);
    expect((await login(direct.url, '198.51.100.3')).status).toBe(429);
  });
});
