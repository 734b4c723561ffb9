// The audit log through a real server: security and admin events are recorded (never a secret), read back
// newest first by an admin, filtered by kind, paged, and cleaned up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startServer, type TestServer } from './helpers.js';

interface Entry {
  id: string;
  ts: string;
  kind: string;
  actor: string | null;
  target: string | null;
  outcome: string;
  ip: string;
  request_id: string | null;
}

let server: TestServer;
let admin: string;

const token = (body: unknown) => (body as { access_token: string }).access_token;
const audit = async (q = '') =>
  (await call(server.url, 'GET', `/api/v1/admin/audit${q}`, { token: admin })).body as { items: Entry[]; next?: string };

beforeAll(async () => {
  server = await startServer();
  admin = token((await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body);
});
afterAll(async () => {
  await server.app.stop();
});

describe('audit log', () => {
  it('records failed and successful logins without the password, with the request id and address', async () => {
    await call(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'alice', password: 'alice-password' } });
    const bad = await call(server.url, 'POST', '/api/v1/auth/login', {
      body: { username: 'alice', password: 'wrong-password-1' },
      headers: { 'x-request-id': 'req-audit-1' },
    });
    expect(bad.status).toBe(401);
    const ok = await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'alice', password: 'alice-password' } });
    expect(ok.status).toBe(200);
    const { items } = await audit('?kind=login');
    const mine = items.filter((e) => e.target === 'alice');
    expect(mine.map((e) => e.outcome)).toEqual(['success', 'denied']);
    expect(mine[1]).toMatchObject({ kind: 'login', actor: null, request_id: 'req-audit-1', ip: '127.0.0.1' });
    expect(new Date(mine[0]?.ts ?? '').getTime()).toBeGreaterThan(0);
    const all = JSON.stringify((await audit('?limit=500')).items);
    expect(all).not.toContain('wrong-password-1');
    expect(all).not.toContain('alice-password');
  });

  it('records role and disable changes, API keys and deletions with the actor', async () => {
    const reg = await call(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'bob', password: 'bob-password' } });
    const bobId = (reg.body as { id: string }).id;
    expect((await call(server.url, 'PATCH', `/api/v1/admin/users/${bobId}`, { token: admin, body: { disabled: true } })).status).toBe(200);
    const adminId = ((await call(server.url, 'GET', '/api/v1/auth/me', { token: admin })).body as { id: string }).id;
    const key = await call(server.url, 'POST', '/api/v1/api-keys', {
      token: admin,
      body: { name: 'ci', current_password: 'admin-password' },
    });
    expect(key.status).toBe(201);
    const { id: keyId, key: secret } = key.body as { id: string; key: string };
    expect((await call(server.url, 'DELETE', `/api/v1/api-keys/${keyId}`, { token: admin })).status).toBe(204);
    const { items } = await audit('?limit=500');
    expect(items.find((e) => e.kind === 'user.admin_update')).toMatchObject({ actor: adminId, target: bobId, outcome: 'success' });
    expect(items.find((e) => e.kind === 'api_key.create')).toMatchObject({ actor: adminId, outcome: 'success' });
    expect(items.find((e) => e.kind === 'api_key.delete')).toMatchObject({ actor: adminId, target: keyId, outcome: 'success' });
    expect(JSON.stringify(items)).not.toContain(secret);
    // Newest first.
    const ids = items.map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);
  });

  it('pages with before, and is for admins only', async () => {
    const first = await audit('?limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.next).toBe(first.items[1]?.id);
    const second = await audit(`?limit=2&before=${first.next ?? ''}`);
    expect((second.items[0]?.id ?? '~') < (first.next ?? '')).toBe(true);
    const alice = token(
      (await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'alice', password: 'alice-password' } })).body,
    );
    expect((await call(server.url, 'GET', '/api/v1/admin/audit', { token: alice })).status).toBe(403);
    expect((await call(server.url, 'GET', '/api/v1/admin/audit?limit=0', { token: admin })).status).toBe(400);
  });

  it('deletes entries older than a time', async () => {
    const before = (await audit('?limit=500')).items.length;
    expect(before).toBeGreaterThan(3);
    const res = await call(server.url, 'POST', '/api/v1/admin/audit/cleanup', {
      token: admin,
      body: { before: new Date(Date.now() + 1000).toISOString() },
    });
    expect(res.status).toBe(200);
    expect((res.body as { deleted: number }).deleted).toBeGreaterThanOrEqual(before);
    // The cleanup itself is recorded, after the fact.
    const after = (await audit()).items;
    expect(after.map((e) => e.kind)).toEqual(['audit.cleanup']);
  });
});
