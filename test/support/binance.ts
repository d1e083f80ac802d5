/** The recorded Binance XRP/ETH trades and klines of ../shared/data/binance. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { canonical, decimal, type StoredCandle, type Tick } from '@candlestack/shared';

export const SHARED_DATA = new URL('../../../shared/data/', import.meta.url);

export function binanceTicks(pair = 'XRP_ETH'): Tick[] {
  const raw = JSON.parse(gunzipSync(readFileSync(new URL('binance/XRP_ETH-trades.json.gz', SHARED_DATA))).toString()) as [
    number,
    string,
    null,
    'buy' | 'sell',
    number,
    number,
    number,
  ][];
  return raw.map(([time, id, , side, price, qty]) => {
    const p = canonical(price);
    const q = canonical(qty);
    return { pair, time, id, side, price: p, quantity: q, amount: decimal.mul(p, q) };
  });
}

/** Binance's own klines: [openTime, open, high, low, close, baseVolume]. */
export function binanceKlines(period: '1m' | '5m'): Pick<StoredCandle, 'time' | 'open' | 'high' | 'low' | 'close' | 'volume'>[] {
  const raw = JSON.parse(readFileSync(new URL(`binance/XRP_ETH-${period}.json`, SHARED_DATA), 'utf8')) as number[][];
  return raw.map(([time, o, h, l, c, v]) => ({
    time: time!,
    open: canonical(o!),
    high: canonical(h!),
    low: canonical(l!),
    close: canonical(c!),
    volume: canonical(v!),
  }));
}
