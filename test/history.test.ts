// History, reports and accounts end to end on the memory store, through the client SDK: real server,
// messages posted over a real live connection, read back over REST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPulseClient, HistoryMessage, List, TimelineBucket, TokenPair, User } from '../src/client/index.js';
import { startServer, type TestServer } from './helpers.js';
import { clientOf, refused, signUp, watch } from './sdk.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fields of these answers that the SDK's types leave open. */
interface AdminStats {
  messages: { total: number; by_source: Record<string, number>; by_label: Record<string, number> };
  api_keys: { total: number };
}
type Profile = User & { display_name: string | null; avatar_url: string | null };

describe('history, reports and accounts', () => {
  let server: TestServer;
  let admin: ChatPulseClient;
  let alice: ChatPulseClient;
  let bob: ChatPulseClient;
  let anonymous: ChatPulseClient;
  let t0 = 0;
  let t1 = 0;
  const N = 25;

  beforeAll(async () => {
    server = await startServer({ STORE_FLUSH_MS: '20', CHAT_RATE_PER_30S: '1000' });
    alice = await signUp(server.url, 'alice');
    bob = await signUp(server.url, 'bob');
    admin = clientOf(server.url);
    await admin.auth.login('admin', 'admin-password');
    anonymous = clientOf(server.url);
    await admin.rooms.create({ id: 'hist' }); // rooms exist only through the API
    const log = watch(alice);
    await log.live.subscribe('room:hist');
    t0 = Date.now();
    for (let i = 0; i < N; i++) void log.live.chat('room:hist', `message number ${i}`);
    await log.until(() => log.messages('room:hist').length === N, 10_000, `${N} messages`);
    t1 = Date.now() + 1;
    log.close();
    await sleep(200); // the writer flushes every 20 ms
  });

  afterAll(async () => {
    // `as ... | undefined`: a beforeAll that failed part-way left some of these unassigned; what it started is still released.
    await (server as TestServer | undefined)?.app.stop();
  });

  /** A client holding only this access token: no refresh to fall back on, so a refused token shows as 401. */
  const withToken = (token: string | undefined) => {
    if (token === undefined) throw new Error('no access token to try');
    return clientOf(server.url, { token });
  };

  it('pages a channel newest first with a cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const page: List<HistoryMessage> = await alice.channels.messages('room:hist', { limit: 10, before: next });
      seen.push(...page.items.map((m) => m.text));
      next = page.next;
      pages++;
    } while (next && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: N }, (_, i) => `message number ${N - 1 - i}`));
    const first = (await alice.channels.messages('room:hist', { limit: 1 })).items[0]!;
    expect(first.user.name).toBe('alice');
    expect(first.sentiment.score).toBeGreaterThan(0);
  });

  it('refuses bad paging and channel input with 400', async () => {
    await expect(alice.channels.messages('room:hist', { limit: 0 })).rejects.toMatchObject(refused(400));
    // Not a number: past the SDK's types, so a plain request.
    await expect(alice.request('GET', '/api/v1/channels/room:hist/messages', { query: { limit: 'abc' } })).rejects.toMatchObject(
      refused(400),
    );
    await expect(alice.channels.messages('room:hist', { before: 'not-a-cursor' })).rejects.toMatchObject(refused(400));
    await expect(alice.channels.messages('nope:x')).rejects.toMatchObject(refused(400));
    // A literal `%` reaches the route already decoded (by the router, once): an invalid channel, not a 500.
    await expect(alice.channels.messages('room:%zz')).rejects.toMatchObject(refused(400, 'invalid_channel'));
    await expect(alice.channels.timeline('room:%zz')).rejects.toMatchObject(refused(400, 'invalid_channel'));
    await expect(alice.channels.timeline('room:hist', { from: 'yesterday' })).rejects.toMatchObject(refused(400));
    await expect(alice.channels.timeline('room:hist', { from: t1, to: t0 })).rejects.toMatchObject(refused(400));
    await expect(alice.channels.timeline('room:hist', { from: 0, bucket: 1 })).rejects.toMatchObject(refused(400)); // too many buckets
    await expect(anonymous.channels.list()).rejects.toMatchObject(refused(401, 'unauthorized'));
  });

  it('counts sentiment per bucket, from minute buckets and from messages, with ISO or epoch times', async () => {
    const total = (bs: TimelineBucket[]) => bs.reduce((n, b) => n + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
    const minute = await alice.channels.timeline('room:hist', { from: new Date(t0 - 120_000).toISOString(), to: t1, bucket: 60 });
    expect(total(minute.buckets)).toBe(N);
    expect(minute.buckets.length).toBeGreaterThanOrEqual(2);
    for (const b of minute.buckets) expect(b.ts % 60_000).toBe(0);
    expect(minute.buckets.filter((b) => b.score !== null).length).toBeGreaterThanOrEqual(1);

    const fine = await alice.channels.timeline('room:hist', { from: t0 - 5000, to: t1, bucket: 1 });
    expect(total(fine.buckets)).toBe(N);
    const outside = await alice.channels.timeline('room:hist', { from: t1 + 60_000, to: t1 + 120_000, bucket: 60 });
    expect(total(outside.buckets)).toBe(0);
  });

  it('lists channels with their totals and live mood', async () => {
    const { items } = await alice.channels.list();
    const hist = items.find((c) => c.channel === 'room:hist');
    expect(hist?.messages).toBe(N);
    expect(hist?.live).not.toBeNull();
  });

  it('saves reports computed at creation, visible to their owner and admins only', async () => {
    const report = await alice.reports.create({ channel: 'room:hist', from: t0 - 1000, to: new Date(t1).toISOString(), title: 'launch' });
    expect(report.title).toBe('launch');
    expect(report.summary.messages).toBe(N);
    expect(Object.values(report.summary.counts).reduce((a, b) => a + b, 0)).toBe(N);

    expect((await alice.reports.get(report.id)).id).toBe(report.id);
    await expect(bob.reports.get(report.id)).rejects.toMatchObject(refused(404, 'not_found'));
    expect((await admin.reports.get(report.id)).id).toBe(report.id);
    expect((await alice.reports.list()).items.map((r) => r.id)).toEqual([report.id]);
    expect((await bob.reports.list()).items).toEqual([]);
    await expect(bob.reports.delete(report.id)).rejects.toMatchObject(refused(404, 'not_found'));
    await expect(alice.reports.create({ channel: 'room:hist', from: t1, to: t0 })).rejects.toMatchObject(refused(400));
    await expect(alice.reports.create({ channel: 'room:hist', from: 0, to: 40 * 86_400_000 })).rejects.toMatchObject(refused(400));
    // Times past what a Date holds (±8.64e15 ms) are refused, not a 500 when the report is shown.
    await expect(alice.reports.create({ channel: 'room:hist', from: 9e15, to: 9e15 + 60_000 })).rejects.toMatchObject(refused(400));
    await expect(alice.reports.create({ channel: 'room:hist', from: 8.64e15 - 60_000, to: 8.64e15 + 1 })).rejects.toMatchObject(
      refused(400),
    );
    const last = await alice.reports.create({ channel: 'room:hist', from: 8.64e15 - 60_000, to: 8.64e15 });
    expect(last.to).toBe(new Date(8.64e15).toISOString());
    await alice.reports.delete(last.id);
    await admin.reports.delete(report.id);
    await expect(alice.reports.get(report.id)).rejects.toMatchObject(refused(404, 'not_found'));
  });

  it('keeps admin routes for admins: stats per source and label, users paged, role and disable', async () => {
    // Routes the SDK has no method for go through its request(): same credentials, same typed errors.
    await expect(alice.request('GET', '/api/v1/admin/stats')).rejects.toMatchObject(refused(403, 'forbidden'));
    await expect(alice.request('GET', '/api/v1/admin/users')).rejects.toMatchObject(refused(403, 'forbidden'));
    const stats = await admin.request<AdminStats>('GET', '/api/v1/admin/stats');
    expect(stats.messages.total).toBeGreaterThanOrEqual(N);
    expect(stats.messages.by_source.native).toBeGreaterThanOrEqual(N);
    expect(Object.values(stats.messages.by_label).reduce((a, b) => a + b, 0)).toBe(stats.messages.total);

    const page1 = await admin.request<List<User>>('GET', '/api/v1/admin/users', { query: { limit: 2 } });
    expect(page1.items).toHaveLength(2);
    const page2 = await admin.request<List<User>>('GET', '/api/v1/admin/users', { query: { limit: 2, after: page1.next } });
    expect([...page1.items, ...page2.items].map((u) => u.username).sort()).toEqual(['admin', 'alice', 'bob']);

    const carol = await signUp(server.url, 'carol');
    const carolId = (await carol.auth.me()).id;
    const patch = (id: string, body: unknown) => admin.request<User>('PATCH', `/api/v1/admin/users/${id}`, { body });
    await patch(carolId, { disabled: true });
    await expect(withToken(carol.accessToken).auth.me()).rejects.toMatchObject(refused(401, 'unauthorized'));
    await expect(patch(carolId, { role: 'root' })).rejects.toMatchObject(refused(400));
    await expect(patch('nope', { role: 'admin' })).rejects.toMatchObject(refused(404, 'not_found'));
  });

  it('changes a password only with the current one, and retires every older token', async () => {
    const dave = await signUp(server.url, 'dave', 'first-password');
    const otherSession = clientOf(server.url);
    await otherSession.auth.login('dave', 'first-password');
    const oldToken = dave.accessToken;
    const change = (current: string) =>
      dave.request<TokenPair>('POST', '/api/v1/users/me/password', {
        body: { current_password: current, new_password: 'second-password' },
      });
    await expect(change('nope-nope')).rejects.toMatchObject(refused(403));
    const fresh = await change('first-password');
    await expect(withToken(oldToken).auth.me()).rejects.toMatchObject(refused(401));
    await expect(otherSession.auth.refresh()).rejects.toMatchObject(refused(401));
    expect((await withToken(fresh.access_token).auth.me()).username).toBe('dave');
    await expect(anonymous.auth.login('dave', 'first-password')).rejects.toMatchObject(refused(401));
    await clientOf(server.url).auth.login('dave', 'second-password');
  });

  it('updates the profile and deletes the account with its keys and reports', async () => {
    const erin = await signUp(server.url, 'erin');
    const setProfile = (body: unknown) => erin.request<Profile>('PUT', '/api/v1/users/me', { body });
    const profile = await setProfile({ display_name: 'Erin E.', avatar_url: 'https://example.com/a.png' });
    expect(profile).toMatchObject({ username: 'erin', display_name: 'Erin E.', avatar_url: 'https://example.com/a.png' });
    await expect(setProfile({ avatar_url: 'javascript:alert(1)' })).rejects.toMatchObject(refused(400));
    await expect(setProfile({})).rejects.toMatchObject(refused(400));
    const viaKey = clientOf(server.url, { apiKey: (await erin.apiKeys.create('bot', 'password123')).key });
    const report = await erin.reports.create({ channel: 'room:hist', from: t0, to: t1 });
    expect((await viaKey.auth.me()).username).toBe('erin');

    const token = erin.accessToken;
    await erin.account.delete('password123');
    await expect(viaKey.auth.me()).rejects.toMatchObject(refused(401));
    await expect(withToken(token).auth.me()).rejects.toMatchObject(refused(401));
    await expect(admin.reports.get(report.id)).rejects.toMatchObject(refused(404, 'not_found'));
    await expect(anonymous.auth.login('erin', 'password123')).rejects.toMatchObject(refused(401));
    expect((await anonymous.auth.register('erin', 'password123')).username).toBe('erin');
  });
});
