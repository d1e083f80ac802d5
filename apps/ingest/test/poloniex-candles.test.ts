/**
 * Live source against the stand-in: trades in, candles out, through the real
 * ingester and the real worker, equal to the reference fold of the trades
 * the test executed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { candlesFromTicks, canonical, decimal } from '@candlestack/shared';
import { closedCandles, counter, prng, startPipeline, ticksOf, tradeSpecs, view, waitFor, sleep, type Pipeline } from './support/harness.js';
import { liveSource } from './support/live.js';
import { PoloniexStandIn, type WireTrade } from './support/poloniex-stand-in.js';

let standIn: PoloniexStandIn;
const pipelines: Pipeline[] = [];

beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterEach(async () => {
  await Promise.all(pipelines.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  await standIn.close();
});

/** Executes specs in messages of 1 to 5 trades each (Poloniex batches trades in `data`). */
function executeInMessages(symbol: string, specs: ReturnType<typeof tradeSpecs>, rand: () => number): WireTrade[] {
  const out: WireTrade[] = [];
  for (let i = 0; i < specs.length; ) {
    const n = 1 + Math.floor(rand() * 5);
    out.push(...standIn.execute(symbol, specs.slice(i, i + n)));
    i += n;
  }
  return out;
}

describe('Poloniex live source', () => {
  it('subscribes with the exact request and builds 1s and 5s candles of two pairs equal to the reference', async () => {
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT', 'ETH_USDT']));
    pipelines.push(p);
    await waitFor('both pairs subscribed', () => standIn.subscribed('BTC_USDT') && standIn.subscribed('ETH_USDT'));
    const sent = standIn.received.map((r) => r.text).filter((t) => t.includes('subscribe'));
    expect(sent.at(-1)).toBe('{"event":"subscribe","channel":["trades"],"symbols":["BTC_USDT","ETH_USDT"]}');
    expect((await p.stats.readSourceStatus())?.state).toBe('connected');
    expect(p.ingester.pairs).toEqual(['BTC_USDT', 'ETH_USDT']);

    // Trades of the last 11 s (several 5 s buckets), several per message.
    const rand = prng(7);
    const now = Date.now();
    const btc = executeInMessages('BTC_USDT', tradeSpecs(rand, 60, now - 11_000, now, { price: 37_000, priceDecimals: 2, qtyDecimals: 6 }), rand);
    const eth = executeInMessages('ETH_USDT', tradeSpecs(rand, 35, now - 9_000, now, { price: 2_000, priceDecimals: 2, qtyDecimals: 4 }), rand);

    for (const [pair, trades] of [['BTC_USDT', btc], ['ETH_USDT', eth]] as const) {
      const ticks = ticksOf(trades);
      for (const ms of [1_000, 5_000]) {
        const expected = candlesFromTicks(ticks, ms);
        const got = await closedCandles(p, pair, ms, expected[0]!.time, expected.at(-1)!.time);
        expect(got.map(view), `${pair} ${ms} ms`).toEqual(expected.map(view));
      }
    }
    expect(await counter(p, 'ticks_ingested_total')).toBe(btc.length + eth.length);
    expect(await counter(p, 'ticks_malformed_total')).toBe(0);
    // `quantity` is the base volume, `amount` the quote volume (not the other way round).
    const [first] = await p.store.closedCandles('BTC_USDT', 1_000, { from: 0, limit: 1 });
    const inFirst = btc.filter((t) => Math.floor(t.createTime / 1000) * 1000 === first!.time);
    expect(first!.volume).toBe(canonical(decimal.sum(inFirst.map((t) => t.quantity))));
    expect(first!.quoteVolume).toBe(canonical(decimal.sum(inFirst.map((t) => t.amount))));
    expect(Number(first!.quoteVolume)).toBeGreaterThan(Number(first!.volume) * 30_000);
  });

  it('gives a pair that goes quiet flat candles at its last price, on the wall clock', async () => {
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT', 'ETH_USDT']));
    pipelines.push(p);
    await waitFor('subscribed', () => standIn.subscribed('ETH_USDT'));
    const [last] = standIn.execute('ETH_USDT', [{ price: '2001.37', quantity: '0.5', side: 'sell' }]);
    const rand = prng(11);
    // BTC keeps trading meanwhile: the quiet pair's flat candles must not depend on it.
    for (let i = 0; i < 10; i++) {
      standIn.execute('BTC_USDT', tradeSpecs(rand, 2, Date.now(), Date.now(), { price: 37_000, priceDecimals: 2, qtyDecimals: 6 }));
      await sleep(250);
    }
    const bucket = Math.floor(last!.createTime / 1000) * 1000;
    const got = await closedCandles(p, 'ETH_USDT', 1_000, bucket, bucket + 3_000);
    expect(got.length).toBe(4);
    expect(view(got[0]!)).toMatchObject({ open: '2001.37', close: '2001.37', volume: '0.5', quoteVolume: '1000.685', trades: 1 });
    for (const c of got.slice(1)) {
      expect(view(c)).toEqual({ time: c.time, open: '2001.37', high: '2001.37', low: '2001.37', close: '2001.37', volume: '0', quoteVolume: '0', trades: 0 });
    }
    expect(got.map((c) => c.time)).toEqual([bucket, bucket + 1000, bucket + 2000, bucket + 3000]);
  });
});
