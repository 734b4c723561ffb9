// Accounts, tokens and API keys (contract "Auth").
import type { AuthService } from '../../auth/index.js';
import { ApiKeyListReply, CreatedApiKeyReply, TokenPairReply, UserReply } from '../../contract/index.js';
import { unauthorized } from '../../errors.js';
import { route, type Route } from '../router.js';
import { ApiKeyBody, Credentials, LogoutBody, RefreshBody } from '../schemas.js';

export function authRoutes(auth: AuthService): Route[] {
  const base = '/api/v1/auth';
  return [
    route({
      method: 'post',
      path: `${base}/register`,
      audit: { kind: 'register', target: (c) => (c.body as { username?: string } | undefined)?.username ?? null },
      auth: 'public',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Create an account',
      body: Credentials,
      response: UserReply,
      responses: { 201: 'The new account', 409: 'The username is taken (`conflict`)' },
      handler: async ({ body }) => ({ status: 201, body: await auth.register(body.username, body.password) }),
    }),
    route({
      method: 'post',
      path: `${base}/login`,
      audit: { kind: 'login', target: (c) => (c.body as { username?: string } | undefined)?.username ?? null },
      auth: 'public',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Exchange a password for tokens',
      body: Credentials,
      response: TokenPairReply,
      responses: {
        401: 'Wrong username or password (`unauthorized`)',
        429: 'Too many attempts from this address, or too many failed ones for this username (`rate_limited`, with `Retry-After`)',
      },
      handler: async ({ body }) => ({ body: await auth.login(body.username, body.password) }),
    }),
    route({
      method: 'post',
      path: `${base}/refresh`,
      auth: 'public',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Rotate a refresh token',
      description: 'The presented refresh token is spent: use the new pair from here on.',
      body: RefreshBody,
      response: TokenPairReply,
      responses: { 401: 'The refresh token is invalid, expired or already used (`unauthorized`)' },
      handler: async ({ body }) => ({ body: await auth.refresh(body.refresh_token) }),
    }),
    route({
      method: 'post',
      path: `${base}/logout`,
      auth: 'user',
      tag: 'auth',
      summary: 'Revoke the presented access token (and a refresh token if given)',
      body: LogoutBody,
      optionalBody: true,
      bearerOnly: true,
      responses: { 204: 'Revoked: the token fails from now on, on every process' },
      handler: async ({ body, principal }) => {
        if (!principal) throw unauthorized();
        await auth.logout(principal, body.refresh_token);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: `${base}/me`,
      auth: 'user',
      tag: 'auth',
      summary: 'The signed-in user',
      response: UserReply,
      handler: async ({ principal }) => {
        if (!principal) throw unauthorized();
        return { body: await auth.me(principal) };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/api-keys',
      audit: { kind: 'api_key.create', target: (c) => c.principal?.userId ?? null },
      auth: 'user',
      rateLimit: 'auth',
      tag: 'auth',
      summary: 'Create an API key (shown once)',
      bearerOnly: true,
      description: 'Needs a bearer token from a login and the current password: an API key cannot mint keys.',
      body: ApiKeyBody,
      response: CreatedApiKeyReply,
      responses: {
        201: 'The key, shown this once',
        403: 'Called with an API key (`jwt_required`), or the current password is wrong (`wrong_password`)',
        429: 'Too many requests from this address, or too many wrong passwords for this account (`rate_limited`)',
      },
      handler: async ({ body, principal }) => {
        if (!principal) throw unauthorized();
        return { status: 201, body: await auth.createApiKey(principal, body.name, body.current_password) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/api-keys',
      auth: 'user',
      tag: 'auth',
      summary: 'List my API keys',
      response: ApiKeyListReply,
      handler: async ({ principal }) => {
        if (!principal) throw unauthorized();
        return { body: { items: await auth.listApiKeys(principal) } };
      },
    }),
    route({
      method: 'del',
      path: '/api/v1/api-keys/:id',
      audit: { kind: 'api_key.delete' },
      auth: 'user',
      tag: 'auth',
      summary: 'Delete an API key',
      responses: { 204: 'Deleted', 404: 'No such key of yours (`not_found`)' },
      handler: async ({ params, principal }) => {
        if (!principal) throw unauthorized();
        await auth.deleteApiKey(principal, params.id as string);
        return { status: 204 };
      },
    }),
  ];
}
