// Step 4 of `npm run model:train`: scores the exported model through the serving runtime (the same
// tokenizer, featurizer and onnxruntime code as the server), keeps the int8 graph only if it is faster
// at no more than 1 point of macro-recall, and writes metrics.json for the model card and the tests.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { readModelInfo, type ModelInfo } from '../../src/sentiment/model.js';
import { ModelRuntime } from '../../src/sentiment/runtime.js';
import { chatSanity, splitChatEval, tweetevalVal, type Example } from './datasets.js';
import { classificationMetrics, type Metrics } from './metrics.js';

const arg = (flag: string, fallback: string) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? (process.argv[i + 1] as string) : fallback;
};

export async function predictAll(runtime: ModelRuntime, texts: readonly string[], batchSize = 64): Promise<number[]> {
  const width = runtime.info.labels.length;
  const out: number[] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    const probs = await runtime.classify(texts.slice(i, i + batchSize));
    for (let r = 0; r < probs.length / width; r++) {
      let best = 0;
      for (let c = 1; c < width; c++) if ((probs[r * width + c] as number) > (probs[r * width + best] as number)) best = c;
      out.push(best);
    }
  }
  return out;
}

interface EvalSets {
  tweeteval_val: Example[];
  chat_dev: Example[];
  chat_test: Example[];
  sanity: Example[];
}

interface VariantReport {
  file: string;
  bytes: number;
  tweeteval_val: Metrics;
  /** JasonMates chat, the half choices were made on. */
  chat_dev: Metrics;
  /** JasonMates chat, the half nothing was chosen on: the chat headline. */
  chat_test: Metrics;
  /** The hand-checked lines of test/fixtures/chat-sanity.tsv. */
  sanity: Metrics;
  /** One thread, batches of 64 TweetEval texts, tokenizing included. */
  msgs_per_s_one_thread: number;
}

async function evaluate(info: ModelInfo, sets: EvalSets): Promise<VariantReport> {
  const runtime = await ModelRuntime.load(info, { intraOpNumThreads: 1 });
  try {
    const score = async (set: Example[]) =>
      classificationMetrics(
        await predictAll(
          runtime,
          set.map((e) => e.text),
        ),
        set.map((e) => e.label),
        info.labels,
      );
    const devMetrics = await score(sets.tweeteval_val);
    const texts = sets.tweeteval_val.map((e) => e.text);
    await predictAll(runtime, texts.slice(0, 256)); // warm-up
    const t0 = performance.now();
    for (let round = 0; round < 2; round++) await predictAll(runtime, texts);
    const rate = (2 * texts.length) / ((performance.now() - t0) / 1000);
    return {
      file: info.onnxFile,
      bytes: statSync(info.onnxFile).size,
      tweeteval_val: devMetrics,
      chat_dev: await score(sets.chat_dev),
      chat_test: await score(sets.chat_test),
      sanity: await score(sets.sanity),
      msgs_per_s_one_thread: Math.round(rate),
    };
  } finally {
    await runtime.close();
  }
}

/** Seconds since run.sh started the recipe (it writes started_at into the work folder), or null. */
function trainingSeconds(work: string): number | null {
  const f = join(work, 'started_at');
  return existsSync(f) ? Math.round(Date.now() / 1000 - Number(readFileSync(f, 'utf8'))) : null;
}

async function main(): Promise<void> {
  const dir = resolve(arg('--model', 'models/chatpulse-mini'));
  const data = resolve(arg('--data', '../shared/datasets'));
  const chat = splitChatEval(data);
  const sanity = chatSanity(resolve('test', 'fixtures', 'chat-sanity.tsv'));
  const sets: EvalSets = { tweeteval_val: tweetevalVal(data), chat_dev: chat.dev, chat_test: chat.test, sanity };
  const base = readModelInfo(dir, 128);
  const fp32 = await evaluate({ ...base, onnxFile: join(dir, 'onnx', 'model.onnx'), quantized: false }, sets);
  console.log('fp32', JSON.stringify(fp32));
  const qFile = join(dir, 'onnx', 'model_quantized.onnx');
  let chosen = fp32;
  let int8: VariantReport | null = null;
  if (existsSync(qFile)) {
    int8 = await evaluate({ ...base, onnxFile: qFile, quantized: true }, sets);
    console.log('int8', JSON.stringify(int8));
    const faster = int8.msgs_per_s_one_thread > fp32.msgs_per_s_one_thread * 1.05;
    const cost = fp32.tweeteval_val.macro_recall - int8.tweeteval_val.macro_recall;
    if (faster && cost <= 0.01) chosen = int8;
    else {
      console.log(`dropping the int8 graph: ${faster ? '' : 'not faster; '}${cost > 0.01 ? `costs ${cost.toFixed(4)} macro-recall` : ''}`);
      rmSync(qFile);
    }
  }
  // What the training step measured in PyTorch (each branch alone) and the scikit-learn reference.
  const work = resolve(arg('--work', 'models/train/.work'));
  const readJson = (f: string): unknown =>
    existsSync(join(work, f)) ? (JSON.parse(readFileSync(join(work, f), 'utf8')) as unknown) : null;
  const training = readJson('train_report.json') as Record<string, unknown> | null;
  const report = {
    model: base.name,
    baseline_sklearn: readJson('baseline.json'),
    branches_in_training: training
      ? {
          linear: training.linear_branch,
          transformer: training.transformer_branch,
          hybrid: training.hybrid,
          parameters: training.parameters,
          alpha: training.alpha,
        }
      : null,
    ablation: training?.ablation ?? null,
    training_args: training?.args ?? null,
    data: training?.data ?? null,
    served: chosen === fp32 ? 'onnx/model.onnx (fp32)' : 'onnx/model_quantized.onnx (int8)',
    tweeteval_val: chosen.tweeteval_val,
    chat_dev: chosen.chat_dev,
    chat_test: chosen.chat_test,
    sanity: chosen.sanity,
    training_seconds: trainingSeconds(work),
    msgs_per_s_one_thread: chosen.msgs_per_s_one_thread,
    variants: { fp32, int8 },
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    date: new Date().toISOString(),
  };
  for (const v of [report.variants.fp32, report.variants.int8]) if (v) v.file = v.file.slice(dir.length + 1);
  writeFileSync(join(dir, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `served: ${report.served}; TweetEval val macro-recall ${chosen.tweeteval_val.macro_recall}; wrote ${join(dir, 'metrics.json')}`,
  );
}

await main();
