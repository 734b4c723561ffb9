// E-mail end to end: a real in-process SMTP server (smtp-server, auth disabled, on an ephemeral port)
// receives what a real ChatPulse server sends; the verification and reset flows are followed from the mails.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml } from '../src/auth/mail.js';
import { call, startServer, type TestServer } from './helpers.js';

interface Received {
  to: string[];
  raw: string;
}

let smtp: SMTPServer;
let smtpUrl: string;
const inbox: Received[] = [];

/** The mail's text with quoted-printable soft breaks and escapes undone (enough for these ASCII mails). */
const decoded = (raw: string) =>
  raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

async function mailTo(address: string, since: number, timeoutMs = 5000): Promise<Received> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = inbox.slice(since).find((m) => m.to.includes(address));
    if (found) return found;
    if (Date.now() > until) throw new Error(`no mail to ${address}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tokenIn = (m: Received) => {
  const match = /use this token: ([0-9A-Z]{26}\.[A-Za-z0-9_-]{43})/.exec(decoded(m.raw));
  if (!match?.[1]) throw new Error(`no token in ${m.raw}`);
  return match[1];
};

const access = (body: unknown) => (body as { access_token: string }).access_token;

async function account(url: string, username: string, email?: string): Promise<{ token: string }> {
  expect((await call(url, 'POST', '/api/v1/auth/register', { body: { username, password: `${username}-password` } })).status).toBe(201);
  const token = access((await call(url, 'POST', '/api/v1/auth/login', { body: { username, password: `${username}-password` } })).body);
  if (email !== undefined) {
    const since = inbox.length;
    expect((await call(url, 'PUT', '/api/v1/users/me', { token, body: { email } })).status).toBe(200);
    const verify = tokenIn(await mailTo(email, since));
    expect((await call(url, 'POST', '/api/v1/auth/verify-email', { body: { token: verify } })).status).toBe(204);
  }
  return { token };
}

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        inbox.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

describe('e-mail with SMTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ SMTP_URL: smtpUrl, MAIL_FROM: 'ChatPulse <chatpulse@example.test>' });
  });
  afterAll(async () => {
    await server.app.stop();
  });

  it('mails a single-use verification link, in text and escaped HTML', async () => {
    const { token } = await account(server.url, 'vera');
    expect((await call(server.url, 'PUT', '/api/v1/users/me', { token, body: { email: 'not an address' } })).status).toBe(400);
    const since = inbox.length;
    expect((await call(server.url, 'PUT', '/api/v1/users/me', { token, body: { email: 'vera@example.test' } })).status).toBe(200);
    const mail = await mailTo('vera@example.test', since);
    const text = decoded(mail.raw);
    expect(text).toContain('From: ChatPulse <chatpulse@example.test>');
    expect(text).toContain('text/plain');
    expect(text).toContain('text/html');
    const verify = tokenIn(mail);
    expect((await call(server.url, 'POST', '/api/v1/auth/verify-email', { body: { token: verify } })).status).toBe(204);
    const again = await call(server.url, 'POST', '/api/v1/auth/verify-email', { body: { token: verify } });
    expect(again.status).toBe(400);
    expect((again.body as { error: { code: string } }).error.code).toBe('invalid_token');
    expect(escapeHtml('<a href="x">&\'')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });

  it('resets a password from the mail; the token works once, and older tokens and keys stop working', async () => {
    const { token } = await account(server.url, 'rosa', 'rosa@example.test');
    const key = await call(server.url, 'POST', '/api/v1/api-keys', { token, body: { name: 'k', current_password: 'rosa-password' } });
    const apiKey = (key.body as { key: string }).key;
    let since = inbox.length;
    expect((await call(server.url, 'POST', '/api/v1/auth/password-reset', { body: { username: 'rosa' } })).status).toBe(202);
    const older = tokenIn(await mailTo('rosa@example.test', since));
    since = inbox.length;
    expect((await call(server.url, 'POST', '/api/v1/auth/password-reset', { body: { email: 'ROSA@example.test' } })).status).toBe(202);
    const newer = tokenIn(await mailTo('rosa@example.test', since));
    expect(newer).not.toBe(older);
    // A newer mail replaces the older token.
    expect(
      (await call(server.url, 'POST', '/api/v1/auth/password-reset/confirm', { body: { token: older, new_password: 'rosa-new-password' } }))
        .status,
    ).toBe(400);
    expect(
      (await call(server.url, 'POST', '/api/v1/auth/password-reset/confirm', { body: { token: newer, new_password: 'rosa-new-password' } }))
        .status,
    ).toBe(204);
    expect(
      (await call(server.url, 'POST', '/api/v1/auth/password-reset/confirm', { body: { token: newer, new_password: 'rosa-3rd-password' } }))
        .status,
    ).toBe(400);
    expect((await call(server.url, 'GET', '/api/v1/auth/me', { token })).status).toBe(401);
    expect((await call(server.url, 'GET', '/api/v1/auth/me', { apiKey })).status).toBe(401);
    expect((await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'rosa', password: 'rosa-password' } })).status).toBe(
      401,
    );
    expect(
      (await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'rosa', password: 'rosa-new-password' } })).status,
    ).toBe(200);
    // The audit log has it, without the token.
    const admin = access(
      (await call(server.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'admin-password' } })).body,
    );
    const audit = (await call(server.url, 'GET', '/api/v1/admin/audit?kind=password.reset', { token: admin })).body as {
      items: Array<{ outcome: string }>;
    };
    expect(audit.items.map((e) => e.outcome)).toEqual(['failure', 'success', 'failure']);
    expect(JSON.stringify(audit)).not.toContain(newer.split('.')[1]);
  });

  it('answers 202 for unknown accounts and unverified addresses, and mails nothing', async () => {
    await account(server.url, 'ulla');
    const since = inbox.length;
    for (const body of [{ username: 'nobody-here' }, { email: 'nobody@example.test' }, { username: 'ulla' }]) {
      const res = await call(server.url, 'POST', '/api/v1/auth/password-reset', { body });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ status: 'accepted' });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.length).toBe(since);
  });
});

describe('e-mail tokens expire', () => {
  it('refuses a reset token after RESET_TOKEN_TTL_S', async () => {
    const server = await startServer({ SMTP_URL: smtpUrl, RESET_TOKEN_TTL_S: '1' });
    try {
      await account(server.url, 'ewan', 'ewan@example.test');
      const since = inbox.length;
      expect((await call(server.url, 'POST', '/api/v1/auth/password-reset', { body: { username: 'ewan' } })).status).toBe(202);
      const token = tokenIn(await mailTo('ewan@example.test', since));
      await new Promise((r) => setTimeout(r, 1100));
      expect(
        (await call(server.url, 'POST', '/api/v1/auth/password-reset/confirm', { body: { token, new_password: 'ewan-new-password' } }))
          .status,
      ).toBe(400);
    } finally {
      await server.app.stop();
    }
  });
});

describe('e-mail without SMTP', () => {
  it('answers 503 mail_not_configured on the routes that send', async () => {
    const server = await startServer();
    try {
      const { token } = await account(server.url, 'nina');
      const put = await call(server.url, 'PUT', '/api/v1/users/me', { token, body: { email: 'nina@example.test' } });
      expect(put.status).toBe(503);
      expect((put.body as { error: { code: string } }).error.code).toBe('mail_not_configured');
      const reset = await call(server.url, 'POST', '/api/v1/auth/password-reset', { body: { username: 'nina' } });
      expect(reset.status).toBe(503);
      expect((await call(server.url, 'POST', '/api/v1/auth/verify-email', { body: { token: 'x.y' } })).status).toBe(400);
    } finally {
      await server.app.stop();
    }
  });
});
