// The Piscina worker: one tokenizer and one ONNX session per thread, loaded before the first task.
// Probabilities go back as a transferred Float32Array (no copy of the result buffer).
import { move, workerData } from 'piscina';
import { ModelRuntime } from '../src/sentiment/runtime.js';
import type { ModelInfo } from '../src/sentiment/model.js';

export interface InferenceWorkerData {
  info: ModelInfo;
  intraOpNumThreads: number;
}

export interface InferenceTask {
  texts: string[];
}

const data = workerData as InferenceWorkerData;

// Piscina awaits an exported promise of the handler, so a model that fails to load fails the task with its message.
export default (async () => {
  const runtime = await ModelRuntime.load(data.info, { intraOpNumThreads: data.intraOpNumThreads });
  return async (task: InferenceTask): Promise<Float32Array> => move(await runtime.classify(task.texts)) as Float32Array;
})();
