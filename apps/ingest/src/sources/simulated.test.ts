import { describe, expect, it } from 'vitest';
import { candlesFromTicks, toTick } from '@candlestack/shared';
import { SimulatedSource } from './simulated.js';

function run(seed: number, steps = 2000) {
  const src = new SimulatedSource({ pairs: ['BTC_USDT', 'ETH_USDT'], seed, rate: 20 });
  const out = [];
  for (let i = 0; i < steps; i++) out.push(...src.step(1_700_000_000_000 + i * 50));
  return out;
}

describe('simulated market', () => {
  it('is seeded: the same seed gives the same prices and sizes', () => {
    const strip = (ts: ReturnType<typeof run>) => ts.map((t) => [t.pair, t.time, t.price, t.quantity, t.side]);
    expect(strip(run(7, 200))).toEqual(strip(run(7, 200)));
    expect(strip(run(7, 200))).not.toEqual(strip(run(8, 200)));
  });

  it('gives valid trades at about SIM_RATE per second, with real-market decimals and consecutive ids', () => {
    const trades = run(1);
    const ticks = trades.map(toTick);
    for (const pair of ['BTC_USDT', 'ETH_USDT']) {
      const mine = ticks.filter((t) => t.pair === pair);
      const perSecond = mine.length / 100;
      expect(perSecond).toBeGreaterThan(5);
      expect(perSecond).toBeLessThan(80);
      expect(mine.every((t) => /^\d+(\.\d{1,2})?$/.test(t.price))).toBe(true);
      const ids = mine.map((t) => BigInt(t.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]! - ids[i - 1]!).toBe(1n);
      // Times rise with ids, as on an exchange.
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.time).toBeGreaterThanOrEqual(mine[i - 1]!.time);
    }
    expect(ticks.filter((t) => t.pair === 'BTC_USDT').every((t) => /^\d+(\.\d{1,6})?$/.test(t.quantity))).toBe(true);
  });

  it('has bursts and quiet spells and several fills per taker order', () => {
    const ticks = run(3, 20_000).map(toTick).filter((t) => t.pair === 'BTC_USDT');
    const perSecond = candlesFromTicks(ticks, 1000).map((c) => c.trades);
    const max = Math.max(...perSecond);
    const quiet = perSecond.filter((n) => n <= 2).length;
    expect(max).toBeGreaterThan(40);
    expect(quiet).toBeGreaterThan(20);
    const sameMs = ticks.filter((t, i) => i > 0 && t.time === ticks[i - 1]!.time).length;
    expect(sameMs / ticks.length).toBeGreaterThan(0.3);
  });
});
