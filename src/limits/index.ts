// Rate limiting behind a small port: the memory driver (one process's budget) beside the port, and the
// Redis driver (redis-rate-limiter.ts) that holds a limit across processes and hosts.
export type { RateLimiter, RateDecision } from './rate-limiter.js';
export { MemoryRateLimiter } from './rate-limiter.js';
export { KeyedSerializer } from './serial.js';
