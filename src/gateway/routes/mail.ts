// E-mail verification and password reset (the mails themselves: auth/mail.ts). Without SMTP_URL the routes
// that send answer 503 `mail_not_configured`; verify-email still works for links already mailed.
import { Type } from '@sinclair/typebox';
import type { MailService } from '../../auth/mail.js';
import { AcceptedReply } from '../../contract/index.js';
import { route, type Route } from '../router.js';

const TokenString = Type.String({ minLength: 1, maxLength: 200 });
const VerifyBody = Type.Object({ token: TokenString }, { additionalProperties: false });
const ResetBody = Type.Union([
  Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }, { additionalProperties: false }),
]);
const ConfirmBody = Type.Object(
  { token: TokenString, new_password: Type.String({ minLength: 8, maxLength: 128 }) },
  { additionalProperties: false },
);

/** The user id a mailed token starts with (not a secret): the audit log's target. */
const tokenOwner = (body: unknown): string | null => {
  const token = (body as { token?: unknown } | undefined)?.token;
  return typeof token === 'string' && token.indexOf('.') > 0 ? token.slice(0, Math.min(token.indexOf('.'), 64)) : null;
};

export function mailRoutes(mail: MailService): Route[] {
  const base = '/api/v1/auth';
  return [
    route({
      method: 'post',
      path: `${base}/verify-email`,
      auth: 'public',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Confirm an e-mail address with the token mailed to it',
      audit: { kind: 'email.verify', target: (c) => tokenOwner(c.body) },
      body: VerifyBody,
      responses: { 204: 'Verified', 400: 'The token is invalid, used or expired (`invalid_token`)' },
      handler: async ({ body }) => {
        await mail.verifyEmail(body.token);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: `${base}/password-reset`,
      auth: 'public',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Mail a password-reset link to the verified address of an account (202 whatever the account)',
      description:
        'Always 202, whether or not the account or address exists, has a verified address, or was mailed recently: the work runs after the answer. Mails are rate-limited per address and per account.',
      audit: { kind: 'password.reset_request', target: (c) => (c.body as { username?: string } | undefined)?.username ?? null },
      body: ResetBody,
      response: AcceptedReply,
      responses: { 202: 'Accepted (whatever the account)', 503: 'E-mail is not configured on this server (`mail_not_configured`)' },
      handler: ({ body }) => {
        mail.requestReset('username' in body ? { username: body.username } : { email: body.email });
        return { status: 202, body: { status: 'accepted' } };
      },
    }),
    route({
      method: 'post',
      path: `${base}/password-reset/confirm`,
      auth: 'public',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Set a new password with a mailed reset token; every older token and API key of the account stops working',
      audit: { kind: 'password.reset', target: (c) => tokenOwner(c.body) },
      body: ConfirmBody,
      responses: { 204: 'The password is changed', 400: 'The token is invalid, used or expired (`invalid_token`)' },
      handler: async ({ body }) => {
        await mail.confirmReset(body.token, body.new_password);
        return { status: 204 };
      },
    }),
  ];
}
