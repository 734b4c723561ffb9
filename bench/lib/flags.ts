// Command-line flags of the bench programs: every flag takes a value but a few switches, and numbers are
// checked at start with the flag's name in the error, not found wrong halfway through a run.
import { parseArgs } from 'node:util';

type Flags<V extends string, S extends string> = Partial<Record<V, string> & Record<S, boolean>>;

/** process.argv's flags: `valued` ones take a string, `switches` are booleans; an unknown flag throws. */
export function parseFlags<V extends string, S extends string = never>(valued: readonly V[], switches: readonly S[] = []): Flags<V, S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const name of valued) options[name] = { type: 'string' };
  for (const name of switches) options[name] = { type: 'boolean' };
  return parseArgs({ options }).values as Flags<V, S>;
}

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
