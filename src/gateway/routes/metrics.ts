// GET /metrics: Prometheus text format. Public like /health, as scrapers expect; keep the port off the
// internet or put the route behind the ingress's own rules (docs/operations.md).
import { MetricsReply } from '../../contract/index.js';
import type { Metrics } from '../../observability/metrics.js';
import { route, type Route } from '../router.js';

export function metricsRoutes(metrics: Metrics): Route[] {
  return [
    route({
      method: 'get',
      path: '/metrics',
      auth: 'public',
      tag: 'ops',
      summary: 'Prometheus metrics; with WORKERS>1, every gateway process of the host (label `slot`)',
      produces: 'text/plain; version=0.0.4; charset=utf-8',
      responses: { 200: MetricsReply },
      handler: async () => ({ raw: { contentType: metrics.contentType, body: await metrics.text() } }),
    }),
  ];
}
