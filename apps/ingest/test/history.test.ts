/**
 * History on a pair's first start (docs/history.md), against the Poloniex
 * stand-in, which serves `/markets/{symbol}/candles` computed from the trades
 * it executed, in the recorded format. The trades executed before the
 * ingester starts are the exchange's past; the importer must turn its
 * candles into ours, the boundary bucket must come out exact from REST
 * trades, and the whole series must equal what the trades give.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Keys, candlesFromTicks, parseCandles, type Candle } from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { counter, prng, sleep, startPipeline, ticksOf, tradeSpecs, view, waitFor, type Pipeline } from './support/harness.js';
import { FAST, liveSource } from './support/live.js';
import { PoloniexStandIn, type WireTrade } from './support/poloniex-stand-in.js';
import { PoloniexSource, type PoloniexOptions } from '../src/sources/poloniex.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const ENV = { PERIODS: '1s,1m,5m,1h', GRACE_MS: '200' };
const BTC = { price: 37_000, priceDecimals: 2, qtyDecimals: 6 };

let standIn: PoloniexStandIn;
const open: Pipeline[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
});
afterAll(async () => {
  await standIn.close();
});

function source(extra: Partial<PoloniexOptions> = {}) {
  return liveSource(standIn, ['BTC_USDT'], { historyMs: 2 * HOUR, history: { ratePerSecond: 20, settleMs: 1_000, progressMs: 0 }, ...extra });
}

async function pipeline(prefix: string, extra: Partial<PoloniexOptions> = {}): Promise<Pipeline> {
  const p = await startPipeline(source(extra), { env: ENV, prefix });
  open.push(p);
  return p;
}

/**
 * At least 3 s into a minute and not past its 40th second: the import (which
 * ends at the last minute that ended a second ago) then ends with the minute
 * before this one, and the boundary is this minute, whatever the test's pace.
 */
async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % MIN;
  if (into < 3_000) await sleep(3_000 - into);
  else if (into > 40_000) await sleep(MIN - into + 3_000);
}

/** The exchange's past: `count` trades over the last 150 minutes, and 10 more in this minute so far (the boundary's). */
async function executePast(symbol: string, count: number, seed: number, { edge = true } = {}): Promise<WireTrade[]> {
  // Where the boundary falls matters only to a test about it.
  if (edge) await awayFromMinuteEdge();
  const now = Date.now();
  const minute = Math.floor(now / MIN) * MIN;
  const rand = prng(seed);
  return [
    ...standIn.execute(symbol, tradeSpecs(rand, count, now - 150 * MIN, minute - 1_000, BTC), { broadcast: false }),
    ...standIn.execute(symbol, tradeSpecs(rand, 10, minute, Math.max(minute, now - 500), BTC), { broadcast: false }),
  ];
}

/** Every candle of `ms` from `from`, closed and forming, as the API reads them. */
async function series(p: Pipeline, ms: number, from: number): Promise<Candle[]> {
  return parseCandles(await p.store.read('BTC_USDT', ms, { what: 'both', now: Date.now(), from, limit: 10_000 }));
}

/** Waits until our `ms` candles from `from` are exactly what every executed trade gives. */
async function expectExact(p: Pipeline, ms: number, from: number): Promise<Candle[]> {
  // The first candle is the first bucket from `from` with a trade: no price is known before it.
  const expected = candlesFromTicks(ticksOf(standIn.trades('BTC_USDT')).filter((t) => t.time >= from), ms, Math.floor(Date.now() / ms) * ms);
  let got: Candle[] = [];
  try {
    await waitFor(`${ms} ms candles equal to the trades'`, async () => {
      got = await series(p, ms, from);
      return JSON.stringify(got.map(view)) === JSON.stringify(expected.map(view));
    });
  } catch (err) {
    expect(got.map(view)).toEqual(expected.map(view));
    throw err;
  }
  return got;
}

