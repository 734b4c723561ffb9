// E-mail: address verification and password reset over SMTP (nodemailer). A mailed token is
// `<user id>.<32 random bytes, base64url>`; the user record keeps only its sha256 and expiry, one pending
// token per purpose (a newer mail replaces the older token), cleared when used: single use, and a reset
// retires every older token. Reset requests are answered before any work is done (202 whatever the
// account), and the work runs in the background, so neither the answer nor its timing tells whether an
// account or address exists.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import nodemailer from 'nodemailer';
import { AppError, badRequest, unauthorized } from '../errors.js';
import type { RateLimiter } from '../limits/index.js';
import type { Logger } from '../observability/log.js';
import type { Principal } from './service.js';
import type { UserRecord, UserStore } from './stores.js';

export const EMAIL_MAX = 254;
const EMAIL_PATTERN = /^[^\s@<>"',;:\\()[\]]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
/** How long a verification link stays valid. */
const VERIFY_TTL_MS = 24 * 3_600_000;
/** Accounts scanned at most for a reset by address (the address is not indexed: see docs/operations.md). */
const EMAIL_SCAN_MAX = 100_000;

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export type SendMail = (mail: Mail) => Promise<void>;

/** An SMTP sender from SMTP_URL (`smtp://` or `smtps://`, credentials in the URL). */
export function smtpSender(url: string, from: string): SendMail {
  const transport = nodemailer.createTransport(url);
  return async (mail) => {
    await transport.sendMail({ from, ...mail });
  };
}

export interface MailServiceDeps {
  users: UserStore;
  /** Null: no SMTP_URL; the routes that send answer 503 mail_not_configured. */
  send: SendMail | null;
  resetPassword: (userId: string, newPassword: string) => Promise<void>;
  resetTtlS: number;
  /** Mails per address and per account (keys `a:<address>`, `u:<id>`). */
  limiter: RateLimiter;
  log: Logger;
  /** Where links point: the public base URL (falls back to a path the client resolves). */
  baseUrl?: string;
  /** Told of every reset done or refused (the audit log). */
  onReset?: (userId: string | null, outcome: 'success' | 'failure') => void;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function newToken(userId: string): { token: string; hash: string } {
  const token = `${userId}.${randomBytes(32).toString('base64url')}`;
  return { token, hash: sha256(token) };
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function validEmail(email: unknown): email is string {
  return typeof email === 'string' && email.length <= EMAIL_MAX && EMAIL_PATTERN.test(email);
}

function template(user: UserRecord, heading: string, intro: string, token: string, link: string, expires: string) {
  const name = user.displayName ?? user.username;
  const text = `Hello ${name},\n\n${intro}\n\n${link}\n\nOr use this token: ${token}\n\nIt works once, until ${expires}. If you did not ask for this, ignore this mail.\n`;
  const html =
    `<!doctype html><html><body><p>Hello ${escapeHtml(name)},</p><p>${escapeHtml(intro)}</p>` +
    `<p><a href="${escapeHtml(link)}">${escapeHtml(heading)}</a></p><p>Or use this token: <code>${escapeHtml(token)}</code></p>` +
    `<p>It works once, until ${escapeHtml(expires)}. If you did not ask for this, ignore this mail.</p></body></html>`;
  return { text, html };
}

const notConfigured = () => new AppError(503, 'mail_not_configured', 'e-mail is not configured on this server (SMTP_URL)');
const badToken = () => badRequest('the token is invalid, used or expired', 'invalid_token');

export class MailService {
  readonly #d: MailServiceDeps;

  constructor(deps: MailServiceDeps) {
    this.#d = deps;
  }

  get configured(): boolean {
    return this.#d.send !== null;
  }

  /** Sets (or replaces) the caller's address, unverified, and mails a verification link. */
  async setEmail(principal: Principal, email: string): Promise<void> {
    const send = this.#d.send;
    if (!send) throw notConfigured();
    if (!validEmail(email)) throw badRequest(`email must be an address of at most ${EMAIL_MAX} characters`, 'validation_failed');
    const { token, hash } = newToken(principal.userId);
    const exp = Date.now() + VERIFY_TTL_MS;
    const user = await this.#d.users.update(principal.userId, { email, emailVerified: false, emailTokenHash: hash, emailTokenExp: exp });
    if (!user) throw unauthorized();
    if (!(await this.#allowed(email, user.id))) return; // the address is stored; the mail waits for the limit
    const link = `${this.#d.baseUrl ?? ''}/?verify_email=${encodeURIComponent(token)}`;
    const body = template(
      user,
      'Confirm this address',
      'Confirm this e-mail address for your ChatPulse account:',
      token,
      link,
      new Date(exp).toISOString(),
    );
    this.#background(send({ to: email, subject: 'Confirm your e-mail address', ...body }), 'verification mail');
  }

  async verifyEmail(token: string): Promise<void> {
    const user = await this.#holder(token);
    if (
      !user ||
      user.emailTokenHash === undefined ||
      !sameHash(user.emailTokenHash, sha256(token)) ||
      (user.emailTokenExp ?? 0) <= Date.now()
    )
      throw badToken();
    await this.#d.users.update(user.id, { emailVerified: true, emailTokenHash: undefined, emailTokenExp: undefined });
  }

  /** Answers at once (the caller replies 202); the lookup and the mail run in the background. */
  requestReset(who: { username?: string; email?: string }): void {
    const send = this.#d.send;
    if (!send) throw notConfigured();
    this.#background(this.#reset(send, who), 'password reset');
  }

  async confirmReset(token: string, newPassword: string): Promise<void> {
    const user = await this.#holder(token);
    if (
      !user ||
      user.resetTokenHash === undefined ||
      !sameHash(user.resetTokenHash, sha256(token)) ||
      (user.resetTokenExp ?? 0) <= Date.now()
    ) {
      this.#d.onReset?.(user?.id ?? null, 'failure');
      throw badToken();
    }
    // Consumed before the password moves: a second use of the same token finds nothing.
    await this.#d.users.update(user.id, { resetTokenHash: undefined, resetTokenExp: undefined });
    await this.#d.resetPassword(user.id, newPassword);
    this.#d.onReset?.(user.id, 'success');
  }

  async #reset(send: SendMail, who: { username?: string; email?: string }): Promise<void> {
    const users: UserRecord[] = [];
    if (who.username !== undefined) {
      const u = await this.#d.users.findByUsername(who.username);
      if (u) users.push(u);
    } else if (who.email !== undefined && validEmail(who.email)) {
      users.push(...(await this.#byEmail(who.email)));
    }
    for (const user of users) {
      if (user.disabled || user.email === undefined || user.emailVerified !== true) continue;
      if (!(await this.#allowed(user.email, user.id))) continue;
      const { token, hash } = newToken(user.id);
      const exp = Date.now() + this.#d.resetTtlS * 1000;
      await this.#d.users.update(user.id, { resetTokenHash: hash, resetTokenExp: exp });
      const link = `${this.#d.baseUrl ?? ''}/?reset_password=${encodeURIComponent(token)}`;
      const body = template(
        user,
        'Choose a new password',
        `Choose a new password for ${user.username}:`,
        token,
        link,
        new Date(exp).toISOString(),
      );
      await send({ to: user.email, subject: 'Reset your ChatPulse password', ...body });
    }
  }

  async #byEmail(email: string): Promise<UserRecord[]> {
    const want = email.toLowerCase();
    const out: UserRecord[] = [];
    let after: string | undefined;
    for (let seen = 0; seen < EMAIL_SCAN_MAX;) {
      const page = await this.#d.users.list(500, after);
      for (const u of page) if (u.email?.toLowerCase() === want && u.emailVerified === true) out.push(u);
      if (page.length < 500) break;
      seen += page.length;
      after = page[page.length - 1]?.id;
    }
    return out;
  }

  async #holder(token: unknown): Promise<UserRecord | null> {
    if (typeof token !== 'string' || token.length > 200) return null;
    const dot = token.indexOf('.');
    if (dot < 1) return null;
    return this.#d.users.findById(token.slice(0, dot));
  }

  async #allowed(email: string, userId: string): Promise<boolean> {
    const [a, u] = await Promise.all([this.#d.limiter.consume(`a:${email.toLowerCase()}`), this.#d.limiter.consume(`u:${userId}`)]);
    return a.allowed && u.allowed;
  }

  #background(work: Promise<void>, what: string): void {
    work.catch((err: unknown) => this.#d.log.warn({ err }, `${what} failed`));
  }
}
