// The gateway's handle on its Piscina pool of inference threads.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ModelInfo } from './model.js';
import type { TokenizerKind } from './tokenizer.js';
import type { InferenceTask, InferenceWorkerData } from './worker.js';

export interface PoolOptions {
  info: ModelInfo;
  threads: number;
  intraOpNumThreads: number;
  tokenizer: TokenizerKind;
  runCostTokens?: number;
}

/** The compiled worker: beside this file in dist/, or dist/ itself when this module runs from source (vitest). */
export function workerFile(): string {
  const compiled = fileURLToPath(new URL('../../workers/inference.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  const fromSource = fileURLToPath(new URL('../../dist/workers/inference.js', import.meta.url));
  if (existsSync(fromSource)) return fromSource;
  throw new Error(`inference worker not built: run "npm run build" (looked for ${compiled})`);
}

export class InferencePool {
  private readonly pool: Piscina<InferenceTask, Float32Array>;

  constructor(private readonly options: PoolOptions) {
    const data: InferenceWorkerData = {
      info: options.info,
      intraOpNumThreads: options.intraOpNumThreads,
      tokenizer: options.tokenizer,
      ...(options.runCostTokens === undefined ? {} : { runCostTokens: options.runCostTokens }),
    };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: options.threads,
      maxThreads: options.threads,
      // Threads hold a loaded model: never let them idle out and reload it later.
      idleTimeout: Number.POSITIVE_INFINITY,
      // One batch per thread at a time; the batcher, not Piscina's queue, decides what waits.
      concurrentTasksPerWorker: 1,
      workerData: data,
    });
  }

  get threads(): number {
    return this.options.threads;
  }

  run(texts: string[]): Promise<Float32Array> {
    return this.pool.run({ texts });
  }

  /** Runs one tiny batch on every thread so the models are loaded (and any load error surfaces) before traffic. */
  async warmUp(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.threads }, () => this.run(['warm up'])));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
