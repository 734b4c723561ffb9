// The Piscina thread entry (the pool loads this file's compiled form): the handler is built from workerData.
// Piscina awaits an exported promise of the handler, so the model loads before the first task.
import { workerData } from 'piscina';
import { createInferenceHandler, type InferenceWorkerData } from '../src/sentiment/worker.js';

export default createInferenceHandler(workerData as InferenceWorkerData);
