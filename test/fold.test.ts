/**
 * The production fold (packages/shared/src/fold.ts, in the ingester) against
 * the reference fold of candle.ts on random trades, and its encoding
 * against the Lua store's own (enc() of lua/includes/candle.lua), byte for
 * byte: the store compares and cuts stored candles as text.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TradeBatch, candlesFromTicks, decimal, encodeStored, foldBatch, packTrades, unpackTrades, writeUnits, type Tick } from '@candlestack/shared';
import { fuzzParams } from './support/fuzz.js';
import { TEST_REDIS_URL } from './support/redis.js';

const redis = new Redis(TEST_REDIS_URL);
afterAll(() => redis.disconnect());

const T0 = Date.UTC(2024, 0, 1);
/**
 * Decimals that fit a double's exact integers (the fast path), 16-digit
 * integers past 2^53 (distinct decimals, one double), and long ones that do
 * not fit (24 digits a side).
 */
const dec = fc.oneof(
  { weight: 1, arbitrary: fc.bigInt({ min: 9_007_199_254_740_990n, max: 9_007_199_254_741_010n }).map(String) },
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 99_999_999 })).map(([i, f]) => (f === 0 ? `${i + 1}` : `${i}.${String(f).replace(/0+$/, '')}`)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.bigInt({ min: 1n, max: 10n ** 24n - 1n }), fc.integer({ min: 0, max: 24 }))
      .map(([u, scale]) => {
        const d = u.toString().padStart(scale + 1, '0');
        const int = d.slice(0, d.length - scale).replace(/^0+(?=\d)/, '');
        const frac = d.slice(d.length - scale).replace(/0+$/, '');
        return frac ? `${int}.${frac}` : int;
      }),
  },
);
const tick = fc.record({
  // Often the same few instants: ties broken by id.
  time: fc.oneof(fc.integer({ min: T0, max: T0 + 600_000 }), fc.constantFrom(T0, T0 + 1, T0 + 60_000)),
  price: dec,
  quantity: dec,
  amount: dec,
  side: fc.constantFrom<'buy' | 'sell' | undefined>('buy', 'sell', undefined),
  id: fc.integer({ min: 1, max: 1e12 }).map(String),
});

describe('the production fold', () => {
  it('equals the reference fold, bucket by bucket, on random trades in random order', () => {
    fc.assert(
      fc.property(fc.array(tick, { minLength: 1, maxLength: 300 }), (raw) => {
        const ticks: Tick[] = raw.map((t) => ({ pair: 'A_B', ...t, ...(t.side === undefined && { side: undefined }) })).map(({ side, ...t }) => (side ? { ...t, side } : t));
        const folded = foldBatch(ticks, 60_000).sort((a, b) => a.time - b.time);
        expect(folded).toEqual(candlesFromTicks(ticks, 60_000).filter((c) => c.trades > 0));
        expect(unpackTrades(packTrades(ticks))).toEqual(ticks.map(({ pair: _p, amount: _a, ...t }) => t));
        // The ingester's way: folded and packed one trade at a time, from a
        // small buffer that has to grow; the trades come back whole.
        const batch = new TradeBatch(60_000, 8);
        for (const t of ticks) batch.push(t);
        expect(batch.count).toBe(ticks.length);
        expect(batch.maxTime).toBe(Math.max(...ticks.map((t) => t.time)));
        expect(batch.packed().toString('latin1')).toBe(packTrades(ticks));
        expect(batch.candles().sort((a, b) => a.time - b.time)).toEqual(folded);
        // Rolled up into longer periods (per bucket), it is the reference fold of those periods.
        for (const ms of [300_000, 3_600_000]) {
          expect(batch.candles(ms).sort((a, b) => a.time - b.time)).toEqual(candlesFromTicks(ticks, ms).filter((c) => c.trades > 0));
        }
        const args: (string | number | Buffer)[] = [];
        batch.encodedCandles(args, [300_000, 3_600_000]);
        const pairs = (ms?: number) => batch.candles(ms).flatMap((c) => [c.time, encodeStored(c)]);
        expect(args.map((a) => (Buffer.isBuffer(a) ? a.toString('latin1') : a))).toEqual([
          2,
          300_000,
          batch.candles(300_000).length,
          ...pairs(300_000),
          3_600_000,
          batch.candles(3_600_000).length,
          ...pairs(3_600_000),
          ...pairs(),
        ]);
        // The base's own candles are left as they were by the roll-ups.
        expect(batch.candles().sort((a, b) => a.time - b.time)).toEqual(folded);
        expect(batch.ticks('A_B')).toEqual(ticks);
      }),
      fuzzParams(300),
    );
  });

  it('writes units as formatUnits does, for every safe integer and scale (fuzzed)', () => {
    const units = fc.oneof(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0, max: 2 ** 32 }),
      fc.constantFrom(0, 1, 9, 10, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 1e8, 1e8 - 1, 1e16, Number.MAX_SAFE_INTEGER, 1_704_067_200_000),
    );
    fc.assert(
      fc.property(units, fc.integer({ min: 0, max: 30 }), fc.nat(8), (u, scale, at) => {
        const b = Buffer.alloc(at + 64, 0x78);
        const end = writeUnits(b, at, u, scale);
        expect(b.toString('latin1', at, end)).toBe(decimal.formatUnits(u, scale));
        expect(b[end]).toBe(0x78);
      }),
      fuzzParams(2000),
    );
  });

  it('encodes a candle exactly as the Lua store does', async () => {
    const lib = ['decimal', 'candle'].map((n) => readFileSync(new URL(`../packages/shared/src/lua/includes/${n}.lua`, import.meta.url), 'utf8')).join('\n');
    const script = `${lib}\nlocal out = {}\nfor i = 1, #ARGV do out[i] = enc(cjson.decode(ARGV[i])) end\nreturn out`;
    const candles = fc.sample(fc.array(tick, { minLength: 1, maxLength: 50 }), { numRuns: 50, seed: fuzzParams(1).seed }).flatMap((raw) => foldBatch(raw.map((t) => ({ pair: 'A_B', ...t })) as Tick[], 60_000));
    const texts = candles.map(encodeStored);
    expect(await redis.eval(script, 0, ...texts)).toEqual(texts);
  });
});

describe("a batch's summary for the script", () => {
  const tick = (id: string, time: number): Tick => ({ pair: 'A_B', time, id, price: '1', quantity: '1', amount: '1' });
  it('gives the count, the time bounds and the integer ids as sorted runs', () => {
    const b = TradeBatch.of([tick('12', 5), tick('10', 9), tick('11', 7), tick('20', 3), tick('13', 4)], 60_000);
    expect(b.summary()).toBe('5:3:9;10:13:9;20:20:3');
  });
  it('is empty when an id is not an integer the script keeps in ranges, or two trades share one', () => {
    for (const id of ['a1', '007', '1234567890123456', '']) expect(TradeBatch.of([tick('1', 1), tick(id, 2)], 60_000).summary()).toBe('');
    expect(TradeBatch.of([tick('1', 1), tick('2', 2), tick('1', 3)], 60_000).summary()).toBe('');
    expect(TradeBatch.of([tick('0', 1), tick('999999999999999', 2)], 60_000).summary()).toBe('2:1:2;0:0:1;999999999999999:999999999999999:2');
  });
});
