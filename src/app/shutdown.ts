// The drain (SIGTERM, or stop() in tests): out of traffic first, then each part stopped in the order that
// loses nothing: sockets told to reconnect elsewhere, in-flight requests answered, streams handed over,
// admitted texts classified, pending writes flushed (or spooled), connections closed.
import type { Config } from '../config.js';
import type { TemplatedApp, us_listen_socket } from '../gateway/uws.js';
import { nativeUws } from '../gateway/uws.js';
import type { WsGateway } from '../gateway/ws.js';
import type { ChannelHub } from '../channels/hub.js';
import type { IngestManager } from '../ingest/manager.js';
import type { Logger } from '../observability/log.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import type { StoreWriter } from '../store/writer.js';
import type { Drain } from './http.js';
import type { PersistentState } from './persistent.js';
import type { SharedState } from './state.js';

export interface Running {
  config: Pick<Config, 'drainTimeoutMs'>;
  log: Logger;
  drain: Drain;
  app: TemplatedApp;
  listenSocket: us_listen_socket;
  ws: Pick<WsGateway, 'closeAll'>;
  ingest: Pick<IngestManager, 'close'>;
  hub: Pick<ChannelHub, 'close'>;
  engine: Pick<SentimentEngine, 'close'>;
  writer: Pick<StoreWriter, 'close'>;
  state: Pick<SharedState, 'close'>;
  persistent: Pick<PersistentState, 'close'>;
}

export async function shutdown(r: Running): Promise<void> {
  if (r.drain.draining) return;
  // From here the router refuses new requests on open connections and closes each one after its reply.
  r.drain.draining = true;
  const deadline = performance.now() + r.config.drainTimeoutMs;
  nativeUws().us_listen_socket_close(r.listenSocket);
  await r.ws.closeAll(Math.min(1000, r.config.drainTimeoutMs / 2));
  await r.drain.idle(deadline);
  try {
    await r.ingest.close(); // leases released: another process takes the streams over at once
    r.hub.close();
    // Every text already admitted (WebSocket chat, ingest, requests past the deadline) is answered before
    // the threads stop; what is still queued at the deadline is refused with 503, never failed.
    await r.engine.close(Math.max(0, deadline - performance.now()));
  } finally {
    await r.writer.close(); // whatever threw above: pending writes flushed, or spooled to disk
  }
  await r.state.close();
  await r.persistent.close();
  // Keep-alive connections would hold the loop open after the listen socket is gone.
  (r.app as TemplatedApp & { close(): void }).close(); // in the native build, missing from its typings
  r.log.info('chatpulse stopped');
}
