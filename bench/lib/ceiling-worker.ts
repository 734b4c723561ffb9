// One thread of the engine bench's compute ceiling: the ONNX graph alone on batches encoded before the
// clock starts (no tokenizer, no featurizer, no thread hop per batch), each batch cut into the same
// length-grouped runs the engine makes (ModelRuntime.prepare). Started by ceiling.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { readModelInfo } from '../../src/sentiment/model.js';
import { ModelRuntime } from '../../src/sentiment/runtime.js';

export interface CeilingJob {
  modelDir: string;
  maxLength: number;
  texts: string[];
  batchSize: number;
  warmMs: number;
  durationMs: number;
  /** As the engine rows were run (RuntimeOptions.runCostTokens); absent: the default. */
  runCostTokens?: number;
}

export type CeilingReply = { type: 'ready'; encodeMsPerText: number } | { type: 'done'; completed: number };

const job = workerData as CeilingJob;
const port = parentPort;
if (port === null) throw new Error('ceiling-worker runs as a worker thread');

const runtime = await ModelRuntime.load(readModelInfo(job.modelDir, job.maxLength), {
  intraOpNumThreads: 1,
  ...(job.runCostTokens === undefined ? {} : { runCostTokens: job.runCostTokens }),
});
type Prepared = Awaited<ReturnType<ModelRuntime['prepare']>>;
const batches: Prepared[] = [];
const encodeStart = performance.now();
for (let i = 0; i + job.batchSize <= job.texts.length; i += job.batchSize)
  batches.push(await runtime.prepare(job.texts.slice(i, i + job.batchSize)));
const encodeMs = performance.now() - encodeStart;
if (batches.length === 0) throw new Error('ceiling-worker needs at least one full batch of texts');
port.postMessage({ type: 'ready', encodeMsPerText: encodeMs / (batches.length * job.batchSize) } satisfies CeilingReply);

// Every thread starts on the same signal, so their windows overlap as the engine's threads do.
port.once('message', () => {
  void (async () => {
    const start = performance.now();
    const windowStart = start + job.warmMs;
    const windowEnd = windowStart + job.durationMs;
    let completed = 0;
    for (let i = 0; ; i++) {
      const now = performance.now();
      if (now >= windowEnd) break;
      const batch = batches[i % batches.length] as Prepared;
      for (const run of batch) await runtime.logits(run.feeds);
      const done = performance.now();
      if (done >= windowStart && done < windowEnd) completed += job.batchSize;
    }
    await runtime.close();
    port.postMessage({ type: 'done', completed } satisfies CeilingReply);
  })();
});