async function historyFields(p: Pipeline): Promise<Record<string, string>> {
  const [hs, hp, hm, hb, hx] = await p.redis.hmget(new Keys(p.prefix).state('BTC_USDT'), 'hs', 'hp', 'hm', 'hb', 'hx');
  return Object.fromEntries(Object.entries({ hs, hp, hm, hb, hx }).filter(([, v]) => v !== null)) as Record<string, string>;
}

it('imports history on a first start, joins live trades, and the boundary bucket is exact; a restart imports nothing', async () => {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  const past = await executePast('BTC_USDT', 600, 1);
  const startedAt = Date.now();
  const p = await pipeline(prefix);

  await waitFor('history imported and the pair subscribed', () => standIn.subscribed('BTC_USDT'), 20_000);
  const h = await waitFor('the boundary judged', async () => ((await historyFields(p)).hx !== undefined ? historyFields(p) : undefined));
  const start = Math.floor((startedAt - 2 * HOUR) / HOUR) * HOUR;
  expect(Number(h.hs)).toBe(start);
  expect(Number(h.hm)).toBe(MIN);
  expect(h.hp).toBeUndefined();
  expect(h.hx).toBe('1');
  const boundary = Number(h.hb);
  expect(boundary % MIN).toBe(0);
  expect(boundary).toBeLessThanOrEqual(startedAt);
  expect(p.log.find(/is exact: \d+ trade\(s\) from REST complete it/).length).toBe(1);
  // The boundary bucket holds trades from before the subscription: they came from REST.
  expect(past.some((t) => t.createTime >= boundary)).toBe(true);

  // Live trades after the subscription.
  const now = Date.now();
  const live = standIn.execute('BTC_USDT', tradeSpecs(prng(2), 20, now, now + 300, BTC));
  await waitFor('every trade after the boundary stored', async () => (await counter(p, 'ticks_ingested_total')) === [...past, ...live].filter((t) => t.createTime >= boundary).length);

  // The whole series, imported and live, is what the trades give.
  const minutes = await expectExact(p, MIN, start);
  const hours = await expectExact(p, HOUR, start);
  await expectExact(p, 5 * MIN, start);
  for (const c of minutes) {
    if (c.trades === 0) expect(c.origin).toBeUndefined();
    else expect(c.origin).toBe(c.time < boundary ? 'exchange' : undefined);
  }
  // An hour before the boundary's is the exchange's alone; the boundary's holds both (the live trades are in it).
  for (const c of hours.filter((c) => c.trades > 0)) {
    if (c.time + HOUR <= boundary) expect(c.origin).toBe('exchange');
    else expect(c.origin).toBe(past.some((t) => t.createTime >= c.time && t.createTime < boundary) ? 'mixed' : undefined);
  }
  // The importer asked for candles; the trades of history never went through the writer.
  const candleRequests = standIn.candleRequests.filter((r) => r.symbol === 'BTC_USDT').length;
  expect(candleRequests).toBeGreaterThanOrEqual(1);
  expect(p.log.find(/history of BTC_USDT imported; live data begins/).length).toBe(1);
  await p.close();
  open.splice(open.indexOf(p), 1);

  // A restart: the candles are stored, nothing is imported again.
  const requestsBefore = standIn.candleRequests.length;
  const again = await pipeline(prefix);
  await waitFor('subscribed again', () => standIn.subscribed('BTC_USDT'));
  await waitFor('the restart backfill ran', () => again.log.find(/backfill of BTC_USDT|backfilled \d+ trade/).length > 0);
  expect(standIn.candleRequests.length).toBe(requestsBefore);
  expect(again.log.find(/importing .*history|resuming the history import/).length).toBe(0);
  await expectExact(again, MIN, start);
});

