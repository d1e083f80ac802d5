/**
 * A pair lease lost stops the pair's subscription at once: taken by another
 * ingester (its key now holds another id), or not renewed in time (this
 * process stalled past the lease). When the lease is free again the
 * ingester takes it back, subscribes and backfills what was traded
 * meanwhile: nothing lost, nothing counted twice.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { counter, prng, sleep, startPipeline, tradeSpecs, waitFor, type Pipeline } from './support/harness.js';
import { liveSource } from './support/live.js';
import { PoloniexStandIn, type WireTrade } from './support/poloniex-stand-in.js';

let standIn: PoloniexStandIn;
const pipelines: Pipeline[] = [];
const MARKET = { price: 37_000, priceDecimals: 2, qtyDecimals: 6 };
const FAST_LEASES = { leaseMs: 600, tickMs: 150 };

beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close();
});
afterAll(async () => {
  await standIn.close();
});

const unsubscribed = (pair: string) => standIn.received.some((r) => r.text === `{"event":"unsubscribe","channel":["trades"],"symbols":["${pair}"]}`);

it('a lease another ingester holds now: unsubscribed; free again: taken back, and the gap backfilled', async () => {
  const p = await startPipeline(liveSource(standIn, ['BTC_USDT', 'ETH_USDT']), { worker: false, leaseTiming: FAST_LEASES });
  pipelines.push(p);
  await waitFor('subscribed', () => standIn.subscribed('BTC_USDT') && standIn.subscribed('ETH_USDT'));
  await waitFor('start-up backfill', () => p.log.find(/nothing stored yet/).length >= 2);
  const rand = prng(4);
  const now = Date.now();
  const made: WireTrade[] = standIn.execute('BTC_USDT', tradeSpecs(rand, 5, now - 3_000, now - 2_500, MARKET));
  await waitFor('heard', async () => (await counter(p, 'ticks_ingested_total')) >= made.length);

  await p.redis.set(p.keys.lease('BTC_USDT'), 'another-ingester', 'PX', 60_000);
  await waitFor('BTC_USDT unsubscribed', () => unsubscribed('BTC_USDT') && !standIn.subscribed('BTC_USDT'));
  expect(standIn.subscribed('ETH_USDT')).toBe(true);
  expect(p.log.find(/^lease of BTC_USDT lost/)).toHaveLength(1);
  // Traded while nobody here follows BTC_USDT.
  made.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 4, now - 2_500, now - 2_000, MARKET)));
  await sleep(300);
  expect(await counter(p, 'ticks_ingested_total')).toBe(5);

  await p.redis.del(p.keys.lease('BTC_USDT'));
  await waitFor('BTC_USDT taken back', () => standIn.subscribed('BTC_USDT'));
  made.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 3, now - 2_000, now - 1_500, MARKET)));
  await waitFor('every trade stored', async () => (await counter(p, 'ticks_ingested_total')) >= made.length);
  expect(await counter(p, 'ticks_ingested_total')).toBe(made.length);
  const stored = (await p.store.reads.trades('BTC_USDT', { limit: 100 })).map((t) => t.id);
  expect(stored).toEqual(made.map((t) => t.id));
});

it('a process stalled past its lease drops the subscription, then takes the lease again', async () => {
  const p = await startPipeline(liveSource(standIn, ['SOL_USDT']), { worker: false, leaseTiming: FAST_LEASES });
  pipelines.push(p);
  await waitFor('subscribed', () => standIn.subscribed('SOL_USDT'));
  // The event loop blocked for twice the lease (a long GC pause, a stopped VM).
  const until = Date.now() + 2 * FAST_LEASES.leaseMs;
  while (Date.now() < until) {
    /* stalled */
  }
  await waitFor('SOL_USDT unsubscribed', () => unsubscribed('SOL_USDT'));
  expect(p.log.find(/^lease of SOL_USDT (not renewed in time|lost)/).length).toBeGreaterThanOrEqual(1);
  await waitFor('SOL_USDT subscribed again', () => standIn.subscribed('SOL_USDT') && p.log.find(/^took the lease of SOL_USDT/).length > 0);
});

it('a clean stop hands the pairs over at once, leaving the status to the ingester that goes on', async () => {
  const pairs = ['BTC_USDT', 'ETH_USDT'];
  const first = await startPipeline(liveSource(standIn, pairs), { worker: false, leaseTiming: FAST_LEASES });
  pipelines.push(first);
  await waitFor('the first to hold both', () => standIn.subscriptions().some((s) => s.length === 2));
  const second = await startPipeline(liveSource(standIn, pairs), { worker: false, leaseTiming: FAST_LEASES, prefix: first.prefix });
  pipelines.unshift(second);
  await waitFor('one pair each', () => standIn.subscriptions().map((s) => s.length).join() === '1,1');
  const rand = prng(8);
  const now = Date.now();
  const made: WireTrade[] = [];
  for (const p of pairs) made.push(...standIn.execute(p, tradeSpecs(rand, 3, now - 1_000, now - 900, MARKET)));
  await waitFor('heard', async () => (await counter(first, 'ticks_ingested_total')) >= made.length);

  // Traded on the second's pair, unheard (as around a handover): the first's backfill must bring them.
  const [handed] = second.log.find(/^took the lease of/).map((e) => (e.pairs as string[])[0]!);
  made.push(...standIn.execute(handed!, tradeSpecs(rand, 2, now - 900, now - 800, MARKET), { broadcast: false }));
  await second.ingester.close();
  expect(second.log.find(/^gave up the lease of 1 pair\(s\) \(stopping\)/)).toHaveLength(1);
  expect((await first.stats.readSourceStatus())?.state).toBe('connected');
  await waitFor('the first to hold both again', () => standIn.subscriptions().map((s) => s.length).join() === '2');
  await waitFor('every trade stored', async () => (await counter(first, 'ticks_ingested_total')) >= made.length);
  expect(await counter(first, 'ticks_ingested_total')).toBe(made.length);
});
