/**
 * Poloniex's own candles (`GET /markets/{symbol}/candles`, REST v3) and how
 * they compare with ours (docs/audit.md). A row is
 * `[low, high, open, close, amount, quantity, buyTakerAmount,
 * buyTakerQuantity, tradeCount, ts, weightedAverage, interval, startTime,
 * closeTime]`: `quantity` is in the base currency (our `volume`), `amount`
 * in the quote currency (our `quoteVolume`), `tradeCount` our `trades`;
 * the bucket is `[startTime, closeTime]`, `closeTime = startTime + interval - 1`.
 */
import type { Candle, StoredCandle } from './candle.js';
import { canonical, isDecimal } from './decimal.js';
import { getJson } from './poloniex-http.js';

/** Poloniex's candle intervals that are also Candlestack periods (a period must divide a day), by period ms. */
export const POLONIEX_INTERVALS: ReadonlyMap<number, string> = new Map([
  [60_000, 'MINUTE_1'],
  [300_000, 'MINUTE_5'],
  [600_000, 'MINUTE_10'],
  [900_000, 'MINUTE_15'],
  [1_800_000, 'MINUTE_30'],
  [3_600_000, 'HOUR_1'],
  [7_200_000, 'HOUR_2'],
  [14_400_000, 'HOUR_4'],
  [21_600_000, 'HOUR_6'],
  [43_200_000, 'HOUR_12'],
  [86_400_000, 'DAY_1'],
]);

/** The most rows one request returns (Poloniex's `limit` maximum). */
export const POLONIEX_CANDLES_LIMIT = 500;

/** A candle of the exchange, in our field names. */
export type ExchangeCandle = Omit<Candle, 'closed'>;

export class CandleShapeError extends Error {}

const decimalField = (row: readonly unknown[], i: number, name: string): string => {
  const v = row[i];
  if (typeof v !== 'string' || !isDecimal(v)) throw new CandleShapeError(`candle row field ${name} is not a decimal string: ${JSON.stringify(v)}`);
  return canonical(v);
};

const intField = (row: readonly unknown[], i: number, name: string): number => {
  const v = row[i];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new CandleShapeError(`candle row field ${name} is not a whole number: ${JSON.stringify(v)}`);
  return v;
};

/** The rows of a `GET /markets/{symbol}/candles` answer, oldest first; CandleShapeError when it is not that. */
export function parsePoloniexCandles(body: unknown, intervalMs?: number): ExchangeCandle[] {
  if (!Array.isArray(body)) throw new CandleShapeError(`candles answer is not a list: ${JSON.stringify(body)?.slice(0, 200)}`);
  const out = body.map((row: unknown): ExchangeCandle => {
    if (!Array.isArray(row) || row.length < 13) throw new CandleShapeError(`candle row is not a list of 14 fields: ${JSON.stringify(row)?.slice(0, 200)}`);
    const time = intField(row, 12, 'startTime');
    if (intervalMs !== undefined && time % intervalMs !== 0) throw new CandleShapeError(`candle startTime ${time} is not a multiple of the interval`);
    return {
      time,
      open: decimalField(row, 2, 'open'),
      high: decimalField(row, 1, 'high'),
      low: decimalField(row, 0, 'low'),
      close: decimalField(row, 3, 'close'),
      volume: decimalField(row, 5, 'quantity'),
      quoteVolume: decimalField(row, 4, 'amount'),
      trades: intField(row, 8, 'tradeCount'),
    };
  });
  return out.sort((a, b) => a.time - b.time);
}

export class PoloniexCandles {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * The exchange's candles of `symbol` whose buckets start in `[from, to]`
   * (one request, at most POLONIEX_CANDLES_LIMIT buckets), oldest first.
   * Throws RestError (HTTP, timeout, unreachable; `status` 429 when rate
   * limited) or CandleShapeError.
   */
  async candles(symbol: string, periodMs: number, from: number, to: number): Promise<ExchangeCandle[]> {
    const interval = POLONIEX_INTERVALS.get(periodMs);
    if (!interval) throw new Error(`period ${periodMs} ms is not a Poloniex interval`);
    const limit = Math.min(POLONIEX_CANDLES_LIMIT, Math.floor((to - from) / periodMs) + 1);
    // endTime is the last bucket's closeTime: the window holds whole buckets only.
    const query = `interval=${interval}&startTime=${from}&endTime=${to + periodMs - 1}&limit=${limit}`;
    const url = `${this.baseUrl.replace(/\/+$/, '')}/markets/${encodeURIComponent(symbol)}/candles?${query}`;
    return parsePoloniexCandles(await getJson(url, this.timeoutMs), periodMs).filter((c) => c.time >= from && c.time <= to);
  }
}

export type AuditResult = 'equal' | 'differs' | 'unavailable';

export interface Comparison {
  readonly result: 'equal' | 'differs';
  /** Our field names that differ (empty when equal). */
  readonly fields: readonly string[];
}

const PRICES = ['open', 'high', 'low', 'close'] as const;
const AMOUNTS = ['volume', 'quoteVolume'] as const;

/**
 * Our closed candle against the exchange's for the same bucket (docs/audit.md):
 * prices and volumes as exact decimals, trades as counts. A bucket the
 * exchange does not list, or lists with no trades, agrees with our flat
 * candle (no trades, volumes 0); the prices of such a row are compared only
 * when it gives some (not zero), since a row for a bucket with no trade
 * carries no price of its own.
 */
export function compareCandles(ours: StoredCandle | Candle, theirs: ExchangeCandle | undefined): Comparison {
  if (!theirs) {
    const fields = ours.trades === 0 ? [] : ['trades', ...AMOUNTS.filter((f) => canonical(ours[f]) !== '0')];
    return { result: fields.length === 0 ? 'equal' : 'differs', fields };
  }
  const fields: string[] = [];
  const flatRow = theirs.trades === 0 && PRICES.every((f) => theirs[f] === '0');
  if (!flatRow) for (const f of PRICES) if (canonical(ours[f]) !== theirs[f]) fields.push(f);
  for (const f of AMOUNTS) if (canonical(ours[f]) !== theirs[f]) fields.push(f);
  if (ours.trades !== theirs.trades) fields.push('trades');
  return { result: fields.length === 0 ? 'equal' : 'differs', fields };
}
