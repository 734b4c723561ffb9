// One error type for every registry failure, so callers (startup, the CLI) can branch on `code`
// and print `message`, which always names the spec or model id and, for network failures, the URL.
import { AppError } from '../errors.js';

export type RegistryErrorCode =
  /** The spec is neither a folder, a bundled name nor a well-formed hub id. */
  | 'model_spec_invalid'
  /** The spec is well-formed but nothing exists under it (folder, bundled name or hub repo). */
  | 'model_not_found'
  /** The hub repo exists but lacks what a sequence-classification folder needs (e.g. no ONNX export). */
  | 'model_unsupported'
  /** The hub could not be reached or answered with an error. */
  | 'model_download_failed'
  /** Downloaded bytes did not match the hub's sizes/hashes; they were deleted. */
  | 'model_verify_failed';

const STATUS: Record<RegistryErrorCode, number> = {
  model_spec_invalid: 400,
  model_not_found: 404,
  model_unsupported: 422,
  model_download_failed: 502,
  model_verify_failed: 502,
};

export class RegistryError extends AppError {
  constructor(
    override readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(STATUS[code], code, message);
    this.name = 'RegistryError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Node's fetch hides the useful part ("ECONNREFUSED", "ENOTFOUND") in a nested cause. */
export function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    parts.push(code !== undefined && !current.message.includes(code) ? `${current.message} (${code})` : current.message);
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}
