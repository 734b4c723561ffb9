// `npm run model:fetch -- <org/name> [--revision R] [--cache DIR]`: downloads a hub model into the
// cache ahead of time (e.g. in an image build) and prints its folder, the value to give MODEL or MODEL_DIR.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_HF_ENDPOINT,
  DEFAULT_STALL_MS,
  RegistryError,
  createProgress,
  defaultCacheDir,
  downloadModel,
  parseHubId,
  parseRevision,
  type ProgressSink,
} from '../registry/index.js';

const USAGE = `usage: npm run model:fetch -- <org/name> [--revision R] [--cache DIR]

Downloads a Hugging Face model (an ONNX export, e.g. Xenova/... or onnx-community/...) into the
model cache, verifies it, and prints the local folder on stdout.

  --revision R   branch, tag or commit (default: main)
  --cache DIR    cache folder (default: $MODEL_CACHE_DIR or ~/.cache/chatpulse/models)

environment: HF_ENDPOINT (hub or mirror, default ${DEFAULT_HF_ENDPOINT}), HF_TOKEN (private/gated models)`;

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where progress goes; defaults to stderr (tests pass false). */
  readonly progress?: ProgressSink;
}

type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());

/** The CLI without process globals, so tests run it in-process; resolves to the exit code. */
export async function runModelFetch(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { revision: { type: 'string' }, cache: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    io.stderr.write(`error: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr.write(`error: expected one model id, got ${positionals.length}\n${USAGE}\n`);
    return 2;
  }
  const spec = positionals[0] as string;
  const hub = parseHubId(spec);
  if (hub === undefined) {
    io.stderr.write(`error: "${spec}" is not a Hugging Face model id (org/name, letters, digits, "_", "-", "."; no "..", "--")\n`);
    return 2;
  }
  const revision = parseRevision(values.revision ?? 'main');
  if (revision === undefined) {
    io.stderr.write(`error: revision "${values.revision}" is not a valid branch, tag or commit name\n`);
    return 2;
  }
  try {
    const dir = await downloadModel(hub, {
      cacheDir: resolve(values.cache ?? nonEmpty(env.MODEL_CACHE_DIR) ?? defaultCacheDir()),
      endpoint: nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_HF_ENDPOINT,
      revision,
      token: nonEmpty(env.HF_TOKEN),
      progress: createProgress(io.progress ?? io.stderr),
      stallTimeoutMs: DEFAULT_STALL_MS,
    });
    io.stdout.write(`${dir}\n`);
    return 0;
  } catch (err) {
    // Registry errors are written for people; anything else is a bug worth its stack.
    io.stderr.write(`error: ${err instanceof RegistryError ? err.message : ((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runModelFetch(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr });
}
