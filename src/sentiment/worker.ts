// What a Piscina inference thread runs: one tokenizer and one ONNX session per thread, loaded before the first
// task. Probabilities go back as a transferred Float32Array (no copy of the result buffer). The thread's entry
// file is workers/inference.ts (the pool loads its compiled form); the code and the task types live here,
// beside the pool that sends the tasks.
import { move } from 'piscina';
import { ModelRuntime } from './runtime.js';
import type { ModelInfo } from './model.js';
import type { TokenizerKind } from './tokenizer.js';

export interface InferenceWorkerData {
  info: ModelInfo;
  intraOpNumThreads: number;
  /** Chosen once by the engine (loadTokenizer); a thread where it would give other ids fails to load. */
  tokenizer: TokenizerKind;
  /** See RuntimeOptions.runCostTokens (absent: the default). */
  runCostTokens?: number;
}

export interface InferenceTask {
  texts: string[];
}

export type InferenceHandler = (task: InferenceTask) => Promise<Float32Array>;

/** Loads the model, then answers tasks. A model that fails to load fails every task with its message. */
export async function createInferenceHandler(data: InferenceWorkerData): Promise<InferenceHandler> {
  const runtime = await ModelRuntime.load(data.info, {
    intraOpNumThreads: data.intraOpNumThreads,
    tokenizer: data.tokenizer,
    ...(data.runCostTokens === undefined ? {} : { runCostTokens: data.runCostTokens }),
  });
  return async (task) => move(await runtime.classify(task.texts)) as Float32Array;
}
