/**
 * A hole in the stream while connected: the exchange skipped some trades
 * without dropping the connection. The jump in trade ids triggers a REST
 * backfill at once, so the candles are complete without waiting for a drop.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closedCandles, counter, prng, startPipeline, ticksOf, tradeSpecs, view, waitFor, type Pipeline } from './support/harness.js';
import { candlesFromTicks } from '@candlestack/shared';
import { liveSource } from './support/live.js';
import { PoloniexStandIn, type WireTrade } from './support/poloniex-stand-in.js';

let standIn: PoloniexStandIn;
let p: Pipeline | undefined;
beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterAll(async () => {
  await p?.close();
  await standIn.close();
});

it('backfills a hole in the trade ids of a live connection', async () => {
  p = await startPipeline(liveSource(standIn, ['BTC_USDT']));
  await waitFor('subscribed', () => standIn.subscribed('BTC_USDT'));
  await waitFor('start-up backfill', () => p!.log.find(/nothing stored yet/).length >= 1);
  const rand = prng(9);
  const BTC = { price: 37_000, priceDecimals: 2, qtyDecimals: 6 };
  const now = Date.now();
  const all: WireTrade[] = [];
  all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 5, now - 3_000, now - 2_500, BTC)));
  await waitFor('heard', async () => (await counter(p!, 'ticks_ingested_total')) >= all.length);
  const restBefore = standIn.restRequests.length;
  // Executed but never sent on the stream; the connection stays up.
  all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 4, now - 2_500, now - 2_000, BTC), { broadcast: false }));
  all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 3, now - 2_000, now - 1_500, BTC)));
  await waitFor('every trade stored', async () => (await counter(p!, 'ticks_ingested_total')) >= all.length);
  expect(standIn.connections).toBe(1);
  expect(standIn.restRequests.length).toBeGreaterThan(restBefore);
  expect(p.log.find(/trade ids of BTC_USDT jumped/).length).toBeGreaterThanOrEqual(1);
  const expected = candlesFromTicks(ticksOf(all), 1000);
  const got = await closedCandles(p, 'BTC_USDT', 1000, expected[0]!.time, expected.at(-1)!.time);
  expect(got.map(view)).toEqual(expected.map(view));
  expect(await counter(p, 'ticks_ingested_total')).toBe(all.length);
});
