/**
 * Two ingesters with one configuration share the live pairs by lease, as
 * real processes against the Poloniex stand-in: each holds about half, no
 * pair is subscribed twice; one killed with SIGKILL, the other holds every
 * pair within 15 s and backfills what the dead one's pairs traded meanwhile.
 * The trades stored (and their candles) are exactly the trades executed:
 * none lost, none counted twice.
 */
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { CandleStore, Keys, Stats, candlesFromTicks, parsePeriods, planPeriods, toTick, type StoredCandle } from '@candlestack/shared';
import { startTestWorker } from '../../../test/support/pipeline.js';
import { AppProcess } from '../../../test/support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { sleep, waitFor } from '../../../test/support/wait.js';
import { prng, tradeSpecs } from './support/harness.js';
import { PoloniexStandIn, type WireTrade } from './support/poloniex-stand-in.js';

const PAIRS = ['AAA_USDT', 'BBB_USDT', 'CCC_USDT', 'DDD_USDT', 'EEE_USDT', 'FFF_USDT'];
const redis = new Redis(TEST_REDIS_URL);
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  redis.disconnect();
});

/** Every symbol subscribed by exactly one connection, and how many each connection holds. */
function shares(standIn: PoloniexStandIn): { twice: string[]; missing: string[]; sizes: number[] } {
  const subs = standIn.subscriptions();
  const flat = subs.flat();
  return {
    twice: PAIRS.filter((p) => flat.filter((s) => s === p).length > 1),
    missing: PAIRS.filter((p) => !flat.includes(p)),
    sizes: subs.map((s) => s.length).sort(),
  };
}

it('two ingesters share the pairs, none subscribed twice; one killed, the other takes its pairs within 15 s and loses nothing', async () => {
  const standIn = await PoloniexStandIn.start({ markets: PAIRS.map((symbol) => ({ symbol })) });
  cleanups.push(() => standIn.close());
  const prefix = testPrefix('leases');
  cleanups.push(() => deletePrefix(prefix));
  const keys = new Keys(prefix);
  const plan = planPeriods(parsePeriods('1s,5s'));
  const store = new CandleStore(redis, keys, plan);
  const stats = new Stats(redis, keys);
  const env = {
    REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300',
    SOURCE: 'poloniex', PAIRS: PAIRS.join(','), POLONIEX_WS_URL: standIn.wsUrl, POLONIEX_REST_URL: standIn.restUrl,
  };
  const worker = await startTestWorker(env);
  cleanups.push(() => worker.close());

  const a = AppProcess.start('ingest', env);
  cleanups.push(() => a.kill());
  await a.waitForLog((l) => /^following 6 pair/.test(String(l.msg)), 'the first ingester to start');
  await waitFor(() => shares(standIn).sizes.join() === '6', 'the first ingester, alone, to hold every pair');

  // From now on, trades on every pair, heard by whoever is subscribed (nobody, for a dead ingester's pairs).
  const rand = prng(21);
  const made: WireTrade[] = [];
  let trading = true;
  const market = (async () => {
    while (trading) {
      const now = Date.now();
      for (const p of PAIRS) made.push(...standIn.execute(p, tradeSpecs(rand, 2, now - 20, now, { price: 100, priceDecimals: 2, qtyDecimals: 3 })));
      await sleep(100);
    }
  })();
  cleanups.push(async () => {
    trading = false;
    await market;
  });

  await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= 6 * 4, 'the first trades stored');
  const b = AppProcess.start('ingest', env);
  cleanups.push(() => b.kill());
  await b.waitForLog((l) => /^following 6 pair/.test(String(l.msg)), 'the second ingester to start');

  // Steady state: two connections, three pairs each, every pair once.
  await waitFor(() => {
    const s = shares(standIn);
    return s.twice.length === 0 && s.missing.length === 0 && s.sizes.join() === '3,3';
  }, 'each ingester to hold half of the pairs');
  for (let i = 0; i < 20; i++) {
    const s = shares(standIn);
    expect(s.twice, 'pairs subscribed twice').toEqual([]);
    expect(s.missing, 'pairs subscribed by nobody').toEqual([]);
    await sleep(100);
  }

  await a.kill('SIGKILL');
  // The contract: a dead ingester's pairs are taken over within 15 s.
  await waitFor(() => {
    const s = shares(standIn);
    return s.sizes.join() === '6' && s.missing.length === 0;
  }, 'the survivor to hold every pair', 15_000);
  expect(b.running).toBe(true);
  await sleep(1_000);
  trading = false;
  await market;

  await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= made.length, 'every trade stored', 15_000);
  const last = Math.max(...made.map((t) => t.createTime));
  for (const p of PAIRS) {
    await waitFor(async () => Number(await redis.hget(keys.state(p), 'c:5000')) >= Math.floor(last / 5000) * 5000, `the last 5s candle of ${p} to close`, 15_000);
  }
  expect((await stats.read()).ticks_ingested_total).toBe(made.length);
  const strip = ({ ot: _a, oi: _b, ct: _c, ci: _d, ...c }: StoredCandle) => c;
  for (const p of PAIRS) {
    const ticks = made.filter((t) => t.symbol === p).map((t) => toTick({ pair: t.symbol, time: t.createTime, price: t.price, quantity: t.quantity, amount: t.amount, side: t.takerSide, id: t.id }));
    for (const { ms } of plan.chain) {
      const expected = candlesFromTicks(ticks, ms).map(strip);
      const got = (await store.closedCandles(p, ms, { from: expected[0]!.time, to: expected.at(-1)!.time + 1, limit: 10_000 })).map(strip);
      expect(got, `${p} ${ms}`).toEqual(expected);
    }
  }
  // Every change of owner is logged.
  expect(b.logs().some((l) => /^took the lease of/.test(String(l.msg)))).toBe(true);
  expect(b.logs().some((l) => /^backfilled \d+ trade\(s\) of/.test(String(l.msg)))).toBe(true);
  await b.stop();
  expect(b.exitCode).toBe(0);
  // A clean stop gives every lease up and leaves the live members.
  for (const p of PAIRS) expect(await redis.get(keys.lease(p))).toBe(null);
  expect(await redis.zcard(keys.ingesters())).toBe(0);
}, 40_000);
