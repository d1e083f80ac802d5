import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CandleShapeError, compareCandles, parsePoloniexCandles, type ExchangeCandle } from './poloniex-candles.js';
import { parseRetryAfter } from './poloniex-http.js';

/** Real answers of `GET /markets/BTC_USDT/candles`, kept verbatim outside the repository (shared/data/poloniex). */
const RECORDING = new URL('../../../../shared/data/poloniex/rest-v3-btc_usdt.json', import.meta.url);
const recorded = (JSON.parse(readFileSync(RECORDING, 'utf8')) as Record<string, { GET: { queryString: string; data: unknown }[] }>)['/markets/BTC_USDT/candles']!.GET;

const ours = (c: Partial<ExchangeCandle> = {}) => ({
  time: 1720120800000,
  open: '0.000004964',
  high: '0.000005001',
  low: '0.000004964',
  close: '0.000004997',
  volume: '45238739',
  quoteVolume: '225.870214421',
  trades: 14,
  ...c,
});

describe('parsePoloniexCandles', () => {
  it('reads the recorded rows: quantity is the base volume, amount the quote volume, tradeCount the trades', () => {
    const [first] = parsePoloniexCandles(recorded[0]!.data, 300_000);
    expect(first).toEqual(ours());
    for (const { data } of recorded) {
      const rows = data as unknown[][];
      const parsed = parsePoloniexCandles(data);
      expect(parsed.length).toBe(rows.length);
      parsed.forEach((c, i) => {
        // amount = quantity x weightedAverage: amount is in the quote currency.
        const wavg = Number(rows[i]![10]);
        expect(Math.abs(Number(c.quoteVolume) - Number(c.volume) * wavg) / Number(c.quoteVolume)).toBeLessThan(0.01);
        expect(rows[i]![13]).toBe(c.time + (rows[i]![11] === 'HOUR_1' ? 3_600_000 : 300_000) - 1);
        expect(c.trades).toBeGreaterThan(0);
      });
    }
  });

  it('refuses what is not a candles answer', () => {
    expect(() => parsePoloniexCandles({ code: 500, message: 'System error' })).toThrow(CandleShapeError);
    expect(() => parsePoloniexCandles([[1, 2, 3]])).toThrow(CandleShapeError);
    const row = [...(recorded[0]!.data as unknown[][])[0]!];
    row[3] = 4.997e-6;
    expect(() => parsePoloniexCandles([row])).toThrow(/close is not a decimal string/);
    expect(() => parsePoloniexCandles(recorded[0]!.data, 7 * 60_000)).toThrow(/not a multiple/);
  });
});

describe('compareCandles', () => {
  it('is equal field by field as exact decimals, whatever the trailing zeros', () => {
    expect(compareCandles(ours(), ours())).toEqual({ result: 'equal', fields: [] });
    expect(compareCandles(ours({ volume: '45238739.000' }), ours())).toEqual({ result: 'equal', fields: [] });
  });

  it('names every field that differs', () => {
    expect(compareCandles(ours(), ours({ close: '0.000004998' }))).toEqual({ result: 'differs', fields: ['close'] });
    expect(compareCandles(ours(), ours({ trades: 15, quoteVolume: '1' }))).toEqual({ result: 'differs', fields: ['quoteVolume', 'trades'] });
  });

  it('takes a bucket the exchange leaves out, or lists with no trade, as agreeing with our flat candle', () => {
    const flat = ours({ open: '5', high: '5', low: '5', close: '5', volume: '0', quoteVolume: '0', trades: 0 });
    expect(compareCandles(flat, undefined).result).toBe('equal');
    expect(compareCandles(flat, { ...flat, open: '0', high: '0', low: '0', close: '0' }).result).toBe('equal');
    expect(compareCandles(flat, flat).result).toBe('equal');
    expect(compareCandles(flat, { ...flat, close: '6' })).toEqual({ result: 'differs', fields: ['close'] });
    expect(compareCandles(ours(), undefined)).toEqual({ result: 'differs', fields: ['trades', 'volume', 'quoteVolume'] });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
