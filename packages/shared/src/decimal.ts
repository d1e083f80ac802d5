/**
 * Exact decimal arithmetic on the strings exchanges send.
 *
 * Prices and volumes never pass through a binary float: a decimal string is
 * read as a BigInt of units and a scale (number of fraction digits), summed
 * exactly and written back in canonical form (no exponent, no leading zeros,
 * no trailing fraction zeros, "0" for zero). The Lua scripts that fold ticks
 * inside Redis rely on that canonical form (see lua/includes/decimal.lua).
 */

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
/** Already canonical: no leading zeros, no trailing fraction zeros, no empty parts. */
const CANONICAL = /^(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;

interface Scaled {
  readonly units: bigint;
  readonly scale: number;
}

export class DecimalError extends Error {}

/** True when `s` is a plain non-negative decimal such as "0.5", "12", "3.10". */
export function isDecimal(s: string): boolean {
  return DECIMAL.test(s);
}

/**
 * Canonical form of a non-negative decimal: "007.500" -> "7.5", "0.0" -> "0".
 * Accepts a number only when it prints without an exponent (JSON feeds
 * sometimes send small integers as numbers).
 */
export function canonical(value: string | number): string {
  // Fast path: most exchange decimals are canonical already.
  if (typeof value === 'string' && CANONICAL.test(value)) return value;
  let s = typeof value === 'number' ? numberToDecimal(value) : expandExponent(value.trim());
  if (!DECIMAL.test(s)) throw new DecimalError(`not a decimal: ${JSON.stringify(value)}`);
  if (s.startsWith('.')) s = `0${s}`;
  let [int = '0', frac = ''] = s.split('.');
  int = int.replace(/^0+(?=\d)/, '');
  frac = frac.replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}

/** Numbers are read by their shortest round-trip text (0.1 -> "0.1"). */
function numberToDecimal(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new DecimalError(`not a non-negative finite number: ${n}`);
  return expandExponent(String(n));
}

const EXPONENT = /^(\d+)(?:\.(\d*))?e([+-]?\d{1,3})$/i;

/** "1.5e-7" -> "0.00000015", exactly, by moving the point. */
function expandExponent(s: string): string {
  const m = EXPONENT.exec(s);
  if (!m) return s;
  const int = m[1]!;
  const frac = m[2] ?? '';
  const exp = Number(m[3]);
  const digits = int + frac;
  const point = int.length + exp;
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}

function parse(s: string): Scaled {
  const c = canonical(s);
  const [int, frac = ''] = c.split('.');
  return { units: BigInt(`${int}${frac}`), scale: frac.length };
}

function format({ units, scale }: Scaled): string {
  const digits = units.toString().padStart(scale + 1, '0');
  if (scale === 0) return digits;
  return canonical(`${digits.slice(0, -scale)}.${digits.slice(-scale)}`);
}

function align(a: Scaled, b: Scaled): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  const up = (x: Scaled) => x.units * 10n ** BigInt(scale - x.scale);
  return [up(a), up(b), scale];
}

/**
 * Canonical `s` as an integer of units and a scale, when the units are
 * exact in a double (at most 15 digits); undefined otherwise.
 */
function small(s: string): { units: number; scale: number } | undefined {
  if (s.length > 16 || !PLAIN.test(s)) return undefined;
  const dot = s.indexOf('.');
  if ((dot < 0 ? s.length : s.length - 1) > 15) return undefined;
  if (dot < 0) return { units: Number(s), scale: 0 };
  const scale = s.length - dot - 1;
  // Exact: the units are below 10^15, so the double's error (a few parts
  // in 10^16 from the parse and the product) stays under 0.5.
  return { units: Math.round(Number(s) * POW10[scale]!), scale };
}

const PLAIN = /^\d+(?:\.\d+)?$/;
const POW10 = Array.from({ length: 31 }, (_, i) => 10 ** i);

/** `units / 10^scale` written canonically (units a non-negative safe integer). */
export function formatUnits(units: number, scale: number): string {
  return formatSmall(units, scale);
}

/** `units / 10^scale` written canonically (units a safe integer). */
function formatSmall(units: number, scale: number): string {
  if (scale === 0) return String(units);
  let digits = String(units);
  if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
  const int = digits.slice(0, digits.length - scale);
  let frac = digits.slice(digits.length - scale);
  let end = frac.length;
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end--;
  frac = frac.slice(0, end);
  return frac ? `${int}.${frac}` : int;
}

/** Exact sum of canonical non-negative decimal strings. */
export function add(a: string, b: string): string {
  if (a === '0') return canonical(b);
  if (b === '0') return canonical(a);
  // Fast path: both fit a double once aligned, and so does the sum.
  const x = small(a);
  const y = small(b);
  if (x && y) {
    const scale = Math.max(x.scale, y.scale);
    const u = x.units * POW10[scale - x.scale]! + y.units * POW10[scale - y.scale]!;
    if (Number.isSafeInteger(u) && scale <= 30) return formatSmall(u, scale);
  }
  const [p, q, scale] = align(parse(a), parse(b));
  return format({ units: p + q, scale });
}

/** Exact sum of many decimal strings ("0" for none). */
export function sum(values: Iterable<string>): string {
  let acc: Scaled = { units: 0n, scale: 0 };
  for (const v of values) {
    const [x, y, scale] = align(acc, parse(v));
    acc = { units: x + y, scale };
  }
  return format(acc);
}

/** Exact product, e.g. price x quantity = quote amount. */
export function mul(a: string, b: string): string {
  return mulCanonical(canonical(a), canonical(b));
}

/** mul() of decimals already canonical (toTick's), without checking them again. */
export function mulCanonical(a: string, b: string): string {
  const fx = small(a);
  const fy = small(b);
  if (fx && fy) {
    const u = fx.units * fy.units;
    if (Number.isSafeInteger(u)) return formatSmall(u, fx.scale + fy.scale);
  }
  const x = parse(a);
  const y = parse(b);
  return format({ units: x.units * y.units, scale: x.scale + y.scale });
}

/** -1, 0 or 1, comparing values (so "1.50" equals "1.5"). */
export function compare(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  // Fast path: distinct decimals of at most 15 significant digits are
  // distinct doubles in the same order (DBL_DIG is 15).
  if (a.length <= 16 && b.length <= 16) {
    const x = Number(a);
    const y = Number(b);
    if (x !== y && Number.isFinite(x) && Number.isFinite(y)) return x < y ? -1 : 1;
  }
  const [x, y] = align(parse(a), parse(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function max(a: string, b: string): string {
  return compare(a, b) >= 0 ? a : b;
}

export function min(a: string, b: string): string {
  return compare(a, b) <= 0 ? a : b;
}

/** True when the decimal is zero. */
export function isZero(a: string): boolean {
  return canonical(a) === '0';
}

/** Value times 10^-places, rounded half-up to `places` fraction digits (for display only). */
export function round(a: string, places: number): string {
  const x = parse(a);
  if (x.scale <= places) return format(x);
  const drop = 10n ** BigInt(x.scale - places);
  const units = (x.units + drop / 2n) / drop;
  return format({ units, scale: places });
}
