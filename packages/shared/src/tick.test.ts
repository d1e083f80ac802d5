import { describe, expect, it } from 'vitest';
import { TickError, toTick } from './tick.js';

const good = { pair: 'btc-usdt', time: 1_700_000_000_123, price: '37012.50', quantity: '0.0100', side: 'SELL', id: '42' };

describe('toTick', () => {
  it('normalises a good trade and computes the quote amount exactly', () => {
    expect(toTick(good)).toEqual({ pair: 'BTC_USDT', time: 1_700_000_000_123, price: '37012.5', quantity: '0.01', amount: '370.125', side: 'sell', id: '42' });
    expect(toTick({ ...good, amount: '370.13', side: undefined, time: '2023-11-14T22:13:20.123Z' })).toEqual({
      pair: 'BTC_USDT', time: 1_700_000_000_123, price: '37012.5', quantity: '0.01', amount: '370.13', id: '42',
    });
    expect(toTick({ ...good, price: 0.1, quantity: 3, id: 7 }).amount).toBe('0.3');
  });
  it('reads a time without an offset as UTC, whatever the host zone (tests run in New York)', () => {
    for (const time of ['2023-11-14T22:13:20.123', '2023-11-14T22:13:20.123Z', '2023-11-14T17:13:20.123-05:00', '1700000000123', 1_700_000_000_123]) {
      expect(toTick({ ...good, time }).time, String(time)).toBe(1_700_000_000_123);
    }
  });
  it('rejects every malformed field with a reason', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ pair: 'BTCUSDT' }, /not a pair/],
      [{ pair: undefined }, /pair is missing/],
      [{ time: 1_700_000_000 }, /between 2000 and 2100/],
      [{ time: 'yesterday' }, /^time "yesterday" is not ms \/ ISO 8601$/],
      // Date.parse reads these as Mar 1 and Jan 2.
      [{ time: '2024-02-30T00:00:00Z' }, /^time "2024-02-30T00:00:00Z" is not ms \/ ISO 8601$/],
      [{ time: '2024-01-01T24:00:00Z' }, /is not ms \/ ISO 8601/],
      [{ time: '1999-12-31T23:59:59Z' }, /between 2000 and 2100/],
      [{ time: true }, /^time is missing or not ms \/ ISO 8601$/],
      [{ price: '-1' }, /price/],
      [{ price: '0' }, /price is zero/],
      [{ price: 'NaN' }, /price/],
      [{ price: '1e400' }, /out of range/],
      [{ quantity: '0.0000000000000000000000001' }, /out of range/],
      [{ quantity: null }, /quantity/],
      [{ side: 'long' }, /side/],
      [{ side: 1 }, /side/],
      // As JSON.parse makes it: String() of it throws a TypeError, not a TickError.
      [{ side: JSON.parse('{"toString":1}') as unknown }, /side/],
      [{ id: 'x'.repeat(100_000) }, /^id "x{63} is not a plain trade id$/],
      [{ id: '' }, /id/],
      [{ id: 'a"b' }, /id/],
      [{ id: { x: 1 } }, /id/],
    ];
    for (const [patch, reason] of bad) {
      expect(() => toTick({ ...good, ...patch } as never), JSON.stringify(patch)).toThrow(TickError);
      expect(() => toTick({ ...good, ...patch } as never)).toThrow(reason);
    }
  });
});