it('an import interrupted half way resumes where it got to', async () => {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  await executePast('ETH_USDT', 400, 3, { edge: false });
  const eth = (extra: Partial<PoloniexOptions>) =>
    startPipeline(liveSource(standIn, ['ETH_USDT'], { historyMs: 2 * HOUR, history: { batch: 20, ratePerSecond: 3, settleMs: 1_000, progressMs: 0 }, ...extra }), { env: ENV, prefix });
  const redis = new Redis(TEST_REDIS_URL);
  const first = await eth({});
  open.push(first);
  const state = new Keys(prefix).state('ETH_USDT');
  const hs = Number(await waitFor('the import begun', () => redis.hget(state, 'hs')));
  // Stop it after a few requests: the ingester goes away mid-import.
  await waitFor('a few batches stored', async () => Number(await redis.hget(state, 'hp')) >= hs + 3 * 20 * MIN);
  await first.close();
  open.splice(open.indexOf(first), 1);
  const stoppedAt = Number(await redis.hget(state, 'hp'));
  expect(await redis.hget(state, 'hb')).toBeNull();
  redis.disconnect();
  expect(stoppedAt).toBeGreaterThan(hs);
  expect(first.log.find(/history of ETH_USDT imported/).length).toBe(0);

  const before = standIn.candleRequests.length;
  const second = await eth({ history: { batch: 20, ratePerSecond: 20, settleMs: 1_000, progressMs: 0 } });
  open.push(second);
  await waitFor('imported and subscribed', () => standIn.subscribed('ETH_USDT'), 20_000);
  expect(second.log.find(/resuming the history import of ETH_USDT/).length).toBe(1);
  // The second ingester asked from where the first got to, never from the start again.
  const asked = standIn.candleRequests.slice(before).filter((r) => r.symbol === 'ETH_USDT');
  expect(asked[0]!.startTime).toBe(stoppedAt);
  expect(Math.min(...asked.map((r) => r.startTime))).toBe(stoppedAt);
  await waitFor('boundary judged', async () => (await second.redis.hget(state, 'hx')) === '1');
  const eSeries = async () => parseCandles(await second.store.read('ETH_USDT', MIN, { what: 'both', now: Date.now(), from: hs, limit: 10_000 }));
  const expected = candlesFromTicks(ticksOf(standIn.trades('ETH_USDT')).filter((t) => t.time >= hs), MIN, Math.floor(Date.now() / MIN) * MIN);
  await waitFor('ETH candles equal to the trades', async () => JSON.stringify((await eSeries()).map(view)) === JSON.stringify(expected.map(view)));
});

it('waits out 429 answers: paced, with the Retry-After honoured, and nothing lost', async () => {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  await executePast('SOL_USDT', 300, 4, { edge: false });
  standIn.failCandles('http-429-retry-after-1', 'http-429');
  const before = standIn.candleRequests.length;
  const p = await startPipeline(
    liveSource(standIn, ['SOL_USDT'], { historyMs: 2 * HOUR, history: { batch: 40, ratePerSecond: 5, settleMs: 1_000, progressMs: 0, backoff: { initialMs: 300, maxMs: 1_000 } } }),
    { env: ENV, prefix },
  );
  open.push(p);
  await waitFor('imported and subscribed', () => standIn.subscribed('SOL_USDT'), 30_000);
  const asked = standIn.candleRequests.slice(before).filter((r) => r.symbol === 'SOL_USDT');
  expect(asked.slice(0, 2).map((r) => r.status)).toEqual([429, 429]);
  // The times are when the stand-in saw each request: its event loop, shared
  // with the test, may see one a few ms late, which shortens the next gap.
  const slack = 50;
  // Retry-After: 1 is honoured; the second 429 gives none, and the backoff (at least half its 600 ms second step) holds.
  expect(asked[1]!.at - asked[0]!.at).toBeGreaterThanOrEqual(1_000 - slack);
  expect(asked[2]!.at - asked[1]!.at).toBeGreaterThanOrEqual(300 - slack);
  // Paced: at most 5 a second, 200 ms apart; the late sighting of one does not add up over the run.
  for (let i = 3; i < asked.length; i++) {
    expect(asked[i]!.at - asked[i - 1]!.at).toBeGreaterThanOrEqual(200 - slack);
    expect(asked[i]!.at - asked[2]!.at).toBeGreaterThanOrEqual((i - 2) * 200 - slack);
  }
  expect(asked.length).toBeGreaterThanOrEqual(5);
  expect(p.log.find(/rate-limits the history import \(429\)/).length).toBe(2);
  // The same request was asked again: every bucket imported once, from the first.
  expect(asked[2]!.startTime).toBe(asked[0]!.startTime);
  const hs = Number(await p.redis.hget(new Keys(prefix).state('SOL_USDT'), 'hs'));
  const expected = candlesFromTicks(ticksOf(standIn.trades('SOL_USDT')).filter((t) => t.time >= hs), MIN, Math.floor(Date.now() / MIN) * MIN);
  await waitFor('SOL candles equal to the trades', async () => {
    const got = parseCandles(await p.store.read('SOL_USDT', MIN, { what: 'both', now: Date.now(), from: hs, limit: 10_000 }));
    return JSON.stringify(got.map(view)) === JSON.stringify(expected.map(view));
  });
});

