// The engine bench's compute ceiling: how many messages/s the ONNX graph alone sustains on `threads`
// threads at a batch size, with every batch encoded before the clock starts. The engine's overhead
// (tokenizer, featurizer, batching, thread hops, copies) is then a measured share: 1 - engine / ceiling.
import { Worker } from 'node:worker_threads';
import type { CeilingJob, CeilingReply } from './ceiling-worker.js';

export interface Ceiling {
  msgsPerS: number;
  /** Tokenizer + featurizer time per text (ms), measured while the workers encoded their batches. */
  encodeMsPerText: number;
}

export async function computeCeiling(
  job: Omit<CeilingJob, 'texts'>,
  threads: number,
  textsFor: (thread: number, count: number) => string[],
  textsPerThread: number,
): Promise<Ceiling> {
  const workers = Array.from(
    { length: threads },
    (_, t) =>
      new Worker(new URL('./ceiling-worker.js', import.meta.url), {
        workerData: { ...job, texts: textsFor(t, textsPerThread) } satisfies CeilingJob,
      }),
  );
  const replies = (type: CeilingReply['type']) =>
    Promise.all(
      workers.map(
        (w) =>
          new Promise<CeilingReply>((resolve, reject) => {
            const onMessage = (m: CeilingReply) => {
              if (m.type !== type) return;
              w.off('message', onMessage);
              resolve(m);
            };
            w.on('message', onMessage);
            w.once('error', reject);
          }),
      ),
    );
  try {
    const ready = await replies('ready');
    const finished = replies('done');
    for (const w of workers) w.postMessage('go');
    const done = await finished;
    const completed = done.reduce((sum, r) => sum + (r.type === 'done' ? r.completed : 0), 0);
    const encodeMs = ready.reduce((sum, r) => sum + (r.type === 'ready' ? r.encodeMsPerText : 0), 0) / threads;
    return { msgsPerS: completed / (job.durationMs / 1000), encodeMsPerText: encodeMs };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
