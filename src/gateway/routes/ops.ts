// Liveness and readiness: /health answers while the process lives; /ready only while it can serve.
import { Type } from '@sinclair/typebox';
import { route, type Route } from '../router.js';

const HealthReply = Type.Object({ status: Type.Literal('ok') });
const ReadyReply = Type.Object({ status: Type.Literal('ready') });
const NotReadyReply = Type.Object(
  { status: Type.Literal('not_ready'), error: Type.Object({ code: Type.Literal('not_ready'), message: Type.String({ description: 'Why not' }) }) },
  { description: 'Not ready: loading the model, a backend unreachable, draining, or at the WebSocket connection limit' },
);

export interface Readiness {
  /** Null when ready, else why not (shown in the 503 body). */
  notReadyReason(): string | null;
}

export function opsRoutes(readiness: Readiness): Route[] {
  const ok = { status: 'ok' };
  return [
    route({ method: 'get', path: '/health', auth: 'public', tag: 'ops', summary: 'Liveness', response: HealthReply, handler: () => ({ body: ok }) }),
    route({
      method: 'get',
      path: '/ready',
      auth: 'public',
      tag: 'ops',
      summary: 'Readiness: model loaded, backends answering, not draining',
      response: ReadyReply,
      responses: { 503: NotReadyReply },
      handler: () => {
        const reason = readiness.notReadyReason();
        return reason === null
          ? { body: { status: 'ready' } }
          : { status: 503, body: { status: 'not_ready', error: { code: 'not_ready', message: reason } } };
      },
    }),
  ];
}