it('marks and says a boundary bucket it cannot complete from the trades the exchange still lists', async () => {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  const market = 'XRP_USDT';
  const s = await PoloniexStandIn.start({ markets: [{ symbol: market, state: 'NORMAL' }] });
  try {
    await awayFromMinuteEdge();
    const now = Date.now();
    const minute = Math.floor(now / MIN) * MIN;
    // A busy boundary: more trades since this minute began than the backfill may list (backfillLimit 30).
    s.execute(market, tradeSpecs(prng(5), 100, now - 90 * MIN, minute - 1_000, BTC), { broadcast: false });
    s.execute(market, tradeSpecs(prng(6), 80, minute, now - 500, BTC), { broadcast: false });
    const p = await startPipeline(
      new PoloniexSource({
        wsUrl: s.wsUrl,
        restUrl: s.restUrl,
        pairs: [market],
        ...FAST,
        backfillLimit: 30,
        historyMs: 2 * HOUR,
        history: { ratePerSecond: 20, settleMs: 1_000, progressMs: 0 },
      }),
      { env: ENV, prefix },
    );
    open.push(p);
    const state = new Keys(prefix).state(market);
    await waitFor('the boundary judged', async () => (await p.redis.hget(state, 'hx')) !== null, 20_000);
    expect(await p.redis.hget(state, 'hx')).toBe('0');
    const said = p.log.find(/where imported history meets live trades, is incomplete/);
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe('warn');
    expect(said[0]!.msg).toMatch(/lists only its latest 30 trades/);
  } finally {
    await s.close();
  }
});

it('an answer that is not the candle list is counted and set aside, then asked again; the import completes', async () => {
  const prefix = testPrefix('history');
  prefixes.push(prefix);
  const market = 'ADA_USDT';
  const s = await PoloniexStandIn.start({ markets: [{ symbol: market, state: 'NORMAL' }] });
  try {
    const now = Date.now();
    s.execute(market, tradeSpecs(prng(7), 100, now - 90 * MIN, now - 2_000, BTC), { broadcast: false });
    s.failCandles('not-a-list');
    const p = await startPipeline(
      new PoloniexSource({ wsUrl: s.wsUrl, restUrl: s.restUrl, pairs: [market], ...FAST, historyMs: 2 * HOUR, history: { ratePerSecond: 20, settleMs: 1_000, progressMs: 0, backoff: { initialMs: 50, maxMs: 100 } } }),
      { env: ENV, prefix },
    );
    open.push(p);
    await waitFor('imported and subscribed', () => s.subscribed(market), 20_000);
    expect(s.candleRequests.length).toBeGreaterThanOrEqual(2);
    expect(await counter(p, 'ticks_malformed_total')).toBe(1);
    const dead = (await p.redis.xrange(new Keys(prefix).deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]!);
    expect(dead).toEqual([expect.stringMatching(/^Poloniex candles of ADA_USDT: candles answer is not a list/)]);
    expect(p.log.find(/history of ADA_USDT imported/)).toHaveLength(1);
  } finally {
    await s.close();
  }
});
