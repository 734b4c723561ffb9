// Accounts, tokens and API keys (contract "Auth").
import type { AuthService } from '../../auth/index.js';
import { unauthorized } from '../../errors.js';
import { route, type Route } from '../router.js';
import { ApiKeyBody, Credentials, LogoutBody, RefreshBody, TokenPairReply, UserReply } from '../schemas.js';

export function authRoutes(auth: AuthService): Route[] {
  const base = '/api/v1/auth';
  return [
    route({
      method: 'post', path: `${base}/register`, auth: 'public', rateLimit: 'auth', tag: 'auth', summary: 'Create an account',
      body: Credentials, response: UserReply,
      handler: async ({ body }) => ({ status: 201, body: await auth.register(body.username, body.password) }),
    }),
    route({
      method: 'post', path: `${base}/login`, auth: 'public', rateLimit: 'auth', tag: 'auth', summary: 'Exchange a password for tokens',
      body: Credentials, response: TokenPairReply,
      handler: async ({ body }) => ({ body: await auth.login(body.username, body.password) }),
    }),
    route({
      method: 'post', path: `${base}/refresh`, auth: 'public', rateLimit: 'auth', tag: 'auth', summary: 'Rotate a refresh token',
      body: RefreshBody, response: TokenPairReply,
      handler: async ({ body }) => ({ body: await auth.refresh(body.refresh_token) }),
    }),
    route({
      method: 'post', path: `${base}/logout`, auth: 'user', tag: 'auth', summary: 'Revoke the presented access token (and a refresh token if given)',
      body: LogoutBody,
      handler: async ({ body, principal }) => {
        if (!principal) throw unauthorized();
        await auth.logout(principal, body.refresh_token);
        return { status: 204 };
      },
    }),
    route({
      method: 'get', path: `${base}/me`, auth: 'user', tag: 'auth', summary: 'The signed-in user', response: UserReply,
      handler: async ({ principal }) => {
        if (!principal) throw unauthorized();
        return { body: await auth.me(principal) };
      },
    }),
    route({
      method: 'post', path: '/api/v1/api-keys', auth: 'user', tag: 'auth', summary: 'Create an API key (shown once)',
      body: ApiKeyBody,
      handler: async ({ body, principal }) => {
        if (!principal) throw unauthorized();
        return { status: 201, body: await auth.createApiKey(principal, body.name) };
      },
    }),
    route({
      method: 'get', path: '/api/v1/api-keys', auth: 'user', tag: 'auth', summary: 'List my API keys',
      handler: async ({ principal }) => {
        if (!principal) throw unauthorized();
        return { body: { items: await auth.listApiKeys(principal) } };
      },
    }),
    route({
      method: 'del', path: '/api/v1/api-keys/:id', auth: 'user', tag: 'auth', summary: 'Delete an API key',
      handler: async ({ params, principal }) => {
        if (!principal) throw unauthorized();
        await auth.deleteApiKey(principal, params.id as string);
        return { status: 204 };
      },
    }),
  ];
}
