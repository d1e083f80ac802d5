/**
 * The production fold per core (fold.ts foldBatch: the fold TradeBatch.push
 * runs in the ingester, one pair's trades into partial base candles,
 * decimals exact, without the packing for the stream)
 * beside the folds the field uses, over the same trades: ccxt's
 * buildOHLCVC and tardis-dev's computeTradeBars (both on doubles: a sum of
 * prices and sizes drifts by binary rounding, ours does not). CPU time of
 * this process, so trades per second of one core; inputs are prepared in
 * each library's own shape before the clock starts.
 */
import ccxt from 'ccxt';
import { compute, computeTradeBars } from 'tardis-dev';
import { foldBatch, type Tick } from '@candlestack/shared';
import type { BenchContext, Figure } from './lib.js';

function trades(n: number): Tick[] {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const start = Date.UTC(2024, 0, 1);
  let price = 42_000;
  const out: Tick[] = [];
  for (let i = 0; i < n; i++) {
    price = Math.max(1, price * (1 + (rnd() - 0.5) / 1000));
    const p = price.toFixed(2);
    const q = (rnd() * 0.5 + 0.00001).toFixed(5);
    out.push({ pair: 'BTC_USDT', time: start + i * 37, price: p, quantity: q, amount: (Number(p) * Number(q)).toFixed(7), side: rnd() < 0.5 ? 'buy' : 'sell', id: String(1_000_000 + i) });
  }
  return out;
}

function cpuSeconds(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

async function cpuSecondsAsync(fn: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

export async function fold(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.quick ? 200_000 : 1_000_000;
  const ticks = trades(n);
  const section = 'fold, one core';
  ctx.progress(`fold: ${n.toLocaleString('en-US')} trades, 1m candles: ours, ccxt buildOHLCVC, tardis-dev computeTradeBars`);

  // Ours: batches of 500, as the tick writer sends them.
  let buckets = 0;
  const ours = cpuSeconds(() => {
    for (let i = 0; i < ticks.length; i += 500) buckets += foldBatch(ticks.slice(i, i + 500), 60_000).length;
  });

  // ccxt: its unified trade shape, doubles.
  const exchange = new ccxt.Exchange();
  const ccxtTrades = ticks.map((t) => ({ timestamp: t.time, price: Number(t.price), amount: Number(t.quantity) }));
  let ccxtBars = 0;
  const ccxtSec = cpuSeconds(() => {
    ccxtBars = exchange.buildOHLCVC(ccxtTrades as never, '1m').length;
  });

  // tardis-dev: its normalized trades, through its computables.
  const tardisTrades = ticks.map((t) => ({
    type: 'trade' as const,
    symbol: 'BTC-USDT',
    exchange: 'binance' as const,
    id: t.id,
    price: Number(t.price),
    amount: Number(t.quantity),
    side: t.side ?? 'unknown',
    timestamp: new Date(t.time),
    localTimestamp: new Date(t.time),
  }));
  let tardisBars = 0;
  const tardisSec = await cpuSecondsAsync(async () => {
    async function* messages() {
      yield* tardisTrades;
    }
    for await (const m of compute(messages(), computeTradeBars({ kind: 'time', interval: 60_000 }))) {
      if ((m as { type: string }).type === 'trade_bar') tardisBars++;
    }
  });

  return [
    {
      section,
      name: 'ours (fold.ts, exact decimals), trades per second per core',
      value: n / ours,
      unit: 'trades/s',
      ceiling: { name: 'ccxt buildOHLCVC, doubles', value: n / ccxtSec },
      note: `${buckets.toLocaleString('en-US')} partial candles (batches of 500)`,
    },
    {
      section,
      name: 'ours beside tardis-dev computeTradeBars',
      value: n / ours,
      unit: 'trades/s',
      ceiling: { name: 'tardis-dev computeTradeBars, doubles', value: n / tardisSec },
      note: `ccxt ${ccxtBars.toLocaleString('en-US')} bars, tardis ${tardisBars.toLocaleString('en-US')} bars`,
    },
  ];
}
