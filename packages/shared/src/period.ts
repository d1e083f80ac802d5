/**
 * Periods (`1s` ... `1d`) and bucket alignment. A bucket of period P starts
 * at a UTC epoch multiple of P and covers [start, start + P).
 */
import { shown } from './shown.js';

export const DAY_MS = 86_400_000;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS } as const;
type Unit = keyof typeof UNIT_MS;

/** A candle period; `ms` divides a day evenly. */
export interface Period {
  /** Canonical label, e.g. "5m" (the largest unit that expresses it). */
  readonly label: string;
  readonly ms: number;
}

export class PeriodError extends Error {}

const PATTERN = /^([1-9]\d{0,5})([smhd])$/;

/** Parses "5m" (also "60s" -> label "1m"); throws PeriodError on bad input. */
export function parsePeriod(text: string): Period {
  const m = PATTERN.exec(text.trim());
  if (!m) {
    throw new PeriodError(
      `${shown(text)} is not a period: write <n><unit> with unit s, m, h or d (1s, 5m, 1h, 1d)`,
    );
  }
  const ms = Number(m[1]) * UNIT_MS[m[2] as Unit];
  if (ms > DAY_MS || DAY_MS % ms !== 0) {
    throw new PeriodError(`${shown(text)} does not divide a day evenly`);
  }
  return { label: periodLabel(ms), ms };
}

/** The canonical label of a period length: 60000 -> "1m", 90000 -> "90s". */
export function periodLabel(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  throw new PeriodError(`${ms} ms is not a whole number of seconds`);
}

/** Parses a comma-separated list, dropping duplicates, sorted shortest first. */
export function parsePeriods(list: string): Period[] {
  const byMs = new Map<number, Period>();
  for (const part of list.split(',')) {
    if (part.trim() === '') continue;
    const p = parsePeriod(part);
    byMs.set(p.ms, p);
  }
  if (byMs.size === 0) throw new PeriodError('no period given');
  return [...byMs.values()].sort((a, b) => a.ms - b.ms);
}

/** Start of the bucket of period `ms` that holds time `t` (ms since epoch, UTC). */
export function bucketStart(t: number, ms: number): number {
  return Math.floor(t / ms) * ms;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The base period: the greatest common divisor of all periods. Ticks are
 * folded only into base buckets; every other period is rolled up from them,
 * so a tick costs the same however many periods are built.
 */
export function basePeriodMs(periods: readonly Period[]): number {
  return periods.reduce((acc, p) => gcd(acc, p.ms), 0);
}

/**
 * The plan for building periods: each period is rolled up from its `source`,
 * the longest shorter period that divides it (or the base). Sorted shortest
 * first, so a source is always built before the periods made from it.
 */
export interface PeriodPlan {
  readonly baseMs: number;
  /** The periods served, shortest first. */
  readonly periods: readonly Period[];
  /** Every period built, base included, shortest first, with its source. */
  readonly chain: readonly { readonly ms: number; readonly sourceMs: number | null }[];
}

export function planPeriods(periods: readonly Period[]): PeriodPlan {
  const baseMs = basePeriodMs(periods);
  const built = [...new Set([baseMs, ...periods.map((p) => p.ms)])].sort((a, b) => a - b);
  const chain = built.map((ms, i) => {
    if (i === 0) return { ms, sourceMs: null };
    const divisors = built.slice(0, i).filter((d) => ms % d === 0);
    return { ms, sourceMs: divisors[divisors.length - 1] ?? baseMs };
  });
  return { baseMs, periods: [...periods], chain };
}
