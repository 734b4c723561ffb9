// Rate limiting behind a small port: the in-memory driver now; a Redis driver (same interface) lets a
// limit hold across processes and hosts.
export type { RateLimiter, RateDecision } from './rate-limiter.js';
export { MemoryRateLimiter } from './memory.js';
export { KeyedSerializer } from './serial.js';
