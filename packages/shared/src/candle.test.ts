import { describe, expect, it } from 'vitest';
import { applyTick, candlesFromTicks, compareIds, flatCandle, rollUp, type StoredCandle, type Tick } from './candle.js';

/** A second, independent way to fold: sort, then fixed-point BigInt sums. */
function naive(ticks: Tick[], bucket: number) {
  const sorted = [...ticks].sort((a, b) => a.time - b.time || (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  const fx = (s: string) => BigInt(Math.round(Number(s) * 1e8)); // inputs have at most 8 decimals
  const show = (n: bigint) => {
    const s = n.toString().padStart(9, '0');
    return `${s.slice(0, -8)}.${s.slice(-8)}`.replace(/\.?0+$/, '') || '0';
  };
  const prices = sorted.map((t) => fx(t.price));
  return {
    time: bucket,
    open: sorted[0]!.price,
    high: show(prices.reduce((a, b) => (b > a ? b : a))),
    low: show(prices.reduce((a, b) => (b < a ? b : a))),
    close: sorted[sorted.length - 1]!.price,
    volume: show(sorted.reduce((a, t) => a + fx(t.quantity), 0n)),
    trades: sorted.length,
  };
}

function randomTicks(n: number, seed: number): Tick[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: Tick[] = [];
  for (let i = 0; i < n; i++) {
    const price = (1 + Math.floor(rnd() * 1e7) / 1e4).toFixed(4).replace(/\.?0+$/, '');
    const quantity = (Math.floor(rnd() * 1e8 + 1) / 1e8).toFixed(8).replace(/\.?0+$/, '');
    out.push({ pair: 'A_B', time: 1_700_000_000_000 + Math.floor(rnd() * 600_000), price, quantity, amount: '1', id: String(1000 + i) });
  }
  // Arrival order is not trade order.
  return out.sort(() => rnd() - 0.5);
}

describe('candle fold', () => {
  it('equals an independent reference on thousands of random trades in random order', () => {
    const ticks = randomTicks(5000, 7);
    for (const ms of [1000, 60_000, 300_000]) {
      const byBucket = new Map<number, Tick[]>();
      for (const t of ticks) {
        const b = Math.floor(t.time / ms) * ms;
        byBucket.set(b, [...(byBucket.get(b) ?? []), t]);
      }
      const folded = new Map<number, StoredCandle>();
      for (const t of ticks) {
        const b = Math.floor(t.time / ms) * ms;
        folded.set(b, applyTick(folded.get(b), t, b));
      }
      for (const [b, ts] of byBucket) {
        const c = folded.get(b)!;
        expect({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, trades: c.trades }).toEqual(naive(ts, b));
      }
    }
  });

  it('orders by time, then id (numerically when both are digits)', () => {
    expect(compareIds('9', '10')).toBe(-1);
    expect(compareIds('010', '9')).toBe(1);
    expect(compareIds('b', 'a')).toBe(1);
    const t = (time: number, id: string, price: string): Tick => ({ pair: 'A_B', time, id, price, quantity: '1', amount: price });
    let c = applyTick(undefined, t(5, '10', '2'), 0);
    c = applyTick(c, t(5, '9', '1'), 0);
    c = applyTick(c, t(5, '11', '3'), 0);
    expect([c.open, c.close]).toEqual(['1', '3']);
  });

  it('fills buckets without trades with flat candles at the previous close', () => {
    const t = (time: number, price: string): Tick => ({ pair: 'A_B', time, id: String(time), price, quantity: '0.5', amount: '1' });
    const cs = candlesFromTicks([t(1000, '10'), t(1500, '12'), t(4200, '11')], 1000);
    expect(cs.map((c) => [c.time, c.open, c.close, c.trades, c.volume])).toEqual([
      [1000, '10', '12', 2, '1'],
      [2000, '12', '12', 0, '0'],
      [3000, '12', '12', 0, '0'],
      [4000, '11', '11', 1, '0.5'],
    ]);
    expect(flatCandle(2000, '12')).toMatchObject({ open: '12', high: '12', low: '12', close: '12', volume: '0', quoteVolume: '0', trades: 0 });
  });

  it('rolls up: open from the first traded part, flat parts only for an all-flat bucket', () => {
    const ticks = randomTicks(3000, 11);
    const ones = candlesFromTicks(ticks, 60_000);
    const fives = candlesFromTicks(ticks, 300_000);
    for (const five of fives) {
      const parts = ones.filter((c) => c.time >= five.time && c.time < five.time + 300_000);
      const { ot: _a, oi: _b, ct: _c, ci: _d, ...expected } = five;
      expect(rollUp(five.time, parts)).toEqual(expected);
    }
    expect(rollUp(0, [flatCandle(0, '5'), flatCandle(60_000, '5')])).toEqual(flatCandle(0, '5'));
    const traded = applyTick(undefined, { pair: 'A_B', time: 70_000, id: '1', price: '7', quantity: '1', amount: '7' }, 60_000);
    expect(rollUp(0, [flatCandle(0, '5'), traded]).open).toBe('7');
  });
});
