// Prometheus metrics (prom-client). Hot paths only increment counters or observe histograms; figures the
// owners already keep (engine, WebSocket, writer, ingest counters) are read at scrape time instead of
// being mirrored on every event: each owner hands its reader over with `read` once it exists (the
// registry is built first, so nothing is bound late). With WORKERS>1 every gateway registers its registry with prom-client's
// cluster support, and whichever gateway is scraped asks the primary, which gathers all of them: one scrape
// of the port shows the whole host, each series labelled with the gateway's `slot`.
import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the scrape reads from the rest of the process. */
export interface MetricSources {
  engine: () => {
    queued: number;
    cacheHits: number;
    cacheMisses: number;
    cacheHitRatio: number;
    shed: number;
    shedLate: number;
    shedEarly: number;
    batches: number;
    items: number;
    serviceRate: number;
    expectedWaitMs: number;
  };
  ws: () => { connections: number; subscriptions: number; framesIn: number; drops: Record<string, number> };
  writer: () => { pending: number; spooledBatches: number; spooledBytes: number; dropped: number; deadLettered: number; written: number };
  ingest: () => Record<string, number>;
}

// prom-client installs a worker's answer to the primary's host-wide request when an AggregatorRegistry is
// made. Made at import, long before the model loads: a starting worker answers (with nothing yet) instead
// of making every host-wide scrape wait for it and fail.
if (cluster.isWorker) new AggregatorRegistry();

const gauge = (reg: Registry[], name: string, help: string, read: () => number) =>
  new Gauge({
    name,
    help,
    registers: reg,
    collect() {
      this.set(read());
    },
  });
// Monotonic figures kept elsewhere, exposed as counters: reset-then-inc sets the running total.
const total = (reg: Registry[], name: string, help: string, read: () => number) =>
  new Counter({
    name,
    help,
    registers: reg,
    collect() {
      this.reset();
      this.inc(read());
    },
  });

