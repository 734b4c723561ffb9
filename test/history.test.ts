// History, reports and accounts end to end on the memory store: real server, messages posted over real
// WebSockets, read back over REST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startServer, type TestServer } from './helpers.js';
import { account, WsClient, type Account } from './ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Page<T> {
  items: T[];
  next?: string;
}
interface Msg {
  id: string;
  text: string;
  ts: number;
  user: { id: string; name: string };
  sentiment: { label: string; score: number };
}
interface Point {
  ts: number;
  counts: Record<string, number>;
  score: number | null;
}

describe('history, reports and accounts', () => {
  let server: TestServer;
  let admin: string;
  let alice: Account;
  let bob: Account;
  let t0 = 0;
  let t1 = 0;
  const N = 25;

  beforeAll(async () => {
    server = await startServer({ STORE_FLUSH_MS: '20', CHAT_RATE_PER_30S: '1000' });
    alice = await account(server.url, 'alice');
    bob = await account(server.url, 'bob');
    admin = ((await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body as { access_token: string }).access_token;
    const ws = await WsClient.open(server.url, `token=${alice.token}`);
    await ws.subscribe('room:hist');
    t0 = Date.now();
    for (let i = 0; i < N; i++) ws.send({ type: 'chat', channel: 'room:hist', text: `message number ${i}` });
    await ws.until((f) => f.filter((x) => x.type === 'message').length === N, 10_000);
    t1 = Date.now() + 1;
    ws.close();
    await sleep(200); // the writer flushes every 20 ms
  });

  afterAll(async () => {
    await server?.app.stop();
  });

  const get = <T>(path: string, token = alice.token) => call(server.url, 'GET', path, { token }).then((r) => ({ status: r.status, body: r.body as T }));

  it('pages a channel newest first with a cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const res = await get<Page<Msg>>(`/api/v1/channels/room:hist/messages?limit=10${next ? `&before=${next}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((m) => m.text));
      next = res.body.next;
      pages++;
    } while (next && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: N }, (_, i) => `message number ${N - 1 - i}`));
    const first = (await get<Page<Msg>>('/api/v1/channels/room:hist/messages?limit=1')).body.items[0] as Msg;
    expect(first.user.name).toBe('alice');
    expect(first.sentiment.score).toBeGreaterThan(0);
  });

  it('refuses bad paging and channel input with 400', async () => {
    expect((await get('/api/v1/channels/room:hist/messages?limit=0')).status).toBe(400);
    expect((await get('/api/v1/channels/room:hist/messages?limit=abc')).status).toBe(400);
    expect((await get('/api/v1/channels/room:hist/messages?before=not-a-cursor')).status).toBe(400);
    expect((await get('/api/v1/channels/nope:x/messages')).status).toBe(400);
    expect((await get('/api/v1/channels/room:hist/timeline?from=yesterday')).status).toBe(400);
    expect((await get(`/api/v1/channels/room:hist/timeline?from=${t1}&to=${t0}`)).status).toBe(400);
    expect((await get('/api/v1/channels/room:hist/timeline?from=0&bucket=1')).status).toBe(400); // too many buckets
    expect((await call(server.url, 'GET', '/api/v1/channels')).status).toBe(401);
  });

  it('counts sentiment per bucket, from minute buckets and from messages, with ISO or epoch times', async () => {
    const minute = (await get<{ buckets: Point[] }>(`/api/v1/channels/room:hist/timeline?from=${new Date(t0 - 120_000).toISOString()}&to=${t1}&bucket=60`)).body;
    const total = (ps: Point[]) => ps.reduce((n, p) => n + Object.values(p.counts).reduce((a, b) => a + b, 0), 0);
    expect(total(minute.buckets)).toBe(N);
    expect(minute.buckets.length).toBeGreaterThanOrEqual(2);
    for (const p of minute.buckets) expect(p.ts % 60_000).toBe(0);
    expect(minute.buckets.filter((p) => p.score !== null).length).toBeGreaterThanOrEqual(1);

    const fine = (await get<{ buckets: Point[] }>(`/api/v1/channels/room:hist/timeline?from=${t0 - 5000}&to=${t1}&bucket=1`)).body;
    expect(total(fine.buckets)).toBe(N);
    const outside = (await get<{ buckets: Point[] }>(`/api/v1/channels/room:hist/timeline?from=${t1 + 60_000}&to=${t1 + 120_000}&bucket=60`)).body;
    expect(total(outside.buckets)).toBe(0);
  });

  it('lists channels with their totals and live mood', async () => {
    const res = await get<Page<{ channel: string; messages: number; live: { mood: { counts: Record<string, number> } } | null }>>('/api/v1/channels');
    const hist = res.body.items.find((c) => c.channel === 'room:hist');
    expect(hist?.messages).toBe(N);
    expect(hist?.live).not.toBeNull();
  });

  it('saves reports computed at creation, visible to their owner and admins only', async () => {
    const created = await call(server.url, 'POST', '/api/v1/reports', { token: alice.token, body: { channel: 'room:hist', from: t0 - 1000, to: new Date(t1).toISOString(), title: 'launch' } });
    expect(created.status).toBe(201);
    const report = created.body as { id: string; title: string; summary: { messages: number; counts: Record<string, number>; buckets: Point[] } };
    expect(report.title).toBe('launch');
    expect(report.summary.messages).toBe(N);
    expect(Object.values(report.summary.counts).reduce((a, b) => a + b, 0)).toBe(N);

    expect((await get(`/api/v1/reports/${report.id}`)).status).toBe(200);
    expect((await get(`/api/v1/reports/${report.id}`, bob.token)).status).toBe(404);
    expect((await get(`/api/v1/reports/${report.id}`, admin)).status).toBe(200);
    expect((await get<Page<{ id: string }>>('/api/v1/reports')).body.items.map((r) => r.id)).toEqual([report.id]);
    expect((await get<Page<{ id: string }>>('/api/v1/reports', bob.token)).body.items).toEqual([]);
    expect((await call(server.url, 'DELETE', `/api/v1/reports/${report.id}`, { token: bob.token })).status).toBe(404);
    const bad = await call(server.url, 'POST', '/api/v1/reports', { token: alice.token, body: { channel: 'room:hist', from: t1, to: t0 } });
    expect(bad.status).toBe(400);
    expect((await call(server.url, 'POST', '/api/v1/reports', { token: alice.token, body: { channel: 'room:hist', from: 0, to: 40 * 86_400_000 } })).status).toBe(400);
    expect((await call(server.url, 'DELETE', `/api/v1/reports/${report.id}`, { token: admin })).status).toBe(204);
    expect((await get(`/api/v1/reports/${report.id}`)).status).toBe(404);
  });

  it('keeps admin routes for admins: stats per source and label, users paged, role and disable', async () => {
    expect((await get('/api/v1/admin/stats')).status).toBe(403);
    expect((await get('/api/v1/admin/users')).status).toBe(403);
    const stats = (await get<{ messages: { total: number; by_source: Record<string, number>; by_label: Record<string, number> }; api_keys: { total: number } }>('/api/v1/admin/stats', admin)).body;
    expect(stats.messages.total).toBeGreaterThanOrEqual(N);
    expect(stats.messages.by_source.native).toBeGreaterThanOrEqual(N);
    expect(Object.values(stats.messages.by_label).reduce((a, b) => a + b, 0)).toBe(stats.messages.total);

    const page1 = (await get<Page<{ id: string; username: string }>>('/api/v1/admin/users?limit=2', admin)).body;
    expect(page1.items).toHaveLength(2);
    const page2 = (await get<Page<{ username: string }>>(`/api/v1/admin/users?limit=2&after=${page1.next}`, admin)).body;
    expect([...page1.items, ...page2.items].map((u) => u.username).sort()).toEqual(['admin', 'alice', 'bob']);

    const carol = await account(server.url, 'carol');
    const disabled = await call(server.url, 'PATCH', `/api/v1/admin/users/${carol.id}`, { token: admin, body: { disabled: true } });
    expect(disabled.status).toBe(200);
    expect((await get('/api/v1/auth/me', carol.token)).status).toBe(401);
    expect((await call(server.url, 'PATCH', `/api/v1/admin/users/${carol.id}`, { token: admin, body: { role: 'root' } })).status).toBe(400);
    expect((await call(server.url, 'PATCH', '/api/v1/admin/users/nope', { token: admin, body: { role: 'admin' } })).status).toBe(404);
  });

  it('changes a password only with the current one, and retires every older token', async () => {
    const dave = await account(server.url, 'dave', 'first-password');
    const other = (await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'dave', password: 'first-password' } })).body as { refresh_token: string };
    const wrong = await call(server.url, 'POST', '/api/v1/users/me/password', { token: dave.token, body: { current_password: 'nope-nope', new_password: 'second-password' } });
    expect(wrong.status).toBe(403);
    const ok = await call(server.url, 'POST', '/api/v1/users/me/password', { token: dave.token, body: { current_password: 'first-password', new_password: 'second-password' } });
    expect(ok.status).toBe(200);
    const fresh = ok.body as { access_token: string };
    expect((await get('/api/v1/auth/me', dave.token)).status).toBe(401);
    expect((await call(server.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: other.refresh_token } })).status).toBe(401);
    expect((await get('/api/v1/auth/me', fresh.access_token)).status).toBe(200);
    expect((await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'dave', password: 'first-password' } })).status).toBe(401);
    expect((await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'dave', password: 'second-password' } })).status).toBe(200);
  });

  it('updates the profile and deletes the account with its keys and reports', async () => {
    const erin = await account(server.url, 'erin');
    const profile = await call(server.url, 'PUT', '/api/v1/users/me', { token: erin.token, body: { display_name: 'Erin E.', avatar_url: 'https://example.com/a.png' } });
    expect(profile.body).toMatchObject({ username: 'erin', display_name: 'Erin E.', avatar_url: 'https://example.com/a.png' });
    expect((await call(server.url, 'PUT', '/api/v1/users/me', { token: erin.token, body: { avatar_url: 'javascript:alert(1)' } })).status).toBe(400);
    expect((await call(server.url, 'PUT', '/api/v1/users/me', { token: erin.token, body: {} })).status).toBe(400);
    const key = ((await call(server.url, 'POST', '/api/v1/api-keys', { token: erin.token, body: { name: 'bot' } })).body as { key: string }).key;
    const report = (await call(server.url, 'POST', '/api/v1/reports', { token: erin.token, body: { channel: 'room:hist', from: t0, to: t1 } })).body as { id: string };
    expect((await call(server.url, 'GET', '/api/v1/auth/me', { apiKey: key })).status).toBe(200);

    expect((await call(server.url, 'DELETE', '/api/v1/users/me', { token: erin.token })).status).toBe(204);
    expect((await call(server.url, 'GET', '/api/v1/auth/me', { apiKey: key })).status).toBe(401);
    expect((await get('/api/v1/auth/me', erin.token)).status).toBe(401);
    expect((await get(`/api/v1/reports/${report.id}`, admin)).status).toBe(404);
    expect((await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'erin', password: 'password123' } })).status).toBe(401);
    expect((await call(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'erin', password: 'password123' } })).status).toBe(201);
  });
});
