/**
 * `pnpm feed <period> [count]`. Parsing is pure: main() prints the usage and
 * exits with EXIT_USAGE on a UsageError. Whether the API serves the period
 * is checked later, once /pairs has answered (`checkServed`).
 */
import { PeriodError, parsePeriod, type Period } from '@candlestack/shared';

export const USAGE = 'usage: pnpm feed <period> [count]   (period e.g. 1m, 5m, 1h; count of candles per pair: 1 to 10, default 3)';

/** The conventional exit code of a command-line usage error. */
export const EXIT_USAGE = 2;

export const DEFAULT_COUNT = 3;
export const MAX_COUNT = 10;

export class UsageError extends Error {}

export interface FeedArgs {
  readonly period: Period;
  /** Candles shown per pair, the forming one included. */
  readonly count: number;
}

/** `argv` without node and the script; 'help' for -h/--help. Throws UsageError. */
export function parseArgs(argv: readonly string[]): FeedArgs | 'help' {
  // `pnpm feed -- 1m` hands the `--` over as an argument.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  if (args.some((a) => a === '-h' || a === '--help')) return 'help';
  const [periodText, countText, ...extra] = args;
  if (periodText === undefined) throw new UsageError('missing <period>');
  if (extra.length > 0) throw new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(' ')}`);
  let period: Period;
  try {
    period = parsePeriod(periodText);
  } catch (err) {
    if (err instanceof PeriodError) throw new UsageError(err.message);
    throw err;
  }
  return { period, count: countText === undefined ? DEFAULT_COUNT : parseCount(countText) };
}

function parseCount(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_COUNT)) throw new UsageError(`"${text}" is not a count: write a whole number from 1 to ${MAX_COUNT}`);
  return n;
}

/** Throws UsageError when the API does not build `period`, naming those it does. */
export function checkServed(period: Period, served: readonly string[], api: string): void {
  const ok = served.some((label) => {
    try {
      return parsePeriod(label).ms === period.ms;
    } catch {
      return false;
    }
  });
  if (!ok) {
    throw new UsageError(`the API at ${api} does not serve ${period.label}; it serves: ${served.join(', ') || 'no period'}`);
  }
}
