// Liveness and readiness: /health answers while the process lives; /ready only while it can serve.
import { HealthReply, NotReadyReply, ReadyReply } from '../../contract/index.js';
import { route, type Route } from '../router.js';

export interface Readiness {
  /** Null when ready, else why not (shown in the 503 body). */
  notReadyReason(): string | null;
  /** Problems that do not take the process out of traffic (shown in the 200 body); none by default. */
  degraded?(): string[];
}

export function opsRoutes(readiness: Readiness): Route[] {
  const ok = { status: 'ok' };
  return [
    route({
      method: 'get',
      path: '/health',
      auth: 'public',
      probe: true,
      tag: 'ops',
      summary: 'Liveness',
      response: HealthReply,
      handler: () => ({ body: ok }),
    }),
    route({
      method: 'get',
      path: '/ready',
      probe: true,
      auth: 'public',
      tag: 'ops',
      summary: 'Readiness: model loaded, Redis answering, write spool not full, not draining (a MongoDB outage is listed in `degraded`)',
      response: ReadyReply,
      responses: { 503: NotReadyReply },
      handler: () => {
        const reason = readiness.notReadyReason();
        if (reason !== null) return { status: 503, body: { status: 'not_ready', error: { code: 'not_ready', message: reason } } };
        const degraded = readiness.degraded?.() ?? [];
        return { body: degraded.length === 0 ? { status: 'ready' } : { status: 'ready', degraded } };
      },
    }),
  ];
}
