export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until one more point is available. */
  retryAfterMs: number;
  remaining: number;
}

/** A fixed budget of points per key per window. */
export interface RateLimiter {
  consume(key: string, points?: number): Promise<RateDecision>;
}
