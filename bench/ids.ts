// Cost of one ULID: ulid's own generator with its default random source (crypto.randomBytes(1) per random
// character) against src/ids.ts (the same generator fed from a pooled CSPRNG buffer), in the same run.
// Each id is made in a new millisecond (a seed time that moves by 1 ms per id): what a server making fewer
// than 1,000 ids/s pays every time, and the monotonic factories' cost once per millisecond.
// Run: npm run bench:ids [-- --ids 200000]
import { monotonicFactory as defaultFactory } from 'ulid';
import { monotonicFactory } from '../src/ids.js';
import { int, parseFlags } from './lib/flags.js';
import { machine, machineLine } from './lib/machine.js';
import { fmt, markdownTable, publishResults } from './lib/results.js';

const flags = parseFlags(['ids']);
const count = int('ids', flags.ids, 200_000);
const host = machine();

function usPerId(make: (seedTime: number) => string): number {
  const start = 1_700_000_000_000;
  for (let i = 0; i < 10_000; i++) make(start - 20_000 + i); // warm-up
  const t = performance.now();
  for (let i = 0; i < count; i++) make(start + i);
  return ((performance.now() - t) * 1000) / count;
}

const baseline = usPerId(defaultFactory());
const pooled = usPerId(monotonicFactory());
const rows = [
  { name: "baseline: ulid's monotonicFactory(), default random source", usPerId: baseline },
  { name: 'src/ids.ts monotonicFactory(), pooled CSPRNG source', usPerId: pooled },
];
const markdown = [
  '# ULID cost',
  '',
  `Machine: ${machineLine(host)}`,
  `${count.toLocaleString('en-US')} ids, each in a new millisecond.`,
  '',
  markdownTable(
    ['generator', 'µs per id', 'x faster than baseline'],
    rows.map((r) => [r.name, fmt(r.usPerId, 2), `${fmt(baseline / r.usPerId, 1)}x`]),
  ),
].join('\n');
console.log(markdown);
publishResults('ids', { name: 'ids', machine: host, count, rows, speedup: baseline / pooled }, markdown);
