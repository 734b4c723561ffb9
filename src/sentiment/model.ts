// Reads a Hugging Face-layout sequence-classification folder and says what the engine needs to know
// about it, with errors that name the folder and the missing piece.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AppError } from '../errors.js';
import { parseChatTextSpec, type ChatTextSpec } from './chat-text.js';
import { parseFeaturizerSpec, type FeaturizerSpec } from './featurizer.js';

export interface ModelInfo {
  /** Display name: `_name_or_path` from config.json, else the folder name. */
  readonly name: string;
  readonly dir: string;
  /** Labels in logit order, from `id2label`. */
  readonly labels: readonly string[];
  readonly maxLength: number;
  readonly onnxFile: string;
  readonly quantized: boolean;
  readonly modelType: string | null;
  /** Present when the folder has featurizer.json: the graph then also takes hashed n-gram inputs. */
  readonly featurizer: FeaturizerSpec | null;
  /** Present when the folder has chat.json: texts are chat-normalized (emotes, caps, elongations) first. */
  readonly chat: ChatTextSpec | null;
}

export class ModelError extends AppError {
  constructor(message: string) {
    super(500, 'model_error', message);
    this.name = 'ModelError';
  }
}

interface RawConfig {
  id2label?: Record<string, unknown>;
  _name_or_path?: unknown;
  model_type?: unknown;
  max_position_embeddings?: unknown;
}

export function readModelInfo(dirIn: string, maxLength: number): ModelInfo {
  const dir = resolve(dirIn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelError(`model folder not found: ${dir} (set MODEL_DIR to a Hugging Face-layout model folder)`);
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new ModelError(`${configPath} is missing`);
  let config: RawConfig;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as RawConfig;
  } catch (err) {
    throw new ModelError(`${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const labels = labelsFrom(config.id2label, configPath);
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new ModelError(`${join(dir, 'tokenizer.json')} is missing`);

  // Prefer the int8 export: it is what the model card measures and ships as the fast path.
  const quantizedFile = join(dir, 'onnx', 'model_quantized.onnx');
  const plainFile = join(dir, 'onnx', 'model.onnx');
  const quantized = existsSync(quantizedFile);
  if (!quantized && !existsSync(plainFile)) {
    throw new ModelError(`no ONNX graph in ${dir}: expected onnx/model_quantized.onnx or onnx/model.onnx`);
  }
  if (!Number.isInteger(maxLength) || maxLength < 4) throw new ModelError(`max length must be an integer >= 4, got ${maxLength}`);
  const positions = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : Infinity;
  return {
    name: typeof config._name_or_path === 'string' && config._name_or_path !== '' ? config._name_or_path : basename(dir),
    dir,
    labels,
    // RoBERTa reserves two position slots (padding offset), so never ask for more than the table holds.
    maxLength: Math.min(maxLength, positions - 2),
    onnxFile: quantized ? quantizedFile : plainFile,
    quantized,
    modelType: typeof config.model_type === 'string' ? config.model_type : null,
    featurizer: readOptional(join(dir, 'featurizer.json'), parseFeaturizerSpec),
    chat: readOptional(join(dir, 'chat.json'), parseChatTextSpec),
  };
}

function readOptional<T>(path: string, parse: (raw: unknown, where: string) => T): T | null {
  if (!existsSync(path)) return null;
  try {
    return parse(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (err) {
    throw new ModelError(`${path} is invalid: ${(err as Error).message}`);
  }
}

function labelsFrom(id2label: Record<string, unknown> | undefined, where: string): string[] {
  if (!id2label || typeof id2label !== 'object') throw new ModelError(`${where} has no id2label`);
  const entries = Object.entries(id2label).map(([k, v]) => [Number(k), v] as const);
  const labels: string[] = [];
  entries.forEach(([id, label]) => {
    if (!Number.isInteger(id) || id < 0 || id >= entries.length || typeof label !== 'string' || label === '') {
      throw new ModelError(`${where}: id2label must map 0..n-1 to non-empty names`);
    }
    labels[id] = label;
  });
  if (labels.length < 2) throw new ModelError(`${where}: id2label needs at least two labels`);
  return labels;
}
