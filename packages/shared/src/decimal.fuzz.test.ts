/**
 * The fast paths of decimal.ts (doubles when every digit fits) against a
 * plain BigInt reference, on decimals of every size: equal, always.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParams } from '../../../test/support/fuzz.js';
import { add, compare, mul } from './decimal.js';

/** A canonical decimal: up to 20 digits before the point and 20 after. */
const decimal = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }), fc.integer({ min: 0, max: 20 }))
  .map(([units, scale]) => ref.format(units, scale));

const ref = {
  parse(s: string): [bigint, number] {
    const [i, f = ''] = s.split('.');
    return [BigInt(`${i}${f}`), f.length];
  },
  format(units: bigint, scale: number): string {
    const d = units.toString().padStart(scale + 1, '0');
    const int = d.slice(0, d.length - scale);
    const frac = d.slice(d.length - scale).replace(/0+$/, '');
    return frac ? `${int}.${frac}` : int;
  },
  align(a: string, b: string): [bigint, bigint, number] {
    const [x, sx] = ref.parse(a);
    const [y, sy] = ref.parse(b);
    const s = Math.max(sx, sy);
    return [x * 10n ** BigInt(s - sx), y * 10n ** BigInt(s - sy), s];
  },
};

describe('decimal fast paths', () => {
  it('add, mul and compare equal the BigInt reference', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        const [x, y, s] = ref.align(a, b);
        expect(add(a, b)).toBe(ref.format(x + y, s));
        const [u, su] = ref.parse(a);
        const [v, sv] = ref.parse(b);
        expect(mul(a, b)).toBe(ref.format(u * v, su + sv));
        expect(compare(a, b)).toBe(x < y ? -1 : x > y ? 1 : 0);
      }),
      fuzzParams(20_000),
    );
  });
});
