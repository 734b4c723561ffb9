// Liveness and readiness: /health answers while the process lives; /ready only while it can serve.
import { route, type Route } from '../router.js';

export interface Readiness {
  /** Null when ready, else why not (shown in the 503 body). */
  notReadyReason(): string | null;
}

export function opsRoutes(readiness: Readiness): Route[] {
  const ok = { status: 'ok' };
  return [
    route({ method: 'get', path: '/health', auth: 'public', tag: 'ops', summary: 'Liveness', handler: () => ({ body: ok }) }),
    route({
      method: 'get',
      path: '/ready',
      auth: 'public',
      tag: 'ops',
      summary: 'Readiness: model loaded, backends answering, not draining',
      handler: () => {
        const reason = readiness.notReadyReason();
        return reason === null
          ? { body: { status: 'ready' } }
          : { status: 503, body: { status: 'not_ready', error: { code: 'not_ready', message: reason } } };
      },
    }),
  ];
}
