/** The Lua decimal helpers, run in the real Redis, against decimal.ts on random values. */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decimal } from '@candlestack/shared';
import { fuzzParams } from './support/fuzz.js';
import { TEST_REDIS_URL } from './support/redis.js';

const redis = new Redis(TEST_REDIS_URL);
afterAll(() => redis.disconnect());
const lib = readFileSync(new URL('../packages/shared/src/lua/includes/decimal.lua', import.meta.url), 'utf8');
const script = `${lib}
local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = dadd(ARGV[i], ARGV[i + 1])
  out[#out + 1] = tostring(dcmp(ARGV[i], ARGV[i + 1]))
end
return out`;
/** dsum over each call's arguments at once. */
const sumScript = `${lib}
return dsum(ARGV)`;

function randomDecimal(rnd: () => number): string {
  const intDigits = Math.floor(rnd() * 22);
  const fracDigits = Math.floor(rnd() * 20);
  let int = '';
  for (let i = 0; i < intDigits; i++) int += Math.floor(rnd() * 10);
  let frac = '';
  for (let i = 0; i < fracDigits; i++) frac += Math.floor(rnd() * 10);
  return decimal.canonical(`${int || '0'}${frac ? `.${frac}` : ''}`);
}

describe('Lua decimal arithmetic', () => {
  it('adds and compares exactly like decimal.ts, on short and long numbers', async () => {
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pairs: [string, string][] = [['0.1', '0.2'], ['999999999999999', '1'], ['0.000000000000000001', '99999999999999999999'], ['5', '5.0000000000000001'], ['0', '0']];
    for (let i = 0; i < 3000; i++) pairs.push([randomDecimal(rnd), randomDecimal(rnd)]);
    const out = (await redis.eval(script, 0, ...pairs.flat())) as string[];
    pairs.forEach(([a, b], i) => {
      expect(out[2 * i], `${a} + ${b}`).toBe(decimal.add(a, b));
      expect(Number(out[2 * i + 1]), `${a} <=> ${b}`).toBe(decimal.compare(a, b));
    });
  });
});

describe('Lua decimal fast path', () => {
  it('dsum sums a list like decimal.ts, short numbers and long (fast-check)', async () => {
    const any = fc.oneof(fc.constantFrom('0.1', '0.2', '999999999999999', '0.000000000000001', '123456789012345678901234.5'), fc.bigInt({ min: 1n, max: 10n ** 18n }).chain((u) => fc.integer({ min: 0, max: 20 }).map((s) => decimal.canonical(`${u.toString().padStart(s + 1, '0').slice(0, -s || undefined)}${s ? `.${u.toString().padStart(s + 1, '0').slice(-s)}` : ''}`))));
    await fc.assert(
      fc.asyncProperty(fc.array(any, { minLength: 1, maxLength: 40 }), async (values) => {
        expect(await redis.eval(sumScript, 0, ...values)).toBe(decimal.sum(values));
      }),
      fuzzParams(300),
    );
  });
  /** Decimals of 1 to 16 digits, where the double fast paths of dadd and dcmp apply, and just past them. */
  const short = fc
    .tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 16 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 16, maxLength: 16 }))
    .map(([digits, point, ds]) => {
      const text = ds.slice(0, digits).join('');
      const at = Math.max(0, digits - Math.min(point, digits));
      return decimal.canonical(at === 0 ? `0.${text}` : `${text.slice(0, at)}.${text.slice(at)}`.replace(/\.$/, ''));
    });
  it('adds and compares like decimal.ts (fast-check, batches of pairs in one script call)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(short, short), { minLength: 50, maxLength: 200 }), async (pairs) => {
        const all = [...pairs, ['999999999999999', '1'], ['0.000000000000001', '0.1'], ['4503599627370495', '4503599627370497']] as [string, string][];
        const out = (await redis.eval(script, 0, ...all.flat())) as string[];
        all.forEach(([a, b], i) => {
          expect(out[2 * i], `${a} + ${b}`).toBe(decimal.add(a, b));
          expect(Number(out[2 * i + 1]), `${a} <=> ${b}`).toBe(decimal.compare(a, b));
        });
      }),
      fuzzParams(100),
    );
  });
});
