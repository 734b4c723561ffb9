// The auth service over the chosen stores, and the admin account the config asks for.
import type { Revocation } from '../auth/revocations.js';
import { AuthService } from '../auth/service.js';
import { TokenIssuer } from '../auth/tokens.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/log.js';
import type { SharedState } from './state.js';

export async function startAuth(
  config: Config,
  state: Pick<SharedState, 'users' | 'apiKeys' | 'revocations' | 'limiter'>,
  jwtSecret: string,
  onRevoke: (revocation: Revocation) => void,
  log: Logger,
): Promise<AuthService> {
  const auth = new AuthService({
    users: state.users,
    apiKeys: state.apiKeys,
    revocations: state.revocations,
    tokens: new TokenIssuer({ secret: jwtSecret, accessTtlS: config.accessTtlS, refreshTtlS: config.refreshTtlS }),
    onRevoke,
    passwordFailures: state.limiter(config.loginFailuresPerAccount, config.loginFailureWindowS, 'login-fail'),
  });
  await ensureConfiguredAdmin(auth, config, log);
  return auth;
}

/** The admin account ADMIN_USERNAME/ADMIN_PASSWORD name, if any: at start, and again after a state reseed. */
export async function ensureConfiguredAdmin(auth: Pick<AuthService, 'ensureAdmin'>, config: Config, log: Logger): Promise<void> {
  if (config.adminUsername === undefined || config.adminPassword === undefined) return;
  await auth.ensureAdmin(config.adminUsername, config.adminPassword);
  log.info({ username: config.adminUsername }, 'admin account ensured');
}
