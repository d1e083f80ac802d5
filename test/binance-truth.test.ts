/**
 * Ground truth on real data: Binance's XRP/ETH trades, stored and closed by
 * the Lua scripts in a real Redis as a finished replay, must give exactly
 * Binance's own 1m and 5m klines, flat ones included.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandleStore, Keys, closeLimits, parsePeriods, planPeriods, type StoredCandle } from '@candlestack/shared';
import { binanceKlines, binanceTicks } from './support/binance.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';

const prefix = testPrefix('binance');
const redis = new Redis(TEST_REDIS_URL);
const plan = planPeriods(parsePeriods('1m,5m'));
const store = new CandleStore(redis, new Keys(prefix), plan);

const kline = (c: StoredCandle) => ({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });

beforeAll(async () => {
  const ticks = binanceTicks();
  for (let i = 0; i < ticks.length; i += 500) await store.addTicks('XRP_ETH', ticks.slice(i, i + 500));
  const last = ticks[ticks.length - 1]!.time;
  await store.closePair('XRP_ETH', closeLimits(plan, { source: 'replay', replayTime: last, done: true }, 2000));
});
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('Binance XRP/ETH replay', () => {
  for (const period of ['1m', '5m'] as const) {
    it(`gives Binance's own ${period} klines`, async () => {
      const expected = binanceKlines(period);
      const ms = period === '1m' ? 60_000 : 300_000;
      const got = await store.closedCandles('XRP_ETH', ms, { limit: 10_000, from: 0 });
      expect(got.length).toBe(expected.length);
      expect(got.map(kline)).toEqual(expected);
      expect(got.filter((c) => c.trades === 0).length).toBe(period === '1m' ? 1091 : expected.filter((k) => k.volume === '0').length);
    });
  }
});
