/**
 * A small recorded market for BTC_USDT: 12 minutes from 2024-01-01T00:00Z,
 * trades in every minute but the 4th and 5th (flat candles), replayed and
 * closed as far as its clock allows, so the last minute (and the last 5m
 * bucket) is still forming.
 */
import {
  candlesFromTicks,
  canonical,
  closeLimits,
  decimal,
  toCandle,
  type Candle,
  type SourceClock,
  type Tick,
} from '@candlestack/shared';
import type { TestApi } from './helpers.js';

export const PAIR = 'BTC_USDT';
export const T0 = Date.UTC(2024, 0, 1);
export const MIN = 60_000;

export function marketTicks(): Tick[] {
  const ticks: Tick[] = [];
  let id = 1000;
  for (let m = 0; m < 12; m++) {
    if (m === 3 || m === 4) continue;
    for (let k = 0; k < 4; k++) {
      // Decimal strings built as text: no binary float on the way.
      const price = canonical(`${42000 + ((m * 7 + k * 5) % 13)}.${(m + 3 * k) % 10}5`);
      const quantity = canonical(`0.0${k + 1}2`);
      ticks.push({
        pair: PAIR,
        time: T0 + m * MIN + k * 13_000 + (m % 3) * 1000,
        price,
        quantity,
        amount: decimal.mul(price, quantity),
        side: k % 2 ? 'buy' : 'sell',
        id: String(id++),
      });
    }
  }
  return ticks;
}

export const TICKS = marketTicks();
/** The replay's clock: its latest trade, 00:11:41. */
export const NOW = TICKS[TICKS.length - 1]!.time;
export const CLOCK: SourceClock = { source: 'replay', replayTime: NOW, done: false };

/** Stores the market as the ingester and worker would, ticks twice (deduplicated). */
export async function seedMarket(t: TestApi): Promise<void> {
  await t.store.registerPairs([PAIR, 'ETH_USDT']);
  await t.store.addTicks(PAIR, [...TICKS].reverse());
  await t.store.addTicks(PAIR, TICKS.slice(0, 6));
  await t.redis.hset(t.keys.clock(), { source: 'replay', time: NOW, done: 0 });
  await t.store.closePair(PAIR, closeLimits(t.store.plan, CLOCK, t.config.GRACE_MS));
}

/** What the API must answer, folded independently from the ticks. */
export function expectedCandles(periodMs: number): Candle[] {
  const limit = closeLimits({ baseMs: MIN, periods: [], chain: [{ ms: periodMs, sourceMs: null }] }, CLOCK, 2000).get(periodMs)!;
  return candlesFromTicks(TICKS, periodMs).map((c) => toCandle(c, c.time <= limit));
}
