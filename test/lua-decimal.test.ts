/** The Lua decimal helpers, run in the real Redis, against decimal.ts on random values. */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { decimal } from '@candlestack/shared';
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
