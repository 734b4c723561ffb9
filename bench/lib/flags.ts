// Command-line flags of the bench programs: every flag takes a value but a few switches, and numbers are
// checked at start with the flag's name in the error, not found wrong halfway through a run.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { enableProfiling } from './profile.js';

type Flags<V extends string, S extends string> = Partial<Record<V, string> & Record<S, boolean>>;

/**
 * process.argv's flags: `valued` ones take a string, `switches` are booleans; an unknown flag throws. Every
 * bench also takes `--profile` (CPU profiles of the ChatPulse processes it starts, see profile.ts).
 */
export function parseFlags<V extends string, S extends string = never>(valued: readonly V[], switches: readonly S[] = []): Flags<V, S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { profile: { type: 'boolean' } };
  for (const name of valued) options[name] = { type: 'string' };
  for (const name of switches) options[name] = { type: 'boolean' };
  const { profile, ...values } = parseArgs({ options }).values;
  if (profile === true) enableProfiling(benchName());
  return values as Flags<V, S>;
}

const benchName = (): string => basename(process.argv[1] ?? 'bench', '.js');

/** A positive number from a flag, with the flag's name in the error. */
export function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return value;
}

/** A positive number from a flag, rounded to an integer. */
export const int = (name: string, raw: string | undefined, fallback: number): number => Math.round(positive(name, raw, fallback));

/** A comma-separated list of positive numbers (e.g. `--rate 200,1000`). */
export const positiveList = (name: string, raw: string): number[] => raw.split(',').map((r) => positive(name, r.trim(), 1));
