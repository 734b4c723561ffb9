// Typed errors of the SDK: every non-2xx REST answer becomes a ChatPulseError carrying the contract's
// error body (`{"error":{"code","message"}}`), and a refused WebSocket frame becomes a LiveError.

export class ChatPulseError extends Error {
  override name = 'ChatPulseError';

  constructor(
    /** The HTTP status; 0 when no answer came back (network failure). */
    readonly status: number,
    /** The contract's snake_case code (`unauthorized`, `validation_failed`, `not_found`, ...). */
    readonly code: string,
    message: string,
    /** From `Retry-After` on 429/503: seconds to wait before retrying. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** A server `error` frame (the connection stays open), or a local refusal such as `not_connected`. */
export class LiveError extends Error {
  override name = 'LiveError';

  constructor(
    readonly code: string,
    message: string,
    readonly channel?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Reads a response that is not 2xx into a ChatPulseError; tolerant of bodies that are not the contract's. */
export async function errorFromResponse(res: Response): Promise<ChatPulseError> {
  const retry = res.headers.get('retry-after');
  const retryAfterS = retry !== null && /^\d+(\.\d+)?$/.test(retry.trim()) ? Number(retry) : undefined;
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const text = await res.text();
    const body = text === '' ? null : (JSON.parse(text) as unknown);
    const err = isRecord(body) && isRecord(body.error) ? body.error : null;
    if (err) {
      if (typeof err.code === 'string') code = err.code;
      if (typeof err.message === 'string') message = err.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ChatPulseError(res.status, code, message, retryAfterS);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
