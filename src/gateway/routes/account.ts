// The signed-in user's own account: profile, password, deletion.
import { Type } from '@sinclair/typebox';
import type { AuthService, Principal } from '../../auth/index.js';
import type { ReportStore } from '../../store/ports.js';
import { route, type Route } from '../router.js';

const ProfileBody = Type.Object(
  {
    display_name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' }), Type.Null()])),
    avatar_url: Type.Optional(Type.Union([Type.String({ maxLength: 512, pattern: '^https://[^\\s]+$' }), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
const PasswordBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 128 }), new_password: Type.String({ minLength: 8, maxLength: 128 }) },
  { additionalProperties: false },
);

export function accountRoutes(auth: AuthService, reports: ReportStore): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  return [
    route({
      method: 'put', path: '/api/v1/users/me', auth: 'user', rateLimit: 'api', tag: 'account', summary: 'Set your display name and avatar URL (null removes one)',
      body: ProfileBody,
      handler: async ({ body, principal }) => ({
        body: await auth.updateProfile(who(principal), {
          ...(body.display_name === undefined ? {} : { displayName: body.display_name }),
          ...(body.avatar_url === undefined ? {} : { avatarUrl: body.avatar_url }),
        }),
      }),
    }),
    route({
      method: 'post', path: '/api/v1/users/me/password', auth: 'user', rateLimit: 'auth', tag: 'account',
      summary: 'Change your password; every token issued before stops working, and a new pair for this session is returned',
      body: PasswordBody,
      handler: async ({ body, principal }) => ({ body: await auth.changePassword(who(principal), body.current_password, body.new_password) }),
    }),
    route({
      method: 'del', path: '/api/v1/users/me', auth: 'user', rateLimit: 'auth', tag: 'account', summary: 'Delete your account, its API keys and its reports',
      handler: async ({ principal }) => {
        const me = who(principal);
        await reports.deleteByOwner(me.userId);
        await auth.deleteAccount(me);
        return { status: 204 };
      },
    }),
  ];
}
