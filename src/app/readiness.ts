// Readiness rules: when the process leaves traffic (503 on /ready) and what /ready's 200 lists as degraded.
import type { Readiness } from '../gateway/routes/ops.js';
import type { SentimentEngine } from '../sentiment/engine.js';
import type { StoreWriter } from '../store/writer.js';
import type { PersistentState } from './persistent.js';
import type { SharedState } from './state.js';

interface ReadinessSources {
  draining: () => boolean;
  engine: Pick<SentimentEngine, 'ready'>;
  shared: Pick<SharedState, 'problem'>;
  persistent: Pick<PersistentState, 'problem'>;
  writer: Pick<StoreWriter, 'state'>;
}

export function readiness({ draining, engine, shared, persistent, writer }: ReadinessSources): Readiness {
  return {
    // A pod at its socket cap still serves REST: upgrades get 503, /ready stays 200.
    notReadyReason() {
      if (draining()) return 'draining';
      if (!engine.ready) return 'model not loaded';
      const problem = shared.problem();
      if (problem !== null) return problem;
      // The spool is full and messages are being dropped. A store outage alone does not fail readiness: the
      // spool absorbs it (every pod alike, so taking them out of traffic would only add to it).
      const s = writer.state();
      return s.overflow ? `the write spool is full (${s.dropped} messages dropped): the store has been unreachable too long` : null;
    },
    degraded() {
      const problem = persistent.problem();
      if (problem === null) return [];
      const s = writer.state();
      return [`${problem}: writes wait in the disk spool (${s.spooledBatches} batches, ${s.spooledBytes} bytes)`];
    },
  };
}