/** The series each owner's reader feeds. */
const READERS: { [K in keyof MetricSources]: (reg: Registry[], source: MetricSources[K]) => void } = {
  ws(reg, source) {
    gauge(reg, 'chatpulse_ws_connections', 'Open WebSocket connections', () => source().connections);
    gauge(reg, 'chatpulse_ws_subscriptions', 'Channel subscriptions held by open connections', () => source().subscriptions);
    total(reg, 'chatpulse_ws_frames_in_total', 'Frames received from clients', () => source().framesIn);
    new Counter({
      name: 'chatpulse_ws_drops_total',
      help: 'Connections refused or closed, and frames refused, by reason',
      labelNames: ['reason'] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(source().drops)) this.inc({ reason }, n);
      },
    });
  },
  engine(reg, source) {
    gauge(reg, 'chatpulse_engine_queue_depth', 'Texts waiting for a batch', () => source().queued);
    gauge(reg, 'chatpulse_engine_cache_hit_ratio', 'Result cache hits over lookups since start', () => source().cacheHitRatio);
    total(reg, 'chatpulse_engine_cache_hits_total', 'Result cache hits', () => source().cacheHits);
    total(reg, 'chatpulse_engine_cache_misses_total', 'Result cache misses', () => source().cacheMisses);
    total(
      reg,
      'chatpulse_engine_shed_total',
      'Texts refused (503 overloaded): the queue was full or their expected wait passed ADMISSION_DEADLINE_MS',
      () => source().shed,
    );
    total(
      reg,
      'chatpulse_engine_shed_late_total',
      'Of the texts refused, those whose expected wait passed ADMISSION_DEADLINE_MS',
      () => source().shedLate,
    );
    total(
      reg,
      'chatpulse_engine_shed_early_calls_total',
      'Calls refused before their body was parsed, because even one more text would have been refused',
      () => source().shedEarly,
    );
    gauge(
      reg,
      'chatpulse_engine_service_rate',
      'Measured texts per second through the inference pool (the admission estimate)',
      () => source().serviceRate,
    );
    gauge(
      reg,
      'chatpulse_engine_expected_wait_seconds',
      'Expected wait of one text submitted now, from the queue and the service rate',
      () => source().expectedWaitMs / 1000,
    );
  },
  writer(reg, source) {
    gauge(reg, 'chatpulse_store_pending_documents', 'Messages recorded and not yet written', () => source().pending);
    gauge(reg, 'chatpulse_store_spool_batches', 'Write batches waiting in the disk spool', () => source().spooledBatches);
    gauge(reg, 'chatpulse_store_spool_bytes', 'Bytes in the disk spool', () => source().spooledBytes);
    total(reg, 'chatpulse_store_dropped_total', 'Messages dropped because the spool was full', () => source().dropped);
    total(
      reg,
      'chatpulse_store_dead_lettered_total',
      "Batches a store refused for good, kept in the spool folder's dead-letter file",
      () => source().deadLettered,
    );
    total(reg, 'chatpulse_store_written_total', 'Messages written to the store', () => source().written);
  },
  ingest(reg, source) {
    new Gauge({
      name: 'chatpulse_ingest_streams',
      help: 'Ingested streams owned by this process, by status',
      labelNames: ['status'] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const [status, n] of Object.entries(source())) this.set({ status }, n);
      },
    });
  },
};

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'chatpulse_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'chatpulse_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly wsFramesOut = new Counter({
    name: 'chatpulse_ws_frames_out_total',
    help: 'Frames sent to WebSocket subscribers, by frame type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'chatpulse_engine_batch_size',
    help: 'Texts per inference batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly batchWait = new Histogram({
    name: 'chatpulse_engine_batch_wait_seconds',
    help: 'How long the oldest text of a batch waited before it ran',
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly inference = new Histogram({
    name: 'chatpulse_engine_inference_seconds',
    help: 'Inference time per batch (pool round trip)',
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly ingestStages = new Histogram({
    name: 'chatpulse_ingest_stage_seconds',
    help: 'Latency of an ingested chat line per stage: receive (platform send time to the hub, the platform clock), classify, publish, total (hub to published)',
    labelNames: ['stage'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'chatpulse_redis_errors_total',
    help: 'Redis connection errors',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });
  readonly redisLatency = new Histogram({
    name: 'chatpulse_redis_ping_seconds',
    help: 'Redis round trip, measured by a PING every 5 s',
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly mongoCommands = new Histogram({
    name: 'chatpulse_mongo_command_seconds',
    help: 'MongoDB command latency by command and outcome',
    labelNames: ['command', 'outcome'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });

  readonly #reg = [this.registry];

  constructor(slot: number) {
    this.registry.setDefaultLabels({ slot: String(slot) });
    collectDefaultMetrics({ register: this.registry, prefix: 'chatpulse_' });
    if (cluster.isWorker) AggregatorRegistry.setRegistries([this.registry]);
  }

  /** One inference batch: its size, how long its oldest text waited, how long it ran. */
  observeBatch(size: number, waitMs: number, runMs: number): void {
    this.batchSize.observe(size);
    this.batchWait.observe(waitMs / 1000);
    this.inference.observe(runMs / 1000);
  }

  /** Registers the scrape-time series of one owner; each owner registers once. */
  read<K extends keyof MetricSources>(owner: K, source: MetricSources[K]): void {
    READERS[owner](this.#reg, source);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** This process's metrics, or with WORKERS>1 the whole host's (asked of the primary). */
  async text(): Promise<string> {
    if (!cluster.isWorker || !process.send) return this.registry.metrics();
    return askPrimary();
  }
}

const REQUEST = 'chatpulse:metrics-req';
const RESPONSE = 'chatpulse:metrics-res';
let seq = 0;

interface MetricsReply {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

function askPrimary(): Promise<string> {
  const id = ++seq;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error('the primary did not answer the metrics request')), 6000);
    const onMessage = (m: unknown) => {
      // Any IPC message arrives here, not only replies: read it as possibly anything.
      const reply = m as Partial<MetricsReply> | null | undefined;
      if (reply?.type !== RESPONSE || reply.id !== id) return;
      done(reply.error === undefined ? null : new Error(reply.error), reply.text);
    };
    function done(err: Error | null, text?: string) {
      clearTimeout(timer);
      process.off('message', onMessage);
      if (err) reject(err);
      else resolve(text ?? '');
    }
    process.on('message', onMessage);
    process.send?.({ type: REQUEST, id });
  });
}

/** In the primary: answers the gateways' requests for the host's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, m: unknown) => {
    const req = m as { type?: string; id?: number } | null | undefined;
    if (req?.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: RESPONSE, id: req.id, text }),
      (err: unknown) => worker.send({ type: RESPONSE, id: req.id, error: String(err) }),
    );
  });
}
