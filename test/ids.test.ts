// src/ids.ts: ULIDs from a pooled CSPRNG source are still valid, unique, ordered and evenly spread.
import { decodeTime, isValid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { monotonicFactory, ulid } from '../src/ids.js';

describe('ids', () => {
  it('makes valid ULIDs carrying their time, none twice', () => {
    const now = Date.now();
    const ids = Array.from({ length: 20_000 }, () => ulid(now));
    expect(ids.every((id) => isValid(id) && decodeTime(id) === now)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('orders monotonic ids made in the same millisecond', () => {
    const next = monotonicFactory();
    const ids = Array.from({ length: 5_000 }, () => next(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spreads the random part over all 32 symbols about evenly (the pool is refilled, not reused)', () => {
    const counts = new Map<string, number>();
    // 100,000 random characters: 6,250 ids x 16, well past one 4 KiB pool.
    for (let i = 0; i < 6_250; i++) for (const ch of ulid().slice(10)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(32);
    for (const n of counts.values()) expect(Math.abs(n - 100_000 / 32)).toBeLessThan(400); // ~7 standard deviations
  });
});
