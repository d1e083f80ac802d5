/**
 * Seeded randomness for fuzz tests: the same seed gives the same inputs, so
 * a failure is reproduced with FUZZ_SEED=<seed> (the tests print it).
 */

/**
 * The seed to use: FUZZ_SEED; else, under CI, a fixed one (a submission must
 * not pass or fail by luck); else a new one each run, to explore.
 */
export function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  if (given !== undefined && given !== '') return Number(given) >>> 0;
  if (process.env.CI) return 20_261_122;
  return (Math.random() * 2 ** 32) >>> 0;
}

/** mulberry32: small, fast, and good enough to pick test inputs. */
export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A string of `length` characters from `alphabet`. */
  chars(alphabet: string, length: number): string {
    const a = [...alphabet];
    let s = '';
    for (let i = 0; i < length; i++) s += this.pick(a);
    return s;
  }

  /** Any code point but surrogates, weighted towards ASCII. */
  unicode(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) {
      const r = this.next();
      const cp = r < 0.6 ? this.int(0x20, 0x7e) : r < 0.7 ? this.int(0, 0x1f) : r < 0.9 ? this.int(0xa0, 0xd7ff) : this.int(0xe000, 0x10ffff);
      s += String.fromCodePoint(cp);
    }
    return s;
  }
}

/** Values that break careless parsers: numbers at the edges, odd strings, keys that reach prototypes. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '0',
  '-0',
  '-1',
  '1e309',
  '-1e309',
  'NaN',
  'Infinity',
  '0x10',
  '1_000',
  '9007199254740993',
  '99999999999999999999999999999999',
  '0.00000000000000000000000000001',
  '1.',
  '.5',
  '1e-7',
  '１２３',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '\u0000',
  '\uFEFF1',
  '\u202E',
  '😀',
  '%00',
  '%',
  '%zz',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${7*7}',
  'a'.repeat(300),
  '2024-01-01T00:00:00Z',
  '2024-13-45T99:99:99Z',
  '9999-12-31T23:59:59.999Z',
  '0000-01-01T00:00:00Z',
];

/** A hostile value, or random unicode. */
export function hostile(rng: Rng): string {
  return rng.chance(0.7) ? rng.pick(HOSTILE_STRINGS) : rng.unicode(rng.int(0, 40));
}

/** Random JSON-able value, up to `depth` levels of nesting. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const r = rng.next();
  if (depth <= 0 || r < 0.5) {
    return rng.pick<() => unknown>([
      () => null,
      () => rng.chance(0.5),
      () => rng.int(-1e9, 1e9),
      () => rng.pick([0, -0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 1.5, -1]),
      () => hostile(rng),
    ])();
  }
  if (r < 0.75) return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth - 1));
  // No prototype: `o.__proto__ = v` then makes an own key, which JSON.stringify writes.
  const o = Object.create(null) as Record<string, unknown>;
  for (let i = rng.int(0, 5); i > 0; i--) o[rng.chance(0.3) ? rng.pick(['__proto__', 'constructor', 'prototype']) : hostile(rng)] = randomJson(rng, depth - 1);
  return o;
}
