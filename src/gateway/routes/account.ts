// The signed-in user's own account: profile, password, deletion.
import { Type } from '@sinclair/typebox';
import type { AuthService, Principal } from '../../auth/index.js';
import type { MailService } from '../../auth/mail.js';
import { TokenPairReply, UserReply } from '../../contract/index.js';
import type { ReportStore } from '../../store/stores.js';
import { AppError } from '../../errors.js';
import { route, type Route } from '../router.js';
import { DeleteAccountBody } from '../schemas.js';

const ProfileBody = Type.Object(
  {
    display_name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' }), Type.Null()])),
    avatar_url: Type.Optional(Type.Union([Type.String({ maxLength: 512, pattern: '^https://[^\\s]+$' }), Type.Null()])),
    email: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 254,
        description: 'Stored unverified; a verification link is mailed to it (503 without SMTP)',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
const PasswordBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 128 }), new_password: Type.String({ minLength: 8, maxLength: 128 }) },
  { additionalProperties: false },
);

export function accountRoutes(auth: AuthService, reports: ReportStore, mail?: MailService): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'put',
      path: '/api/v1/users/me',
      auth: 'user',
      rateLimit: 'api',
      tag: 'account',
      summary: 'Set your display name and avatar URL (null removes one), or your e-mail address (a verification link is mailed)',
      body: ProfileBody,
      response: UserReply,
      handler: async ({ body, principal }) => {
        if (body.email !== undefined) {
          if (!mail) throw new AppError(503, 'mail_not_configured', 'e-mail is not configured on this server (SMTP_URL)');
          await mail.setEmail(who(principal), body.email);
        }
        return {
          body: await auth.updateProfile(who(principal), {
            ...(body.display_name === undefined ? {} : { displayName: body.display_name }),
            ...(body.avatar_url === undefined ? {} : { avatarUrl: body.avatar_url }),
          }),
        };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/users/me/password',
      audit: { kind: 'password.change', target: (c) => c.principal?.userId ?? null },
      auth: 'user',
      rateLimit: 'auth',
      tag: 'account',
      summary: 'Change your password; every token issued before stops working, and a new pair for this session is returned',
      body: PasswordBody,
      response: TokenPairReply,
      handler: async ({ body, principal }) => ({
        body: await auth.changePassword(who(principal), body.current_password, body.new_password),
      }),
    }),
    route({
      method: 'del',
      path: '/api/v1/users/me',
      audit: { kind: 'user.delete', target: (c) => c.principal?.userId ?? null },
      auth: 'user',
      rateLimit: 'auth',
      tag: 'account',
      summary: 'Delete your account, its API keys and its reports',
      bearerOnly: true,
      description: 'Needs a bearer token from a login and the current password: an API key cannot delete the account.',
      body: DeleteAccountBody,
      responses: {
        204: 'Deleted',
        403: 'Called with an API key (`jwt_required`), or the current password is wrong (`wrong_password`)',
        429: 'Too many requests from this address, or too many wrong passwords for this account (`rate_limited`)',
      },
      handler: async ({ body, principal }) => {
        await auth.deleteAccount(who(principal), body.current_password, (userId) => reports.deleteByOwner(userId));
        return { status: 204 };
      },
    }),
  ];
}
